"""Per-image predict cost of several detector configurations, interleaved image by image in one process.

The main benchmark times each detector in its own process, one after the other, so a busy moment on a shared
machine lands on one row only. Here every configuration scores the same image back to back, with the
reference (decoding the image plus one backbone forward pass) timed alongside, for three rounds; medians and
ratios are then comparable. It answers: what does each piece of thermal work cost on top of plain PatchCore,
and how close to the decode + backbone floor can each configuration get?

Usage: python benchmarks/speed_ab.py [--data DIR] [--rounds 3] [SPEC ...]
(SPEC as in benchmark.py: ``name`` or ``name:key=value;key=value``; default: the configurations below)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, decode_and_backbone, lazy, load_dev, make

CONFIGS = (
    "patchcore",
    "patchcore:hotspot_fusion=false",
    "patchcore:hotspot_fusion=false;mask_overlays=false",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("specs", nargs="*", default=list(CONFIGS))
    args = ap.parse_args()
    _setup_threads()
    from thermal_anomaly.backbones import FeatureExtractor
    from thermal_anomaly.io import read_image

    ds, recs = load_dev(args.data)
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    probe = list(range(len(recs)))[::4]
    dets = {}
    for spec in args.specs:
        det = make(spec)
        det.fit(lazy(ds, normals), groups=[recs[i].group for i in normals], progress=False)
        dets[spec] = det
    backbone = FeatureExtractor("efficientnet-lite0")
    size = next(iter(dets.values())).img_size
    times: dict[str, list[list[float]]] = {k: [[] for _ in probe] for k in [*dets, "decode+backbone"]}
    for rnd in range(args.rounds + 1):  # round 0 warms caches and is not counted
        for j, i in enumerate(probe):
            path = recs[i].path
            for spec, det in dets.items():
                t0 = time.perf_counter()
                det.score([read_image(path)], groups=[recs[i].group])
                if rnd:
                    times[spec][j].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            decode_and_backbone(path, size, backbone)
            if rnd:
                times["decode+backbone"][j].append(time.perf_counter() - t0)
    # per image: the median over rounds; then the median over images, and the median of per-image ratios
    per_image = {k: np.array([np.median(v) for v in vs]) for k, vs in times.items()}
    ref = per_image["decode+backbone"]
    base = per_image.get("patchcore:hotspot_fusion=false")
    print(f"{len(probe)} images (every 4th dev image), {args.rounds} rounds, 2 threads, {size} px")
    print("configuration | predict ms | x decode+backbone | x plain patchcore")
    print("------------- | ---------- | ----------------- | -----------------")
    for k, v in per_image.items():
        vs_plain = "-" if base is None else f"{np.median(v / base):.2f}"
        print(f"{k} | {1000 * np.median(v):.1f} | {np.median(v / ref):.2f} | {vs_plain}")


if __name__ == "__main__":
    main()
