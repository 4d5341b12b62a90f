"""How much warmer each point of an inspection is than the same point in the asset's baseline.

The baseline's temperature map is resampled into the inspection's frame through the registration's
homography; the difference is taken point by point, then the median difference over the compared pixels is
subtracted: a transformer under more load, or on a warmer day, is warmer everywhere, and that uniform change
is not a fault. What is left is the local change: a joint that warmed while its surroundings did not.

Regions are the connected places that warmed by more than NETA MTS's lowest step for similar components
(``thermal.hotspots.SIMILAR_C``: > 1 °C possible, > 3 °C probable deficiency, > 15 °C major; the same
component months apart is the closest "similar component" there is), each with its box, area, max and mean
rise and rating. A one-pixel alignment error turns every sharp edge into a false rise, so the regions are
found on the rise over the *warmest* baseline value within ``ALIGN_TOLERANCE`` working pixels; the reported
rises are the plain point-by-point differences inside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..postprocess import connected_components
from ..thermal.analysis import ThermalAnalysis, as_analysis
from ..thermal.hotspots import SIMILAR_C, SIMILAR_REL, severity
from .registration import WORK_SIDE, Registration

#: the registration's typical error (working px at ``WORK_SIDE``): a rise must hold against every baseline
#: value this close, so an edge that is one pixel off is no warming
ALIGN_TOLERANCE = 2
#: smallest region (working px²): a few pixels of decoding noise or JPEG ringing are no finding
MIN_REGION_PX = 16
#: smallest share of the inspection that must be comparable (valid in both, inside the overlap)
MIN_COMPARED = 0.05
#: largest colour difference (0..1 per channel) of one screen pixel in both pictures that counts as the
#: camera's display drawn alike
STATIC_COLOUR = 0.02
#: lowest rise that makes a region: NETA's lowest similar-component step, °C and relative (share of span)
MIN_RISE_C = SIMILAR_C[-1][0]
MIN_RISE_REL = SIMILAR_REL[-1][0]


@dataclass
class RiseRegion:
    """A place that warmed against the baseline (inspection px; box ``[x0, y0, x1, y1]`` inclusive-exclusive,
    ``peak`` ``[x, y]``), rises in the comparison's unit after the uniform change was taken out."""

    box: list[int]
    area: int
    max_rise: float
    mean_rise: float
    peak: list[int]
    severity: str

    def to_dict(self) -> dict:
        return {
            "box": self.box,
            "area": self.area,
            "max_rise": round(self.max_rise, 2),
            "mean_rise": round(self.mean_rise, 2),
            "peak": self.peak,
            "severity": self.severity,
        }


