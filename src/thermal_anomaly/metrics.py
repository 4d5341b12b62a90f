"""Evaluation metrics: image-level AUROC/F1, pixel-level AUROC, AUPRO and IoU.

Conventions: higher score = more anomalous; a prediction is ``score >= threshold``. Masks are
H×W bool arrays, ``None`` where an image has no ground truth (such images are skipped in pixel
metrics; normal images have all-False masks). Undefined values (one class only, empty union) are
``nan`` rather than a made-up number, so a report never hides that it could not measure something.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from .errors import DataError

__all__ = [
    "aupro",
    "best_f1",
    "confusion_at",
    "evaluate",
    "f1_at",
    "image_auroc",
    "iou",
    "mean_iou",
    "pixel_auroc",
]

# Above this many pixels pixel_auroc switches from the exact sort to a quantile histogram.
MAX_EXACT_PIXELS = 20_000_000
# aupro's exact sort keeps ~50 bytes per pixel; above this it streams over thresholds instead.
MAX_EXACT_PRO_PIXELS = 4_000_000
# Target size of the strided sample the histogram's quantile edges are taken from.
_EDGE_SAMPLE = 2_000_000


# ----------------------------------------------------------------------------- image level


def _image_arrays(labels: Sequence, scores: Sequence) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise DataError(f"metrics: labels {y.shape} and scores {s.shape} must be 1-D of the same length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise DataError("metrics: labels must be 0/1 or bool")
    if not np.isfinite(s).all():
        raise DataError("metrics: scores contain NaN or infinity")
    return y.astype(bool), s


def image_auroc(labels: Sequence, scores: Sequence) -> float:
    """Area under the ROC curve (ties count one half); nan when only one class is present."""
    y, s = _image_arrays(labels, scores)
    if y.all() or not y.any():
        return math.nan
    return float(roc_auc_score(y, s))


def best_f1(labels: Sequence, scores: Sequence) -> tuple[float, float]:
    """Best F1 over every threshold that changes a decision, and that threshold (an actual score).

    Among equally good thresholds the highest is returned (fewest alarms). ``(nan, nan)`` when there
    is no faulty image, since F1 is then undefined at every threshold.
    """
    y, s = _image_arrays(labels, scores)
    n_pos = int(y.sum())
    if n_pos == 0:
        return math.nan, math.nan
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    # threshold = s_sorted[i] predicts every score >= it: the last index of each run of ties
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tp, fp = tp[last], fp[last]
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    k = int(np.argmax(f1))
    return float(f1[k]), float(s_sorted[last[k]])


def confusion_at(labels: Sequence, scores: Sequence, threshold: float) -> dict:
    """Counts and rates at one threshold: tp, fp, tn, fn, tpr (recall), fpr (nan if undefined)."""
    y, s = _image_arrays(labels, scores)
    pred = s >= threshold
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    tn = int((~pred & ~y).sum())
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "tpr": tp / (tp + fn) if tp + fn else math.nan,
        "fpr": fp / (fp + tn) if fp + tn else math.nan,
    }


def f1_at(labels: Sequence, scores: Sequence, threshold: float) -> float:
    """F1 at one threshold; 0 when nothing is predicted or present, nan when no faulty image exists."""
    c = confusion_at(labels, scores, threshold)
    if c["tp"] + c["fn"] == 0:
        return math.nan
    denom = 2 * c["tp"] + c["fp"] + c["fn"]
    return 2 * c["tp"] / denom if denom else 0.0


# ----------------------------------------------------------------------------- pixel level


def _pixel_pairs(masks: Sequence, maps: Sequence, name: str = "maps") -> list[tuple[np.ndarray, np.ndarray]]:
    """(bool mask, float32 map) for every image with ground truth; shapes checked."""
    if len(masks) != len(maps):
        raise DataError(f"metrics: {len(masks)} masks but {len(maps)} {name}")
    pairs = []
    for i, (m, a) in enumerate(zip(masks, maps, strict=True)):
        if m is None:
            continue
        if a is None:
            raise DataError(f"metrics: image {i} has a ground-truth mask but no {name[:-1]}")
        m = np.asarray(m).astype(bool, copy=False)
        a = np.asarray(a)
        if m.ndim != 2 or m.shape != a.shape:
            raise DataError(f"metrics: image {i}: mask {m.shape} and {name[:-1]} {a.shape} differ in shape")
        pairs.append((m, a))
    return pairs


def _float_map(a: np.ndarray, i: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"metrics: anomaly map {i} contains NaN or infinity")
    return a


def pixel_auroc(
    masks: Sequence, maps: Sequence, *, max_exact_pixels: int = MAX_EXACT_PIXELS, num_bins: int = 4096
) -> float:
    """ROC AUC over all pixels of all images with ground truth (nan if a class is missing).

    Exact up to ``max_exact_pixels`` (the normal pixels are sorted once, 4 bytes each, and every
    anomalous pixel is ranked against them). Above that it is computed from two histograms over
    ``num_bins`` bins whose edges are quantiles of a deterministic strided sample of all pixels;
    pairs falling in one bin count one half, so the error is at most about 0.5/num_bins
    (1.2e-4 by default) and memory stays at one image at a time.
    """
    pairs = [(m, _float_map(a, i)) for i, (m, a) in enumerate(_pixel_pairs(masks, maps))]
    n_total = sum(m.size for m, _ in pairs)
    n_pos = sum(int(m.sum()) for m, _ in pairs)
    n_neg = n_total - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    if n_total <= max_exact_pixels:
        neg = np.concatenate([a[~m] for m, a in pairs])
        neg.sort()
        pos = np.concatenate([a[m] for m, a in pairs])
        below = np.searchsorted(neg, pos, side="left").sum(dtype=np.float64)
        ties = np.searchsorted(neg, pos, side="right").sum(dtype=np.float64) - below
        return float((below + 0.5 * ties) / (float(n_pos) * float(n_neg)))

    step = max(1, n_total // _EDGE_SAMPLE)
    sample = np.concatenate([a.ravel()[::step] for _, a in pairs])
    edges = np.unique(np.quantile(sample, np.linspace(0.0, 1.0, num_bins + 1)[1:-1]).astype(np.float32))
    pos_hist = np.zeros(len(edges) + 1, np.float64)
    neg_hist = np.zeros(len(edges) + 1, np.float64)
    for m, a in pairs:
        b = np.searchsorted(edges, a, side="right")
        pos_hist += np.bincount(b[m], minlength=len(pos_hist))
        neg_hist += np.bincount(b[~m], minlength=len(neg_hist))
    neg_below = np.cumsum(neg_hist) - neg_hist
    return float((pos_hist * (neg_below + 0.5 * neg_hist)).sum() / (float(n_pos) * float(n_neg)))


def _block_sum(x: np.ndarray, f: int) -> np.ndarray:
    """Sum over f×f blocks (zero-padded at the bottom/right edge)."""
    h, w = x.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    if (hp, wp) != (h, w):
        x = np.pad(x, ((0, hp - h), (0, wp - w)))
    return x.reshape(hp // f, f, wp // f, f).sum(axis=(1, 3))


def _pro_weights(
    pairs: list[tuple[np.ndarray, np.ndarray]], max_side: int | None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Per image, lazily: (scores, region weight, normal weight, number of regions), flat float32.

    Every ground-truth region (8-connected component, found at full resolution) gets pixel weights
    1/area, so it sums to 1 whatever its size; normal pixels weigh 1. Downsampling pools f×f blocks:
    weights are summed (no region can vanish, totals stay exact) and the score is the block mean.
    """
    for i, (m, a) in enumerate(pairs):
        a = _float_map(a, i)
        n_reg = 0
        if m.any():
            n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
            inv_area = np.zeros(n, np.float64)
            inv_area[1:] = 1.0 / stats[1:, cv2.CC_STAT_AREA]
            w_pro = inv_area[lab]
            n_reg = n - 1
        else:
            w_pro = np.zeros(m.shape, np.float64)
        w_neg = (~m).astype(np.float32)
        f = 1 if max_side is None else -(-max(m.shape) // max_side)
        if f > 1:
            count = _block_sum(np.ones(m.shape, np.float32), f)
            a = (_block_sum(a, f) / count).astype(np.float32)
            w_pro, w_neg = _block_sum(w_pro, f), _block_sum(w_neg, f)
        yield a.ravel(), w_pro.ravel(), w_neg.ravel(), n_reg


def _area_to(fpr: np.ndarray, pro: np.ndarray, limit: float) -> float:
    """Trapezoid area under a nondecreasing-FPR curve from 0 to ``limit`` (interpolated there)."""
    i = int(np.searchsorted(fpr, limit, side="right"))
    x, y = fpr[:i], pro[:i]
    if i < len(fpr) and fpr[i] > fpr[i - 1]:
        t = (limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1])
        x = np.r_[x, limit]
        y = np.r_[y, pro[i - 1] + t * (pro[i] - pro[i - 1])]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) * 0.5))


