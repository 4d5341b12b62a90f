"""``predict`` end to end as a user runs it, against the floor of decoding the image plus one backbone pass.

One process, one model fitted on the development set's normals. Every development image is predicted in
one batch, as a user runs it (``predict DIR``: work a batch pays once, such as learning a camera's digits,
is paid once, and the next image is analysed while one is scored), with pictures and again with
``--no-pictures``, with the CLI's default (a worker process per core for a batch this long) and in one
process (``--workers 1``). Each image's time in the batch runs from the image before it to it (the worker
processes' start-up falls on the first image); their median is the "median per image in one batch", the
mean (total over count, start-up included) is printed beside it. Then one ``predict`` call per image (no
overlap): its median. The floor is decoding the image plus one backbone
pass, timed image by image in the same process; ratios are to its median.

Usage: python benchmarks/predict_speed.py [--data DIR] [--every N] [--rounds R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, decode_and_backbone


def _forget_fonts() -> None:
    """Empty the learned-digits cache so a pass does not profit from the one before."""
    from thermal_anomaly.thermal import glyphs

    glyphs.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--every", type=int, default=1, help="every N-th image (1: all)")
    ap.add_argument("--rounds", type=int, default=1, help="passes over the images (medians over all)")
    args = ap.parse_args()
    _setup_threads()

    from thermal_anomaly import create_detector
    from thermal_anomaly.backbones import FeatureExtractor
    from thermal_anomaly.data import ThermalDataset
    from thermal_anomaly.pipeline import Inspector

    ds = ThermalDataset(args.data, mode="test")
    normals = [i for i, r in enumerate(ds.records) if r.label == 0]
    train = ThermalDataset(args.data, mode="train")
    det = create_detector("patchcore").fit(train.images(), groups=train.image_groups(), progress=False)
    inspector = Inspector(det)
    files = [r.path for r in ds.records][:: args.every]
    size = det.img_size
    backbone = FeatureExtractor("efficientnet-lite0")
    print(f"{len(files)} images ({len(normals)} normals in the data set), {args.rounds} round(s)")
    floor = []
    for f in files:  # the reference, image by image, in this process
        t0 = time.perf_counter()
        decode_and_backbone(f, size, backbone)
        floor.append(time.perf_counter() - t0)
    floor_ms = 1000 * float(np.median(floor))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, pictures in (("pictures", True), ("no pictures", False)):
            # as a user runs it (the CLI's default: a process per core for a batch this long), then in one
            # process (the next image analysed in a thread while this one is scored)
            for workers, label in ((None, "default"), (1, "--workers 1")):
                batch, steps = [], []
                for r in range(args.rounds):
                    _forget_fonts()  # each run is a new batch: it learns its cameras' digits anew
                    done = [time.perf_counter()]
                    inspector.predict(
                        files,
                        Path(tmp) / f"{key}-{r}",
                        pictures=pictures,
                        progress=False,
                        workers=workers,
                        on_result=lambda _res, done=done: done.append(time.perf_counter()),
                    )
                    batch.append((done[-1] - done[0]) / len(files))
                    steps.extend(np.diff(done))  # each image's time in the batch: from the one before to it
                rows.append(
                    (f"{key}, {label}", 1000 * float(np.median(steps)), 1000 * float(np.median(batch)))
                )
            # one image at a time (no overlap), for the per-image median
            _forget_fonts()
            single = []
            for f in files:
                t0 = time.perf_counter()
                inspector.predict([f], Path(tmp) / key, pictures=pictures, progress=False)
                single.append(time.perf_counter() - t0)
            one = 1000 * float(np.median(single))
            rows.append((f"{key}, one call per image", one, one))
    print(f"decode + one backbone pass: median {floor_ms:.0f} ms per image")
    print("| predict | median ms per image | x floor | mean ms per image | x floor |")
    print("|---|---|---|---|---|")
    for key, step, mean in rows:
        print(f"| {key} | {step:.0f} | {step / floor_ms:.1f} | {mean:.0f} | {mean / floor_ms:.1f} |")


if __name__ == "__main__":
    main()