@dataclass
class Comparison:
    """An inspection against its baseline, in the inspection's frame.

    ``difference``: H×W float32, inspection minus aligned baseline minus ``offset`` (the median difference,
    the uniform load/ambient change), NaN where either is not a temperature or outside the overlap.
    ``unit``: "C", or "relative" (each picture's own scale position: only meaningful when both pictures
    share one scale). ``compared``: share of the inspection compared. ``ok`` is False, with ``reason``,
    when nothing could be compared (not aligned, units differ, too little overlap).
    """

    ok: bool
    reason: str
    unit: str
    offset: float = float("nan")
    compared: float = 0.0
    regions: list[RiseRegion] = field(default_factory=list)
    difference: np.ndarray | None = field(default=None, repr=False)
    #: H×W bool, the pixels of ``regions`` (where the rise holds against alignment error)
    region_mask: np.ndarray | None = field(default=None, repr=False)

    def warming(self) -> np.ndarray | None:
        """The rise inside the regions, 0 elsewhere (H×W float32, no NaN): what warmed, without the edge
        noise a small misalignment leaves in ``difference``. None when nothing was compared."""
        if self.difference is None or self.region_mask is None:
            return None
        inside = self.region_mask & np.isfinite(self.difference)
        return np.where(inside, np.maximum(self.difference, 0), 0).astype(np.float32)

    def to_dict(self) -> dict:
        """Everything but the map, JSON-ready."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "unit": self.unit,
            "offset": None if not math.isfinite(self.offset) else round(self.offset, 2),
            "compared": round(self.compared, 3),
            "regions": [r.to_dict() for r in self.regions],
        }


def scene_temperature(analysis: ThermalAnalysis) -> np.ndarray:
    """The temperature map with NaN where it is no scene temperature (overlay, off-palette colour)."""
    temp = analysis.temperature
    values = np.asarray(temp.values, np.float32)
    return np.where(temp.valid & ~analysis.overlay, values, np.nan).astype(np.float32)


def warp_to_inspection(values: np.ndarray, registration: Registration) -> np.ndarray:
    """A baseline-frame float map resampled into the inspection's frame (bilinear; NaN spreads to every
    pixel that touches an invalid one, and fills the outside)."""
    h, w = registration.inspection_shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(
        values.astype(np.float32), registration.homography, (w, h), flags=flags, borderValue=float("nan")
    )


def static_display(
    inspection: ThermalAnalysis, baseline: ThermalAnalysis, registration: Registration
) -> np.ndarray:
    """Where one camera's display sits in both pictures: the same colour at the same screen place (or a
    detected overlay in either) although the scene moved there by more than the alignment tolerance.
    Parts of a logo the overlay detection misses decode as the top of the scale; compared with the scene
    the baseline shows there they would be a 20 °C "rise" (measured on a pair of one camera's pictures)."""
    h, w = inspection.shape
    same = np.abs(inspection.rgb[..., :3] - baseline.rgb[..., :3]).max(axis=2) < STATIC_COLOUR
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)[None]
    moved = cv2.perspectiveTransform(pts, registration.homography)[0] - pts[0]
    zoom = max(h, w) / WORK_SIDE
    shifted = (np.hypot(moved[:, 0], moved[:, 1]) > ALIGN_TOLERANCE * zoom).reshape(h, w)
    static = ((same & shifted) | inspection.overlay | baseline.overlay).astype(np.uint8)
    r = max(1, round(ALIGN_TOLERANCE * zoom))
    return cv2.dilate(static, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def _not_comparable(reason: str, unit: str = "") -> Comparison:
    return Comparison(False, reason, unit)


def _units(inspection: ThermalAnalysis, baseline: ThermalAnalysis) -> tuple[str, str]:
    """(unit, reason the pair cannot be compared or "")."""
    a, b = inspection.temperature.unit, baseline.temperature.unit
    if a != b:
        return "", f"units differ: inspection {a}, baseline {b} (one scale's numbers were not read)"
    return a, ""


def _tolerant_rise(now: np.ndarray, before: np.ndarray, radius: int) -> np.ndarray:
    """``now`` minus the warmest ``before`` within ``radius`` px; NaN unless both are temperatures over
    that whole neighbourhood (the rims of overlays and of the overlap are where decoding and resampling
    go wrong)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    warmest = cv2.dilate(np.where(np.isfinite(before), before, -np.inf).astype(np.float32), k)
    inner = cv2.erode((np.isfinite(before) & np.isfinite(now)).astype(np.uint8), k, borderValue=0) > 0
    return np.where(inner, now - warmest, np.nan)


def _grade(rise: float, unit: str) -> str:
    """NETA MTS similar-component rating of a rise over time (relative units get the relative buckets)."""
    return severity(rise, 0.0, unit)[1]


def rise_regions(
    difference: np.ndarray,
    tolerant: np.ndarray,
    unit: str,
    min_rise: float,
    min_area: int,
    region_mask: np.ndarray | None = None,
) -> list[RiseRegion]:
    """Connected places where the tolerant rise exceeds ``min_rise``, largest max rise first (their
    pixels set in ``region_mask`` when given)."""
    mask = np.nan_to_num(tolerant, nan=-np.inf) > min_rise
    n, labels, stats = connected_components(mask)
    regions = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < min_area:
            continue
        box = (slice(y, y + h), slice(x, x + w))
        inside = labels[box] == k
        vals = difference[box][inside]
        vals = vals[np.isfinite(vals)]
        if vals.size == 0:
            continue
        sub = np.where(inside, np.nan_to_num(difference[box], nan=-np.inf), -np.inf)
        py, px = np.unravel_index(int(np.argmax(sub)), sub.shape)
        top = float(vals.max())
        if region_mask is not None:
            region_mask[box] |= inside
        regions.append(
            RiseRegion(
                [x, y, x + w, y + h],
                area,
                top,
                float(vals.mean()),
                [x + int(px), y + int(py)],
                _grade(top, unit),
            )
        )
    regions.sort(key=lambda r: r.max_rise, reverse=True)
    return regions


def compare(
    inspection: ThermalAnalysis | np.ndarray,
    baseline: ThermalAnalysis | np.ndarray,
    registration: Registration,
    min_rise: float | None = None,
) -> Comparison:
    """The inspection's temperature rise over its aligned baseline, point by point, in the inspection's
    frame, with the uniform change taken out and the regions that warmed beyond ``min_rise`` (default:
    NETA's lowest step, 1 °C, or 0.02 of the span on a relative scale)."""
    if not registration.aligned:
        return _not_comparable(f"not aligned: {registration.reason}")
    insp, base = as_analysis(inspection), as_analysis(baseline)
    unit, why = _units(insp, base)
    if why:
        return _not_comparable(why)
    now = scene_temperature(insp)
    if base.shape == insp.shape:
        now[static_display(insp, base, registration)] = np.nan
    before = warp_to_inspection(scene_temperature(base), registration)
    diff = now - before
    both = np.isfinite(diff)
    compared = float(both.mean())
    if compared < MIN_COMPARED:
        return _not_comparable(f"too little compared: {compared:.1%} of the inspection", unit)
    offset = float(np.median(diff[both]))
    diff -= offset
    zoom = max(now.shape) / WORK_SIDE
    tolerant = _tolerant_rise(now, before, max(1, round(ALIGN_TOLERANCE * zoom))) - offset
    if min_rise is None:
        min_rise = MIN_RISE_C if unit == "C" else MIN_RISE_REL
    min_area = max(1, round(MIN_REGION_PX * zoom * zoom))
    region_mask = np.zeros(diff.shape, bool)
    regions = rise_regions(diff, tolerant, unit, min_rise, min_area, region_mask)
    return Comparison(True, "", unit, offset, compared, regions, diff.astype(np.float32), region_mask)
