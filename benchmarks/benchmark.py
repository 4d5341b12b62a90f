"""Accuracy and speed of every detector on the development set, one table side by side.

Protocol (no image is ever scored by a model that saw it):
- image level: folds over the development normals, each normal held out once; every faulty image is scored
  by exactly one fold model (round-robin); one score scale for all transformers (pooled AUROC); with the
  learned threshold, the share of held-out normals flagged and of faulty images caught.
- pixel level: a model fitted on all development normals scores every faulty image; pixel AUROC, AUPRO
  (FPR <= 0.3), "peak hit" (share of faulty images whose map maximum lies on a ground-truth fault, the
  mask dilated by 2 % of the image diagonal because the masks are tight outlines) and "peak ≤5%" (within 5 %
  of the diagonal: on the faulty component or the clamp/lead right next to the outlined part).
- speed (2 threads, 256 px): fit time on all normals; per-image predict cost (decode + score) against the
  cost of decoding the image plus one backbone forward pass, measured in the same run; peak memory (RSS)
  of a child process that only fits and predicts.

Usage: python benchmarks/benchmark.py [--detectors patchcore,padim,...] [--data DIR] [--sheet DIR] [--only speed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "transformer-thermal"
#: AutoEncoders: fewer epochs and folds keep the benchmark within ~20 min on 2 cores
AE_OPTIONS = {"epochs": 20}
#: detectors that train networks: image level uses ``--ae-folds`` folds instead of leave-one-out (a flow or
#: DRAEM fit trains several times for its own calibration; 24 of them would take hours on 2 cores)
TRAINED = ("autoencoder", "fastflow", "cflow", "draem")


def _setup_threads() -> None:
    import torch

    torch.set_num_threads(2)


def load_dev(data: Path):
    from thermal_anomaly.data import ThermalDataset

    ds = ThermalDataset(data, mode="test")
    recs = [ds[i] for i in range(len(ds))]
    return ds, recs


def lazy(ds, idx):
    """Images read on demand, so a fit never holds every full-size image at once."""
    from thermal_anomaly.data import LazyImages

    return LazyImages([ds[i] for i in idx])


def fit_on_normals(ds, recs, spec: str):
    """The detector ``spec`` fitted on every development normal, each with its transformer group."""
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    det = make(spec)
    det.fit(lazy(ds, normals), groups=[recs[i].group for i in normals], progress=False)
    return det


def make(spec: str):
    """A detector from a spec ``name`` or ``name:key=value;key=value`` (values parsed as JSON when they can be)."""
    from thermal_anomaly import create_detector

    name, _, opts = spec.partition(":")
    options = dict(AE_OPTIONS) if "autoencoder" in name else {}
    for item in filter(None, opts.split(";")):
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return create_detector(name, **options)


def image_level(name: str, ds, recs, folds: int | None) -> dict:
    """Fold models over the normals; returns pooled image metrics."""
    from thermal_anomaly.metrics import image_auroc

    normals = [i for i, r in enumerate(recs) if r.label == 0]
    faulty = [i for i, r in enumerate(recs) if r.label == 1]
    k = len(normals) if folds is None else min(folds, len(normals))
    rng = np.random.default_rng(0)
    fold_of_normal = np.array_split(rng.permutation(normals), k)
    fold_of_faulty = [faulty[j::k] for j in range(k)]
    scores, labels, flagged = {}, {}, {}
    for held_normals, held_faulty in zip(fold_of_normal, fold_of_faulty, strict=True):
        train = [i for i in normals if i not in set(held_normals)]
        det = make(name)
        det.fit(lazy(ds, train), groups=[recs[i].group for i in train], progress=False)
        test = list(held_normals) + list(held_faulty)
        pred = det.score(lazy(ds, test), groups=[recs[i].group for i in test])
        for i, s, lab in zip(test, pred.pred_score, pred.pred_label, strict=True):
            scores[i], labels[i], flagged[i] = float(s), recs[i].label, bool(lab)
    idx = sorted(scores)
    y = np.array([labels[i] for i in idx])
    s = np.array([scores[i] for i in idx])
    f = np.array([flagged[i] for i in idx])
    per_group = {}
    for g in sorted({recs[i].group for i in idx}):
        sel = [j for j, i in enumerate(idx) if recs[i].group == g]
        if len(set(y[sel])) == 2:
            per_group[g] = image_auroc(y[sel], s[sel])
    return {
        "image_auroc": image_auroc(y, s),
        "normals_flagged": float(f[y == 0].mean()),
        "faulty_caught": float(f[y == 1].mean()),
        "folds": k,
        "per_group_auroc": per_group,
        "scores": {recs[i].name: scores[i] for i in idx},
    }


def pixel_level(name: str, ds, recs, sheet: Path | None) -> dict:
    """Fit on all normals, score all faulty images against the masks."""
    import cv2

    from thermal_anomaly.metrics import aupro, pixel_auroc
    from thermal_anomaly.postprocess import resize_map

    normals = [i for i, r in enumerate(recs) if r.label == 0]
    faulty = [i for i, r in enumerate(recs) if r.label == 1]
    det = make(name)
    t0 = time.perf_counter()
    det.fit(lazy(ds, normals), groups=[recs[i].group for i in normals], progress=False)
    fit_s = time.perf_counter() - t0
    maps, masks, hits, tiles = [], [], [], []
    for i in faulty:
        img = ds.load_image(i)
        gt = ds.load_mask(i)
        pred = det.score([img], groups=[recs[i].group])
        amap = pred.anomaly_map[0]
        h, w = amap.shape
        scale = min(1.0, 640 / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        maps.append(resize_map(amap, size))
        masks.append(resize_map(gt.astype(np.float32), size) >= 0.5)
        # distance from the map's maximum to the nearest ground-truth pixel, as a share of the diagonal
        y, x = np.unravel_index(np.argmax(amap), amap.shape)
        dist = cv2.distanceTransform((gt == 0).astype(np.uint8), cv2.DIST_L2, 5)[y, x]
        hits.append(float(dist) / float(np.hypot(h, w)))
        if sheet is not None and str(sheet) != "none":
            tiles.append((recs[i].name, _tile(img, amap, gt, det.threshold_)))
    if sheet is not None and tiles and str(sheet) != "none":
        from thermal_anomaly.visualize import save_contact_sheet

        save_contact_sheet(sheet / f"{name.replace(':', '_').replace(';', '_')}_faulty_heatmaps.png", tiles)
    return {
        "pixel_auroc": pixel_auroc(masks, maps),
        "pixel_aupro": aupro(masks, maps, fpr_limit=0.3),
        "peak_hit": float(np.mean(np.array(hits) <= 0.02)),
        "peak_near": float(np.mean(np.array(hits) <= 0.05)),
        "fit_s_all_normals": fit_s,
    }


def _tile(img: np.ndarray, amap: np.ndarray, gt: np.ndarray, thr: float) -> np.ndarray:
    """Image with the heatmap blended in and the ground-truth outline in white."""
    import cv2

    from thermal_anomaly.visualize import heatmap_rgb

    h, w = amap.shape
    scale = 320 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    base = cv2.resize((img * 255).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    heat = cv2.resize(heatmap_rgb(amap, 0.0, 2.0 * thr), size, interpolation=cv2.INTER_AREA)
    out = (0.45 * base + 0.55 * heat).astype(np.uint8)
    g = cv2.resize(gt.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(g, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def decode_and_backbone(path, size: int, backbone) -> None:
    """The reference cost of one image: decode it, resize it, one backbone forward pass (if any)."""
    import cv2
    import torch

    from thermal_anomaly.io import read_image

    x = torch.from_numpy(cv2.resize(read_image(path), (size, size)).transpose(2, 0, 1).copy())[None]
    if backbone is not None:
        with torch.no_grad():
            backbone(x)


def speed(name: str, ds, recs) -> dict:
    """Per-image predict cost vs decode + one backbone forward, in the same process and run."""

    from thermal_anomaly.io import read_image

    probe = list(range(len(recs)))[::4]  # every 4th image: all transformers and sizes
    det = fit_on_normals(ds, recs, name)
    t_predict, t_ref = [], []
    backbone = None
    try:
        from thermal_anomaly.backbones import FeatureExtractor

        backbone = FeatureExtractor("efficientnet-lite0")
    except Exception:  # noqa: BLE001 - the AutoEncoders run without the backbone
        backbone = None
    for rep in range(2):
        for i in probe:
            path = recs[i].path
            t0 = time.perf_counter()
            img = read_image(path)
            det.score([img], groups=[recs[i].group])
            t1 = time.perf_counter()
            decode_and_backbone(path, det.img_size, backbone)
            t2 = time.perf_counter()
            if rep:  # first pass warms caches
                t_predict.append(t1 - t0)
                t_ref.append(t2 - t1)
    return {
        "predict_ms": 1000 * float(np.median(t_predict)),
        "decode_backbone_ms": 1000 * float(np.median(t_ref)),
        "ratio": float(np.median(np.array(t_predict) / np.array(t_ref))),
    }


#: parts of the benchmark, in the order they run (``--only`` picks some)
PARTS = ("speed", "pixel", "image")


def worker(
    name: str, data: Path, folds: int | None, sheet: Path | None, parts: tuple[str, ...] = PARTS
) -> dict:
    _setup_threads()
    ds, recs = load_dev(data)
    out = {"detector": name}
    if "speed" in parts:
        # first, so the high-water mark is what fitting on all normals and predicting costs (the pixel
        # part below holds 64 full-size maps for its metrics, which the tool itself never does)
        out.update(speed(name, ds, recs))
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if "pixel" in parts:
        out.update(pixel_level(name, ds, recs, sheet))
    if "image" in parts:
        t0 = time.perf_counter()
        out.update(image_level(name, ds, recs, folds))
        out["image_level_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--detectors",
        nargs="+",
        default=["patchcore", "padim", "autoencoder", "unet-autoencoder"],
        help="detector specs: NAME or NAME:key=value;key=value (JSON values)",
    )
    ap.add_argument(
        "--ae-folds",
        type=int,
        default=3,
        help="folds for the trained detectors (AutoEncoders, flows, DRAEM; others: leave-one-out)",
    )
    ap.add_argument(
        "--folds",
        type=int,
        default=None,
        help="image-level folds for every detector (e.g. 3: the trained detectors' protocol for all)",
    )
    ap.add_argument(
        "--sheet", type=Path, default=Path("runs/benchmark"), help="folder for heatmap contact sheets"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write all results here")
    ap.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (of {','.join(PARTS)}), e.g. --only speed while tuning speed",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        folds = args.ae_folds if any(t in args.worker.partition(":")[0] for t in TRAINED) else None
        folds = args.folds if args.folds is not None else folds
        parts = tuple(p for p in PARTS if p in args.only.split(","))
        print(json.dumps(worker(args.worker, args.data, folds, args.sheet, parts)))
        return
    if not args.data.exists():
        sys.exit(f"benchmark data not found: {args.data}")
    results = []
    for name in args.detectors:
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            name,
            "--data",
            str(args.data),
            "--sheet",
            str(args.sheet),
            "--ae-folds",
            str(args.ae_folds),
            *(["--folds", str(args.folds)] if args.folds is not None else []),
            "--only",
            args.only,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
        )
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["wall_s"] = time.perf_counter() - t0
        results.append(res)
        print(f"{name}: done in {res['wall_s']:.0f} s", file=sys.stderr)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def print_table(results: list[dict]) -> None:
    cols = [
        ("detector", "detector", "{}"),
        ("img AUROC", "image_auroc", "{:.3f}"),
        ("normals flagged", "normals_flagged", "{:.0%}"),
        ("faulty caught", "faulty_caught", "{:.0%}"),
        ("px AUROC", "pixel_auroc", "{:.3f}"),
        ("AUPRO.3", "pixel_aupro", "{:.3f}"),
        ("peak hit", "peak_hit", "{:.0%}"),
        ("peak ≤5%", "peak_near", "{:.0%}"),
        ("fit s", "fit_s_all_normals", "{:.1f}"),
        ("predict ms", "predict_ms", "{:.0f}"),
        ("decode+bb ms", "decode_backbone_ms", "{:.0f}"),
        ("ratio", "ratio", "{:.2f}"),
        ("peak MB", "peak_rss_mb", "{:.0f}"),
    ]
    header = " | ".join(c[0] for c in cols)
    print(header)
    print(" | ".join("-" * len(c[0]) for c in cols))
    for r in results:
        print(" | ".join(fmt.format(r[key]) if key in r else "-" for _, key, fmt in cols))
    for r in results:
        pg = ", ".join(f"{g} {v:.2f}" for g, v in r.get("per_group_auroc", {}).items())
        print(f"{r['detector']}: folds={r.get('folds')} per-transformer AUROC: {pg}")


if __name__ == "__main__":
    main()
