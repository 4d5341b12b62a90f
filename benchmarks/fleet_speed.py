"""A long batch as a fleet runs it: one process, worker processes, Ray, and a resumed rerun, against the floor.

The development images are repeated into one batch of ``--n`` images (default 500; outputs get ``-2``,
``-3``, ... names, so every image is predicted anew), predicted without pictures (the issue's throughput
target) by one model fitted on the development normals:

- ``sequential``: ``predict --workers 1`` (one process; the next image is analysed in a thread meanwhile),
- ``--workers N``: a worker process per core (the CLI's default for a batch this long),
- ``--engine ray``: Ray tasks on a local Ray started with one CPU per core (its start-up is timed apart:
  a fleet's cluster is up already),
- ``--resume``: the same batch again over the worker processes' outputs (every image complete: skipped).

Per image: the median of each image's time in its batch (from the result before it; the start-up of
processes falls on the first image) and the mean (the batch's wall time over its images, start-up
included). The floor is decoding the image plus one backbone pass, image by image in this process (the same
images); ratios are to its median. Timings move with the machine's load: run it on a quiet machine.

Each mode runs ``--rounds`` times, the modes (and the floor) interleaved round by round, so a change in
the load of a shared machine falls on all of them; figures are medians over the rounds.

Usage: python benchmarks/fleet_speed.py [--data DIR] [--n 500] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, decode_and_backbone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=500, help="images in the batch (development images repeated)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each mode, interleaved (medians over all)")
    args = ap.parse_args()
    _setup_threads()

    import ray

    from thermal_anomaly import create_detector
    from thermal_anomaly.backbones import FeatureExtractor
    from thermal_anomaly.data import ThermalDataset
    from thermal_anomaly.pipeline import Inspector
    from thermal_anomaly.thermal import glyphs

    ds = ThermalDataset(args.data, mode="test")
    train = ThermalDataset(args.data, mode="train")
    det = create_detector("patchcore").fit(train.images(), groups=train.image_groups(), progress=False)
    inspector = Inspector(det)
    dev = [r.path for r in ds.records]
    files = (dev * (args.n // len(dev) + 1))[: args.n]
    cores = len(os.sched_getaffinity(0))
    print(
        f"{len(files)} images ({len(dev)} development images repeated), no pictures, {cores} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    backbone = FeatureExtractor("efficientnet-lite0")
    modes = [
        ("sequential (`--workers 1`)", "seq", {"workers": 1}),
        (f"`--workers {cores}`", "workers", {"workers": cores}),
        ("`--engine ray`", "ray", {"engine": "ray"}),
    ]
    steps: dict[str, list[float]] = {label: [] for label, _, _ in modes}
    means: dict[str, list[float]] = {label: [] for label, _, _ in modes}
    floor: list[float] = []
    t0 = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray_start = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:

        def batch(label: str, out: str, **kw) -> float:
            glyphs.clear()  # each run is a new batch: it learns its cameras' digits anew
            done = [time.perf_counter()]
            inspector.predict(
                files,
                Path(tmp) / out,
                pictures=False,
                progress=False,
                on_result=lambda _r: done.append(time.perf_counter()),
                **kw,
            )
            wall = time.perf_counter() - done[0]
            if label in steps:
                steps[label].extend(np.diff(done))
                means[label].append(wall / len(files))
            print(f"  {label}: {wall:.1f} s (load average {os.getloadavg()[0]:.1f} at the end)", flush=True)
            return wall

        try:
            # rounds interleave the modes (and the floor), so a change in the machine's load falls on all
            for _ in range(args.rounds):
                for f in dev:
                    t1 = time.perf_counter()
                    decode_and_backbone(f, det.img_size, backbone)
                    floor.append(time.perf_counter() - t1)
                for label, out, kw in modes:
                    batch(label, out, **kw)
            # the same batch again over the worker processes' outputs: every image complete
            resumed = batch("`--resume` (all complete)", "workers", workers=cores, resume=True)
        finally:
            ray.shutdown()
    floor_ms = 1000 * float(np.median(floor))
    seq_mean = 1000 * float(np.median(means[modes[0][0]]))
    print(
        f"decode + one backbone pass (floor): median {floor_ms:.1f} ms per image; Ray start {ray_start:.1f} s; "
        f"rerun with --resume: {1000 * resumed / len(files):.2f} ms per image"
    )
    print(
        "| predict, no pictures | median ms per image | x floor | mean ms per image | x floor | x sequential |"
    )
    print("|---|---|---|---|---|---|")
    for label, _, _ in modes:
        med, mean = 1000 * float(np.median(steps[label])), 1000 * float(np.median(means[label]))
        print(
            f"| {label} | {med:.1f} | {med / floor_ms:.2f} | {mean:.1f} | {mean / floor_ms:.2f} "
            f"| {seq_mean / mean:.2f} |"
        )


if __name__ == "__main__":
    main()
