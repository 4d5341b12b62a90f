"""Detection with baselines on the development set: what comparing with the transformer's own normals adds
to the learned detector, image and pixel level, side by side.

Protocol: for each transformer T, the detector is fitted on every *other* transformer's normals (so the
learned model has never seen T: what the baseline alone brings shows); each of T's images is scored by it
and compared (:func:`thermal_anomaly.baseline.reference.against_references`) with T's normals as baselines
(a normal image with the other normals: its own file is skipped). Image AUROC over all 88 images (learned
scores share one scale: 1.0 ~ a normal image's typical peak); pixel AUROC, AUPRO (FPR <= 0.3) and peak hit
(map maximum within 2 % of the diagonal of a ground-truth fault) over the faulty images against the masks.

Variants, applied only where a baseline aligned (elsewhere the learned output is kept):
- learned: the detector alone (what ``predict`` writes without baselines);
- max: score / map maxed with the warming normalised so NETA's "probable deficiency" step (3 °C, 0.05 of
  a relative scale) reaches the detector's threshold;
- product: score / map times (1 + warming / step);
- comparison: the warming alone where aligned (learned elsewhere), to show what the comparison finds on its
  own.
Figures are given over all images and over the images whose baseline aligned (the only ones that change).

    .venv/bin/python benchmarks/baseline_detection.py [--data DIR] [--detector patchcore] [--cache FILE]
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmark import DEFAULT_DATA, _setup_threads, lazy, load_dev, make

#: long side maps and masks are kept at for the pixel metrics (as benchmark.py)
METRIC_SIDE = 640
#: peak hit tolerance: share of the image diagonal (as benchmark.py)
PEAK_TOL = 0.02
VARIANTS = ("learned", "max", "product", "comparison")
#: ``seen`` protocol: folds over the normals (each scored by a model fitted without its fold)
SEEN_FOLDS = 4


@dataclass
class Scored:
    """One development image: label, learned score and map, the comparison's warming (None when no
    baseline aligned), at metric size."""

    name: str
    group: str
    label: int
    score: float
    threshold: float
    amap: np.ndarray
    warming: np.ndarray | None
    step: float
    max_rise: float
    baseline: str
    reason: str
    mask: np.ndarray | None


def _metric_size(shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    s = min(1.0, METRIC_SIDE / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def plan(recs, protocol: str) -> list[tuple[str, list[int], list[int], bool]]:
    """(label, normals to fit on, images to score, score with their group) per model to fit.

    ``unseen`` (the issue's protocol): per transformer, a model fitted on the other transformers' normals
    scores all of its images. ``seen`` (as ``predict`` is used): a model fitted on every normal scores the
    faulty images, with their transformer's calibration; the normals are scored by ``SEEN_FOLDS`` fold
    models that did not see them."""
    normals = [i for i, r in enumerate(recs) if r.label == 0]
    if protocol == "unseen":
        out = []
        for t in sorted({r.group for r in recs}):
            fit = [i for i in normals if recs[i].group != t]
            out.append((t, fit, [i for i, r in enumerate(recs) if r.group == t], False))
        return out
    folds = np.array_split(np.random.default_rng(0).permutation(normals), SEEN_FOLDS)
    out = [("faulty", normals, [i for i, r in enumerate(recs) if r.label == 1], True)]
    for k, held in enumerate(folds):
        out.append((f"normals fold {k + 1}", [i for i in normals if i not in set(held)], sorted(held), True))
    return out


def score_all(data: Path, detector: str, protocol: str) -> list[Scored]:
    from thermal_anomaly.baseline.reference import against_references, load_references, warming_map
    from thermal_anomaly.postprocess import resize_map
    from thermal_anomaly.thermal.analysis import ThermalAnalysis
    from thermal_anomaly.thermal.hotspots import SIMILAR_C, SIMILAR_REL

    step_c, step_rel = SIMILAR_C[1][0], SIMILAR_REL[1][0]  # NETA "probable deficiency"
    ds, recs = load_dev(data)
    refs = {
        t: load_references([r.path for r in recs if r.group == t and r.label == 0])
        for t in sorted({r.group for r in recs})
    }
    out = []
    for label, fit, todo, grouped in plan(recs, protocol):
        t0 = time.perf_counter()
        det = make(detector)
        det.fit(lazy(ds, fit), groups=[recs[i].group for i in fit], progress=False)
        n_aligned = 0
        for i in todo:
            r = recs[i]
            analysis = ThermalAnalysis.from_file(r.path)
            pred = det.score([analysis], groups=[r.group if grouped else None])
            outcome = against_references(analysis, refs[r.group], r.path)
            size = _metric_size(analysis.shape)
            warm = warming_map(outcome, size)
            unit = outcome.comparison.unit if outcome.aligned else "C"
            gt = ds.load_mask(i) if r.label == 1 else None
            n_aligned += outcome.aligned
            out.append(
                Scored(
                    r.name,
                    r.group,
                    int(r.label),
                    float(pred.pred_score[0]),
                    float(pred.threshold),
                    resize_map(pred.anomaly_map[0], size),
                    warm,
                    step_c if unit == "C" else step_rel,
                    max((g.max_rise for g in outcome.comparison.regions), default=0.0)
                    if outcome.aligned
                    else 0.0,
                    outcome.reference.label if outcome.aligned else "",
                    outcome.reason(),
                    None if gt is None else resize_map(gt.astype(np.float32), size) >= 0.5,
                )
            )
        print(
            f"  {label}: {len(todo)} images, {n_aligned} with an aligned baseline, fitted on {len(fit)} "
            f"normals ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return out


def fused_score(s: Scored, variant: str) -> float:
    if variant == "learned" or s.warming is None:
        return s.score
    rise = s.max_rise / s.step
    if variant == "max":
        return max(s.score, s.threshold * rise)
    if variant == "product":
        return s.score * (1.0 + rise)
    if variant == "comparison":
        return s.threshold * rise
    raise ValueError(variant)


def fused_map(s: Scored, variant: str) -> np.ndarray:
    if variant == "learned" or s.warming is None:
        return s.amap
    w = s.warming / s.step
    if variant == "max":
        return np.maximum(s.amap, s.threshold * w)
    if variant == "product":
        return s.amap * (1.0 + w)
    if variant == "comparison":
        return s.threshold * w
    raise ValueError(variant)


def _peak_hit(amap: np.ndarray, mask: np.ndarray) -> bool:
    y, x = np.unravel_index(int(np.argmax(amap)), amap.shape)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)[y, x]
    return float(dist) <= PEAK_TOL * float(np.hypot(*amap.shape))


def table(rows: list[Scored], title: str) -> None:
    from thermal_anomaly.metrics import aupro, image_auroc, pixel_auroc

    faulty = [s for s in rows if s.label == 1 and s.mask is not None]
    print(
        f"\n{title}: {len(rows)} images ({sum(s.label == 0 for s in rows)} normal), {len(faulty)} faulty with masks"
    )
    print(
        "| variant | image AUROC | normals flagged | faulty caught | pixel AUROC | AUPRO (FPR<=0.3) | peak hit |"
    )
    print("|---|---|---|---|---|---|---|")
    labels = [s.label for s in rows]
    for v in VARIANTS:
        scores = [fused_score(s, v) for s in rows]
        maps = [fused_map(s, v) for s in faulty]
        masks = [s.mask for s in faulty]
        img = image_auroc(labels, scores) if len(set(labels)) == 2 else float("nan")
        hits = (
            np.mean([_peak_hit(m, s.mask) for m, s in zip(maps, faulty, strict=True)])
            if faulty
            else float("nan")
        )
        pa = pixel_auroc(masks, maps) if faulty else float("nan")
        pro = aupro(masks, maps, fpr_limit=0.3) if faulty else float("nan")
        flagged = [sc >= s.threshold for sc, s in zip(scores, rows, strict=True)]
        fp = sum(f for f, s in zip(flagged, rows, strict=True) if s.label == 0)
        tp = sum(f for f, s in zip(flagged, rows, strict=True) if s.label == 1)
        n0, n1 = labels.count(0), labels.count(1)
        print(f"| {v} | {img:.3f} | {fp}/{n0} | {tp}/{n1} | {pa:.3f} | {pro:.3f} | {hits:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--detector", default="patchcore", help="detector spec, as benchmark.py's --detectors")
    ap.add_argument("--cache", type=Path, default=None, help="keep the scored images here (re-tabulate fast)")
    ap.add_argument(
        "--protocol",
        choices=("unseen", "seen"),
        default="unseen",
        help="unseen: the model never saw the transformer (the baseline's own worth); seen: as predict runs",
    )
    args = ap.parse_args()
    _setup_threads()
    t0 = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        rows = pickle.loads(args.cache.read_bytes())
    else:
        rows = score_all(args.data, args.detector, args.protocol)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(rows))
    print(f"protocol {args.protocol}, detector {args.detector}")
    aligned = [s for s in rows if s.warming is not None]
    print("\nper transformer: images with an aligned baseline (normal / faulty)")
    for t in sorted({s.group for s in rows}):
        mine = [s for s in rows if s.group == t]
        n = [sum(s.warming is not None for s in mine if s.label == k) for k in (0, 1)]
        tot = [sum(s.label == k for s in mine) for k in (0, 1)]
        print(f"  {t}: {n[0]}/{tot[0]} normal, {n[1]}/{tot[1]} faulty")
    table(rows, "all development images")
    table(aligned, "images with an aligned baseline")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
