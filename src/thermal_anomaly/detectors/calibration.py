"""Calibration on normal images: per-asset score scales and the thresholds learned on them.

A detector's raw scores mean nothing across scenes: a busy substation scores higher than a quiet one.
Each asset's (group's) scores are divided by the median peak of its own normal images, seen by a model
that did not train on them, so 1.0 means "a typical normal image of this asset"; one threshold on the
normalised scores then fits every asset. This module holds that arithmetic and the default k-fold way of
getting held-out maps; the :class:`~thermal_anomaly.detectors.base.Detector` calls it from ``fit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .maps import resize_batch

if TYPE_CHECKING:  # annotations only: base imports this module
    from .base import Detector

#: key of the pooled scale, used by images of an asset without a scale of its own
ALL_GROUPS = "__all__"
#: normals an asset needs before it gets a score scale of its own
MIN_GROUP_NORMALS = 2
#: folds of the default calibration: each normal is scored by a model fitted on the other 4/5
CALIBRATION_FOLDS = 5
#: seed of the fold split, so refitting on the same images gives the same thresholds
FOLD_SEED = 0
#: spread of log normal-image scores assumed when too few normals are there to measure it
PRIOR_LOG_SPREAD = 0.15
#: normals needed to measure the spread of their log scores (fewer: ``PRIOR_LOG_SPREAD``)
MIN_NORMALS_FOR_SPREAD = 3
#: MAD of a normal distribution times this is its standard deviation (1 / Φ⁻¹(3/4))
MAD_TO_SIGMA = 1.4826
#: least log spread: near-identical normals must not give a threshold of exactly their score
MIN_LOG_SPREAD = 0.02
#: floor of a score before division or logarithm (a blank map scores 0)
MIN_SCORE = 1e-12


@dataclass(frozen=True)
class Calibration:
    """What calibration learns: the per-asset scales and the thresholds on the scores they normalise.

    ``scale`` and ``threshold`` are for the image score, ``map_scale`` and ``pixel_threshold`` for the
    pixel map (equal to them unless the detector scores images on a different map than it shows);
    ``scores`` are the normalised held-out scores of the training normals.
    """

    scale: dict[str, float]
    threshold: float
    map_scale: dict[str, float]
    pixel_threshold: float
    scores: list[float]


def learn_calibration(
    score_peaks: np.ndarray,
    map_peaks: np.ndarray | None,
    groups: Sequence[str | None],
    quantile: float,
) -> Calibration:
    """Scales and thresholds from the held-out peaks of normal images.

    Parameters
    ----------
    score_peaks : ndarray, shape (n,)
        Peak of each normal's score map (smoothed, overlays excluded), by a model that did not see it.
    map_peaks : ndarray, shape (n,), or None
        Peak of each normal's pixel map, when it differs from the score map; None: the same map.
    groups : sequence of str or None
        Asset of each normal; None pools it.
    quantile : float
        Share of normal images that must fall under the threshold.

    Returns
    -------
    Calibration
    """
    scale, norm, threshold = scale_and_threshold(score_peaks, groups, quantile)
    if map_peaks is None:
        map_scale, pixel_threshold = dict(scale), threshold
    else:  # the pixel map gets its own per-asset scale and threshold, learned the same way
        map_scale, _, pixel_threshold = scale_and_threshold(map_peaks, groups, quantile)
    return Calibration(scale, threshold, map_scale, pixel_threshold, [float(v) for v in norm])


def scale_and_threshold(
    scores: np.ndarray, groups: Sequence[str | None], quantile: float
) -> tuple[dict[str, float], np.ndarray, float]:
    """Per-asset scale (median normal peak), the normalised scores and the threshold learned on them."""
    scores = np.maximum(np.asarray(scores, dtype=np.float64), MIN_SCORE)
    cal: dict[str, float] = {ALL_GROUPS: float(np.median(scores))}
    by_group: dict[str, list[float]] = {}
    for s, g in zip(scores, groups, strict=True):
        if g is not None:
            by_group.setdefault(str(g), []).append(float(s))
    for g, vals in by_group.items():
        # One normal scored without itself measures how unlike the *other* assets it is, not the
        # variation within its own asset: such groups use the pooled scale.
        if len(vals) >= MIN_GROUP_NORMALS:
            cal[g] = float(np.median(vals))
    norm = np.array(
        [
            s / cal.get(str(g), cal[ALL_GROUPS]) if g is not None else s / cal[ALL_GROUPS]
            for s, g in zip(scores, groups, strict=True)
        ]
    )
    return cal, norm, lognormal_threshold(norm, quantile)


def scale_for(scales: dict[str, float], group: str | None) -> float:
    """The scale of ``group``'s scores: its own when calibration learned one, else the pooled one."""
    if group is not None and str(group) in scales:
        return scales[str(group)]
    return scales[ALL_GROUPS]


def lognormal_threshold(normalised: np.ndarray, quantile: float) -> float:
    """Image threshold from normalised normal scores (median ~1).

    Scores are modelled as log-normal with a robust centre and spread (median and MAD of the logs): a
    few normals of assets with no other reference image score far out, and they say how unlike the
    other assets they are, not how much normal images vary. With fewer than three normals the spread is
    a documented prior instead of a guess from one or two numbers.
    """
    from scipy.stats import norm

    z = float(norm.ppf(quantile))
    vals = np.log(np.maximum(normalised, MIN_SCORE))
    if len(vals) >= MIN_NORMALS_FOR_SPREAD:
        mu = float(np.median(vals))
        sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(vals - mu))), MIN_LOG_SPREAD)
    else:
        mu, sigma = 0.0, PRIOR_LOG_SPREAD
    return float(np.exp(mu + z * sigma))


def fold_split(n: int, folds: int) -> list[np.ndarray] | None:
    """Indices of ``n`` images in ``min(folds, n)`` seeded random folds; None when under two folds."""
    k = min(folds, n)
    if k < 2:
        return None
    return np.array_split(np.random.default_rng(FOLD_SEED).permutation(n), k)


def kfold_maps(detector: Detector, x: torch.Tensor, valid: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Maps of training normals by k-fold refits of ``detector``'s clone (each fold by a model without it).

    Returns (indices into ``x``, raw maps at the working size). With fewer than two images the fitted
    ``detector`` scores them itself.
    """
    n = len(x)
    folds = fold_split(n, detector.calibration_folds)
    if folds is None:
        return np.arange(n), detector._raw_maps(x)
    idx_out, maps_out = [], []
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        model = detector.clone()
        model._fit(x[train], valid[train], progress=False)
        idx_out.append(held)
        maps_out.append(resize_batch(model._raw_maps(x[held]), detector.img_size))
    return np.concatenate(idx_out), torch.cat(maps_out)


__all__ = [
    "ALL_GROUPS",
    "CALIBRATION_FOLDS",
    "Calibration",
    "fold_split",
    "kfold_maps",
    "learn_calibration",
    "lognormal_threshold",
    "scale_and_threshold",
    "scale_for",
]