def _pro_curve_exact(items: list) -> tuple[np.ndarray, np.ndarray]:
    """Exact (FPR, PRO·regions, unnormalised) points at every distinct map value, highest first."""
    s = np.concatenate([it[0] for it in items])
    order = np.argsort(s)[::-1]
    s = s[order]
    pro = np.cumsum(np.concatenate([it[1] for it in items])[order], dtype=np.float64)
    fpr = np.cumsum(np.concatenate([it[2] for it in items])[order], dtype=np.float64)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]


def _pro_curve_binned(pairs: list, max_side: int | None, fpr_limit: float, num_thresholds: int):
    """(FPR, PRO, unnormalised) evaluated exactly at ``num_thresholds`` thresholds, streaming.

    Thresholds are quantiles of the normal pixels (strided sample) spaced so FPR steps evenly up to
    1.1·limit, plus one just above the highest normal pixel (the curve's FPR = 0 point).
    """
    normal, top = [], -np.inf
    n_normal = sum(float(m.size - m.sum()) for m, _ in pairs)
    step = max(1, int(n_normal) // _EDGE_SAMPLE)
    for s, _, wn, _ in _pro_weights(pairs, max_side):
        v = s[wn > 0]
        if v.size:
            normal.append(v[::step])
            top = max(top, float(v.max()))
    q = 1.0 - np.linspace(0.0, min(1.0, 1.1 * fpr_limit), num_thresholds)
    thr = np.quantile(np.concatenate(normal), q).astype(np.float32)
    thr = np.unique(np.r_[thr, np.nextafter(np.float32(top), np.float32(np.inf))])  # ascending
    pro_hist = np.zeros(len(thr) + 1)
    neg_hist = np.zeros(len(thr) + 1)
    for s, wp, wn, _ in _pro_weights(pairs, max_side):
        keep = s >= thr[0]  # lower pixels are below every threshold: they never count
        b = np.searchsorted(thr, s[keep], side="right")  # b = number of thresholds <= s
        pro_hist += np.bincount(b, weights=wp[keep], minlength=len(thr) + 1)
        neg_hist += np.bincount(b, weights=wn[keep], minlength=len(thr) + 1)
    # pixels >= thr[k] are those with b > k: suffix sums, then highest threshold first
    pro_ge = np.cumsum(pro_hist[::-1])[::-1][1:]
    neg_ge = np.cumsum(neg_hist[::-1])[::-1][1:]
    return np.r_[0.0, neg_ge[::-1], n_normal], np.r_[0.0, pro_ge[::-1], np.nan]


def aupro(
    masks: Sequence,
    maps: Sequence,
    fpr_limit: float = 0.3,
    num_thresholds: int | None = None,
    *,
    max_side: int | None = None,
    max_exact_pixels: int = MAX_EXACT_PRO_PIXELS,
) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit``, divided by ``fpr_limit``.

    As in MVTec AD: regions are the 8-connected components of the ground-truth masks of all images;
    at a threshold t, PRO(t) = mean over regions of the fraction of the region with map >= t and
    FPR(t) = fraction of all normal pixels (normal images included) with map >= t. A perfect map
    gives 1.0, a constant map 0.15 (0.3 limit), a random one about 0.15.

    Exact (one sort, ties merged, linear between points) when ``num_thresholds`` is None and there
    are at most ``max_exact_pixels`` pixels. Otherwise the curve is evaluated exactly at
    ``num_thresholds`` (default 1000) thresholds placed at quantiles of the normal pixels, so FPR
    steps by ~limit/1000, keeping one image in memory at a time (|error| ~1e-4).
    ``max_side`` optionally pools maps first to at most that many pixels on the long side (f×f
    block means, region weights summed so small regions still count); this is faster but smooths
    the map, which raises the score of noisy maps; ``None`` (default) keeps full resolution.
    Returns nan without any region or without any normal pixel.
    """
    if not 0 < fpr_limit <= 1:
        raise DataError(f"metrics: fpr_limit must be in (0, 1], got {fpr_limit}")
    pairs = _pixel_pairs(masks, maps)
    n_normal = sum(float(m.size - m.sum()) for m, _ in pairs)
    if n_normal == 0 or not any(m.any() for m, _ in pairs):
        return math.nan
    n_pixels = sum(m.size for m, _ in pairs)
    if num_thresholds is None and n_pixels <= max_exact_pixels:
        items = list(_pro_weights(pairs, max_side))
        n_regions = sum(it[3] for it in items)
        fpr, pro = _pro_curve_exact(items)
    else:
        n_regions = sum(cv2.connectedComponents(m.astype(np.uint8), connectivity=8)[0] - 1 for m, _ in pairs)
        fpr, pro = _pro_curve_binned(pairs, max_side, fpr_limit, num_thresholds or 1000)
        pro[-1] = n_regions  # threshold -inf: everything found
    return _area_to(fpr / n_normal, pro / n_regions, fpr_limit) / fpr_limit


def _iou_counts(masks: Sequence, pred_masks: Sequence) -> list[tuple[int, int, bool]]:
    """Per image with ground truth: (intersection, union, has_fault)."""
    out = []
    for m, p in _pixel_pairs(masks, pred_masks, name="pred_masks"):
        p = np.asarray(p).astype(bool, copy=False)
        out.append((int((m & p).sum()), int((m | p).sum()), bool(m.any())))
    return out


def iou(masks: Sequence, pred_masks: Sequence) -> float:
    """Intersection over union pooled over all images (so big faults weigh more); nan if both empty.

    False alarms on normal images count: they enlarge the union.
    """
    counts = _iou_counts(masks, pred_masks)
    union = sum(u for _, u, _ in counts)
    return sum(i for i, _, _ in counts) / union if union else math.nan


def mean_iou(masks: Sequence, pred_masks: Sequence) -> float:
    """Mean of per-image IoU over the faulty images only (each fault image weighs the same)."""
    vals = [i / u for i, u, faulty in _iou_counts(masks, pred_masks) if faulty]
    return float(np.mean(vals)) if vals else math.nan


# ----------------------------------------------------------------------------- all together


def evaluate(
    labels: Sequence,
    scores: Sequence,
    threshold: float,
    masks: Sequence | None = None,
    maps: Sequence | None = None,
    pred_masks: Sequence | None = None,
) -> dict:
    """Every metric the test report needs, as plain floats/ints (nan where undefined).

    With ``masks``, pixel metrics use the images whose mask is not None. If ``pred_masks`` is
    missing but ``maps`` is given, the pixel decision is ``map >= threshold`` (maps share the
    score's scale by contract).
    """
    y, s = _image_arrays(labels, scores)
    f1, f1_thr = best_f1(y, s)
    c = confusion_at(y, s, threshold)
    out = {
        "n_images": int(len(y)),
        "n_normal": int((~y).sum()),
        "n_faulty": int(y.sum()),
        "threshold": float(threshold),
        "image_auroc": image_auroc(y, s),
        "image_f1": f1,
        "image_f1_threshold": f1_thr,
        "f1_at_threshold": f1_at(y, s, threshold),
        "tpr_at_threshold": c["tpr"],
        "fpr_at_threshold": c["fpr"],
        **{k: c[k] for k in ("tp", "fp", "tn", "fn")},
    }
    if masks is None:
        return out
    if len(masks) != len(y):
        raise DataError(f"metrics: {len(masks)} masks for {len(y)} images")
    out["n_pixel_images"] = sum(m is not None for m in masks)
    out["pixel_auroc"] = out["pixel_aupro"] = out["pixel_iou"] = out["pixel_mean_iou"] = math.nan
    if maps is not None:
        out["pixel_auroc"] = pixel_auroc(masks, maps)
        out["pixel_aupro"] = aupro(masks, maps)
        if pred_masks is None:
            pred_masks = [None if a is None else np.asarray(a) >= threshold for a in maps]
    if pred_masks is not None:
        out["pixel_iou"] = iou(masks, pred_masks)
        out["pixel_mean_iou"] = mean_iou(masks, pred_masks)
    return out
