"""``predict`` end to end as a user runs it, against the floor of decoding the image plus one backbone pass.

One process, one model fitted on the development set's normals, every development image predicted in
order (one batch from each camera, so work a batch pays once, such as learning a camera's digits, is paid
once) with pictures and again with ``--no-pictures``; each image's decode + backbone reference is timed
right after it, in the same process. Per image medians and the median of per-image ratios.

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
    times: dict[str, list[float]] = {"pictures": [], "no pictures": [], "floor": []}
    ratios: dict[str, list[float]] = {"pictures": [], "no pictures": []}
    with tempfile.TemporaryDirectory() as tmp:
        for key, pictures in (("pictures", True), ("no pictures", False)):
            _forget_fonts()  # each pass is a new batch: it learns its cameras' digits anew
            for _ in range(args.rounds):
                for f in files:
                    t0 = time.perf_counter()
                    inspector.predict([f], Path(tmp) / key, pictures=pictures, progress=False)
                    took = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    decode_and_backbone(f, size, backbone)
                    floor = time.perf_counter() - t0
                    times["floor"].append(floor)
                    times[key].append(took)
                    ratios[key].append(took / floor)
    floor_ms = 1000 * float(np.median(times["floor"]))
    print("| predict | median ms per image | x decode + backbone (median of per-image ratios) |")
    print("|---|---|---|")
    for key in ("pictures", "no pictures"):
        print(f"| {key} | {1000 * np.median(times[key]):.0f} | {np.median(ratios[key]):.1f} |")
    print(f"| decode + one backbone pass | {floor_ms:.0f} | 1.0 |")


if __name__ == "__main__":
    main()
