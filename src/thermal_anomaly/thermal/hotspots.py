"""Hot spots rated the way a thermographer rates them: temperature rise, then NETA MTS severity.

Two comparisons, as in electrical thermography practice (NETA MTS table 100.18):
- *between similar components*: a loose joint on one phase is judged against the same joint on the other
  two phases, not against the sky. Every warm blob of the rise map is a candidate; a candidate's reference
  is the median peak of the other candidates of the same kind (the other bushings, limbs, connections),
  those in its row when there are any. Same kind: similar length / width and, for two straight long parts,
  the same direction (a vertical bushing is no sister of a horizontal tank band) and a similar thickness
  (how much of a part's length is warm depends on its temperature, so a cooler sister's warm blob is
  shorter); for any other pair, a similar area. Without such peers the reference is the local background
  under the spot.
- *over ambient*: the peak against the scene's median valid temperature.

The rise map is a white top-hat: temperature minus a morphological opening (a disc about ``scale`` of the
image's long side), so anything smaller than the disc and warmer than what surrounds it stands out, while a
large warm body (a sun-heated tank) is its own background. Everything runs on a copy of at most
``WORK_SIDE`` px, so a 3077×1920 photo costs as much as a 512 px one.

Units: °C when the :class:`TemperatureMap` is in °C, otherwise fractions of the colour scale's span (the
decoded relative position runs 0..1 over the span). Relative severities cannot be NETA classes; they use
buckets scaled for an assumed 60 °C camera span and are prefixed ``"relative: "``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import DataError
from ..postprocess import connected_components, label_boxes
from ..records import HotSpot
from .palette import labels_in, lookup
from .severity import RELATIVE_PREFIX, SEVERITIES, Severity  # noqa: F401 - SEVERITIES re-exported
from .temperature import TemperatureMap

#: long side of the working copy
WORK_SIDE = 512
#: default background disc diameter as a fraction of the long side
DEFAULT_SCALE = 0.06
#: default smallest reported rise: °C, and fraction of the span for relative maps
MIN_RISE_C = 3.0
MIN_RISE_REL = 0.06

#: NETA MTS: ΔT between similar components (°C, lower bounds, exclusive above the first)
SIMILAR_C = ((15.0, "major"), (3.0, "probable deficiency"), (1.0, "possible deficiency"))
#: NETA MTS: ΔT over ambient (°C); 21-40 °C is "monitor until corrected", named "deficiency" here
AMBIENT_C = (
    (40.0, "major"),
    (20.0, "deficiency"),
    (10.0, "probable deficiency"),
    (1.0, "possible deficiency"),
)
#: the same buckets for relative maps, as fractions of the span assuming a 60 °C span (1 °C ≈ 0.02)
SIMILAR_REL = ((0.25, "major"), (0.05, "probable deficiency"), (0.02, "possible deficiency"))
AMBIENT_REL = (
    (0.67, "major"),
    (0.33, "deficiency"),
    (0.17, "probable deficiency"),
    (0.02, "possible deficiency"),
)

#: shape rules for fault_type (elongation = area / (2 × max inscribed radius)², i.e. length / width)
WIRE_ELONGATION = 5.0
STRUCTURE_ELONGATION = 2.0
STRUCTURE_AREA_RATIO = 2.0
#: a hot part's structure: the connected pixels rising at least this share of min_rise over the background
STRUCTURE_RISE = 0.25

#: UI residue: valid islands smaller than this share of the image, in windows this invalid (see _ui_islands)
UI_ISLAND_AREA = 0.005
UI_ENCLOSED = 0.7
UI_PARTLY = 0.25
#: rise is not trusted this close (share of the long side) to invalid areas larger than UI_BIG_AREA
UI_MARGIN = 0.015
UI_BIG_AREA = 0.003

#: box sizes (px) of the growing neighbourhoods that fill invalid pixels: each ×3, from a few pixels (a thin
#: text stroke) to a quarter of the ``WORK_SIDE`` copy (a colour bar's legend panel)
FILL_RADII = (5, 15, 45, 135)
#: the smallest candidate blob, as a share of the working copy's area (≈ 40 px at 512×384): smaller ones are
#: JPEG speckle and single hot pixels, too few to hold a peak, a mean and a shape
MIN_BLOB_AREA = 2e-4
#: similar components (peers) differ at most by this factor in area and by ``PEER_ELONGATION`` in elongation:
#: the same bushing or clamp seen at a slightly different distance or angle, not a tank against a bolt
PEER_AREA_RATIO = 3.0
PEER_ELONGATION = 2.0
#: two straight long parts (each with a direction, see ``_axis``) are sisters only when their axes are closer
#: to parallel than to perpendicular (degrees): a vertical bushing is no sister of a horizontal tank band
PEER_ANGLE = 45.0
#: two straight long parts pointing the same way are compared by thickness, not area: how much of a part's
#: length is warm above the threshold depends on its temperature (a cooler sister shows less of itself), its
#: thickness much less; the same factor as ``PEER_ELONGATION`` (blur widens a hotter part's warm blob)
PEER_WIDTH_RATIO = 2.0
#: a long part is straight (has a direction) when its second moments give at least this share of the
#: length / width its inscribed circle gives (see ``_axis``)
STRAIGHT_SHARE = 0.5


def _check(temp: TemperatureMap) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(temp.values, np.float32)
    valid = np.asarray(temp.valid, bool)
    if values.ndim != 2 or valid.shape != values.shape:
        raise DataError(
            f"temperature map from {temp.source!r}: values {values.shape} and valid {valid.shape} must be "
            "the same H×W"
        )
    if not np.isfinite(values).all():
        valid = valid & np.isfinite(values)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values, valid


def _fill(v: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Invalid pixels take a weighted mean of valid neighbours at growing radii (normalised convolution;
    box filters, so the cost does not grow with the radius)."""
    if has.all():
        return v
    out = v.copy()
    todo = ~has
    w = has.astype(np.float32)
    vw = np.where(has, v, 0.0).astype(np.float32)
    h, wd = v.shape
    for k in FILL_RADII:
        # only the box around the pixels still to fill, grown by half the window, is filtered: a pixel's
        # window stays inside it, and at the image's edge the box's edge is the image's, so the border
        # reflection is the same (the later, wider passes usually have a colour bar's panel left to fill)
        bx, by, bw, bh = cv2.boundingRect(todo.view(np.uint8))
        r = k // 2
        y0, x0, y1, x1 = max(0, by - r), max(0, bx - r), min(h, by + bh + r), min(wd, bx + bw + r)
        box = (slice(y0, y1), slice(x0, x1))
        num = cv2.blur(vw[box], (k, k))
        den = cv2.blur(w[box], (k, k))
        t = todo[box]
        ok = t & (den > 1e-3)
        np.divide(num, den, out=out[box], where=ok)  # one pass, no gathered copies
        t &= ~ok
        if not t.any():
            return out
    out[todo] = float(np.median(v[has])) if has.any() else 0.0
    return out


def _ui_islands(valid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Small valid islands that are most likely camera UI the overlay mask left over (True = drop).

    A coloured icon inside a dark label box (FLIR's red spot-meter dot) or a logo piece is a small valid
    island in a window that is mostly invalid: dropped when ≥ ``UI_ENCLOSED`` of the window around it (three
    times its box) is invalid, or when ≥ ``UI_PARTLY`` is invalid and it is more than half the scene's span
    hotter than the valid pixels around it (a white logo on the sky). A hot joint inside the camera's
    crosshair circle is an island too, but its window is mostly scene and its surroundings are warm.
    """
    h, w = valid.shape
    n, lab, stats, _ = cv2.connectedComponentsWithStats(valid.view(np.uint8), connectivity=4)
    drop = np.zeros_like(valid)
    if n <= 2:
        return drop
    span = None
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area > UI_ISLAND_AREA * h * w:
            continue
        x0, y0, x1, y1 = max(0, x - bw), max(0, y - bh), min(w, x + 2 * bw), min(h, y + 2 * bh)
        win_valid = valid[y0:y1, x0:x1]
        invalid_frac = 1.0 - float(win_valid.mean())
        isl = lab[y0:y1, x0:x1] == i
        if invalid_frac >= UI_ENCLOSED:
            drop[y0:y1, x0:x1] |= isl
        elif invalid_frac >= UI_PARTLY:
            if span is None:
                lo_hi = np.percentile(values[valid][::3], [0.5, 99.5])
                span = float(lo_hi[1] - lo_hi[0])
            around = win_valid & ~isl
            if (
                around.any()
                and np.median(values[y0:y1, x0:x1][isl]) - np.median(values[y0:y1, x0:x1][around])
                > 0.5 * span
            ):
                drop[y0:y1, x0:x1] |= isl
    return drop


def _background(v: np.ndarray, k: int) -> np.ndarray:
    """What the scene looks like without anything smaller than ``k`` px: the larger of two openings, by a
    disc (rotation-free) and by a square (keeps the corners of tanks and radiators, which a disc cuts off).

    Large windows run on a 2×2 min-pooled copy (4× cheaper; min-pooling keeps the opening from rising onto
    small hot things) and are brought back by linear interpolation, then a 3×3 max so that the pooled copy's
    soft edges do not leave a rim of false rise around large warm bodies (the caller caps it by the scene).
    """
    h, w = v.shape
    pooled = k >= 15 and min(h, w) >= 8
    src = cv2.erode(v, np.ones((2, 2), np.uint8), anchor=(0, 0))[::2, ::2] if pooled else v
    kk = max(3, k // 2) | 1 if pooled else k
    disc = cv2.morphologyEx(src, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kk, kk)))
    square = cv2.morphologyEx(src, cv2.MORPH_OPEN, np.ones((kk, kk), np.uint8))
    bg = np.maximum(disc, square)
    if pooled:
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
        bg = cv2.dilate(bg, np.ones((3, 3), np.uint8))
    return bg


def _near_big_overlay(valid: np.ndarray) -> np.ndarray:
    """Pixels within ``UI_MARGIN`` of the long side from the image frame or a large solid invalid area
    (colour bar, label box).

    Overlay masks tend to stop a few pixels short of a bar's frame or a label's backing box, and those
    leftover rims decode as scale-end colours; a hot joint is rarely right against a burned-in label.
    Thin UI (crosshairs, measurement-box corners, often drawn right around the hot spot) does not count:
    only what survives an erosion by a 5×5 square is solid.
    """
    h, w = valid.shape
    solid = cv2.erode((~valid).view(np.uint8), np.ones((5, 5), np.uint8), borderValue=1)
    # only areas are needed: labels and a bincount, not OpenCV's statistics (~2 ms more at 512 px)
    n, lab = cv2.connectedComponents(solid, connectivity=8)
    is_big = np.bincount(lab.ravel(), minlength=n) >= UI_BIG_AREA * h * w
    is_big[0] = False
    r = max(1, int(round(UI_MARGIN * max(h, w)))) + 2
    near = cv2.dilate(lookup(is_big.view(np.uint8), lab), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    # the image frame counts as such an area: screenshots have frames, and the opening sees half a window
    near[:r] = near[-r:] = True
    near[:, :r] = near[:, -r:] = True
    return near


def _downscaled(
    values: np.ndarray, valid: np.ndarray, size: tuple[int, int], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(valid-weighted sum of ``values - lo``, valid weight, their ``k``×``k`` max-pooled peaks, ``lo``):
    area averages at ``size`` (W, H), so the caller can divide the first by the second.

    Invalid pixels carry no weight; a cheap lower bound ``lo`` keeps them out of the max-pooled peaks,
    where the peaks of spots smaller than a working pixel survive. Both averages come from one area
    resize of a two-channel copy: OpenCV sums each channel the same way, in half the passes (a 6 MP map:
    two resizes 24 ms, the copy and one resize 15-21 ms).
    """
    lo = float(values[::8, ::8].min())
    vz = values - lo
    vz *= valid  # the same as multiplying by the 0/1 weight
    vmax = cv2.resize(cv2.dilate(vz, np.ones((k, k), np.uint8)), size, interpolation=cv2.INTER_NEAREST)
    both = np.empty((*values.shape, 2), np.float32)
    both[..., 0] = vz
    both[..., 1] = valid
    small = cv2.resize(both, size, interpolation=cv2.INTER_AREA)
    return small[..., 0], small[..., 1], vmax, lo


class _Work:
    """The downscaled, filled temperatures and their rise map, shared by both public functions."""

    def __init__(self, temp: TemperatureMap, scale: float | None) -> None:
        values, valid = _check(temp)
        self.shape = values.shape
        h, w = values.shape
        self.f = min(1.0, WORK_SIDE / max(h, w))
        size = (max(1, round(w * self.f)), max(1, round(h * self.f)))
        if self.f < 1.0:
            vz, wt, vmax, lo = _downscaled(values, valid, size, int(np.ceil(1.0 / self.f)))
        else:
            wt = valid.astype(np.float32)
            lo = 0.0
            vz = values * wt
            vmax = vz
        has = wt > 1e-3
        # in place, float32 throughout: the same values as a where-then-add, without three temporaries
        v = vz / np.maximum(wt, 1e-6)
        v[~has] = 0.0
        v += lo
        self.dropped = _ui_islands(wt >= 0.5, v)
        has &= ~self.dropped
        self.valid = (wt >= 0.5) & ~self.dropped
        self.values = _fill(v, has)
        self.peak_values = np.where(has, np.maximum(vmax + lo, self.values), self.values).astype(
            np.float32, copy=False
        )
        self.ambient = float(np.median(self.values[self.valid])) if self.valid.any() else 0.0
        frac = DEFAULT_SCALE if scale is None else float(scale)
        if not 0.0 < frac <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        k = max(3, int(round(frac * max(self.values.shape)))) | 1
        smooth = cv2.GaussianBlur(self.values, (0, 0), 0.8)
        self.background = np.minimum(_background(smooth, k), smooth)
        rise = smooth - self.background
        rise[~self.valid | _near_big_overlay(self.valid | self.dropped)] = 0.0
        self.rise = rise.astype(np.float32, copy=False)
        self.full_valid = valid


def hotspot_map(temp: TemperatureMap, *, scale: float | None = None) -> np.ndarray:
    """H×W float32 rise of each pixel over its local background; 0 = nothing, invalid pixels 0.

    °C when ``temp.unit == "C"``, else fractions of the colour scale's span. ``scale`` is the background
    disc's diameter as a fraction of the long side (default ``DEFAULT_SCALE``): spots smaller than it count.
    """
    work = _Work(temp, scale)
    h, w = work.shape
    out = np.clip(work.rise, 0.0, None)
    if out.shape != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        dropped = cv2.resize(work.dropped.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        out *= work.full_valid & (dropped == 0)
    else:
        out = out * work.full_valid
    return out.astype(np.float32, copy=False)


def _grade(dt: float, table: tuple[tuple[float, str], ...]) -> str:
    for i, (bound, name) in enumerate(table):
        if (dt >= bound) if i == len(table) - 1 else (dt > bound):
            return name
    return "none"


def severity(delta_t: float, delta_t_ambient: float, unit: str) -> tuple[str, str, str]:
    """(worse, vs-similar, vs-ambient) NETA MTS ratings; relative units get ``"relative: "`` buckets."""
    rel = unit != "C"
    sim = _grade(delta_t, SIMILAR_REL if rel else SIMILAR_C)
    amb = _grade(delta_t_ambient, AMBIENT_REL if rel else AMBIENT_C)
    worst = sim if Severity.parse(sim)[0] >= Severity.parse(amb)[0] else amb
    if rel:
        return tuple(RELATIVE_PREFIX + s for s in (worst, sim, amb))  # type: ignore[return-value]
    return worst, sim, amb


def _elongation(mask: np.ndarray) -> float:
    """Length / width of a blob, robust to bends: area / (2 × largest inscribed radius)²."""
    # a zero frame so the blob's edge on the box's border counts (OpenCV's border: no np.pad overhead)
    m = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    r = float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max())
    return float(mask.sum()) / max(4.0 * r * r, 1.0)


def _axis(mask: np.ndarray, elongation: float) -> tuple[float, bool]:
    """(angle of the principal axis in radians, whether the blob is a straight long part that has one).

    Straight and long: its second moments say it is at least ``STRUCTURE_ELONGATION`` times longer than wide
    and at least ``STRAIGHT_SHARE`` of its ``elongation`` (for a straight bar the two measures agree; a bent
    wire or an arc is long by its inscribed circle but short and fat by its moments, and points nowhere).
    """
    mo = cv2.moments(mask.view(np.uint8), binaryImage=True)
    a, b, c = mo["mu20"], mo["mu02"], mo["mu11"]
    spread = math.hypot(a - b, 2.0 * c)
    major, minor = (a + b + spread) / 2.0, (a + b - spread) / 2.0
    ratio = math.sqrt(major / max(minor, 1e-9))  # length / width of the equivalent bar
    return 0.5 * math.atan2(2.0 * c, a - b), ratio >= max(STRUCTURE_ELONGATION, STRAIGHT_SHARE * elongation)


def _similar(
    j: int, areas: np.ndarray, elong: np.ndarray, angles: np.ndarray, directed: np.ndarray
) -> np.ndarray:
    """Which candidates are components of the same kind as candidate ``j`` (bool per candidate, ``j`` False).

    All: length / width within ``PEER_ELONGATION``. Two straight long parts (both ``directed``): their axes
    agree within ``PEER_ANGLE`` and their thickness within ``PEER_WIDTH_RATIO``, however much of each is warm.
    Any other pair: areas within ``PEER_AREA_RATIO``.
    """
    lengths = np.abs(np.log(elong / elong[j])) <= np.log(PEER_ELONGATION)
    turn = np.abs(angles - angles[j]) % math.pi
    aligned = np.minimum(turn, math.pi - turn) <= math.radians(PEER_ANGLE)
    width = np.sqrt(areas / elong)  # 2 × the largest inscribed radius (see _elongation)
    thick = np.abs(np.log(width / width[j])) <= np.log(PEER_WIDTH_RATIO)
    sized = np.abs(np.log(areas / areas[j])) <= np.log(PEER_AREA_RATIO)
    out = lengths & np.where(directed & directed[j], aligned & thick, sized)
    out[j] = False
    return out


def fault_type(region: np.ndarray, structure: np.ndarray) -> str:
    """Name the fault from shape and place (boolean masks on one grid; ``region`` ⊆ ``structure``, the warm
    structure around it: pixels rising ≥ ``STRUCTURE_RISE`` × min_rise, connected to it).

    Rules measured against the dev set's polygon classes: 40 of 75 regions that overlap a polygon agree
    (the set is 92 % loose joints, so the classes are weak evidence either way).

    - ``full_wire_overload``: the hot part itself is long and thin (length/width ≥ ``WIRE_ELONGATION``):
      a whole conductor run is warm.
    - ``loose_joint``: a compact hot part on a larger elongated warm structure (a conductor or bushing, at
      least ``STRUCTURE_AREA_RATIO`` × its area and ≥ ``STRUCTURE_ELONGATION`` long): heat at a connection.
    - ``point_overload``: a compact hot part on its own.
    """
    if _elongation(region) >= WIRE_ELONGATION:
        return "full_wire_overload"
    if (
        structure.sum() >= STRUCTURE_AREA_RATIO * region.sum()
        and _elongation(structure) >= STRUCTURE_ELONGATION
    ):
        return "loose_joint"
    return "point_overload"


class _Structures:
    """The warm structures a hot part can sit on (labelled once) and their boxes (found on first use)."""

    def __init__(self, warm: np.ndarray) -> None:
        m = warm.view(np.uint8)
        self._n, self.labels = cv2.connectedComponents(m, connectivity=8)
        self._extent = cv2.boundingRect(m)
        self._boxes: np.ndarray | None = None

    def box(self, ids: np.ndarray) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) around the structures ``ids`` (labels > 0), end exclusive."""
        if self._boxes is None:
            # x, y, w, h per label, found within the warm pixels' box only
            self._boxes = label_boxes(self.labels, self._n, self._extent)
        b = self._boxes[ids]
        return (
            int(b[:, 1].min()),
            int(b[:, 0].min()),
            int((b[:, 1] + b[:, 3]).max()),
            int((b[:, 0] + b[:, 2]).max()),
        )


def _structure_fault(hot: np.ndarray, x: int, y: int, structures: _Structures) -> str:
    """``fault_type`` of a hot part (placed at x, y) on the low-threshold structure it belongs to (only the
    structures' box is looked at: a whole-image mask per hot spot cost more than the rest of the rating)."""
    ys, xs = np.nonzero(hot)
    ids = np.unique(structures.labels[y + ys, x + xs])
    ids = ids[ids > 0]
    if ids.size == 0:
        return fault_type(hot, hot)
    sy0, sx0, sy1, sx1 = structures.box(ids)
    y0, x0 = min(sy0, y), min(sx0, x)
    y1, x1 = max(sy1, y + hot.shape[0]), max(sx1, x + hot.shape[1])
    st = labels_in(structures.labels[y0:y1, x0:x1], ids)
    region = np.zeros((y1 - y0, x1 - x0), bool)
    region[y - y0 : y - y0 + hot.shape[0], x - x0 : x - x0 + hot.shape[1]] = hot
    return fault_type(region, st | region)


#: a hot spot's core smaller than this (working pixels) must contain this structuring element
MIN_CORE_PX = 16
_CORE = np.ones((3, 3), np.uint8)


def _blobs(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    n, lab, stats = connected_components(mask, connectivity=8)
    keep = [(i, stats[i]) for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    return lab, keep


#: a core whose edge falls by this share of its rise over the local background within one working pixel
#: is drawn: optics blur heat over several pixels, a flat glyph on a flat background falls by ~all of it
#: (measured on the working copy: a camera logo's glyphs 0.74-1.07, heat on the development faults <= 0.58;
#: at the picture's own resolution, or against the fall to a few pixels out, the two overlapped)
DRAWN_EDGE_DROP = 0.7
#: a hot spot's outline is the isotherm this share of its rise over the local background below its peak
#: (half way down: the full width at half maximum that a blurred spot's size is measured by)
ISOTHERM_SHARE = 0.5
#: peers' boxes listed with a hot spot (the closest in size), enough to check the comparison by eye
MAX_PEERS = 5


def _box_of(x: int, y: int, x1: int, y1: int, inv: float, shape: tuple[int, int]) -> list[int]:
    """A working-copy box (``x1``, ``y1`` exclusive) as [x0, y0, x1, y1] in original pixels."""
    return [
        int(x * inv),
        int(y * inv),
        min(shape[1], math.ceil(x1 * inv)),
        min(shape[0], math.ceil(y1 * inv)),
    ]


def _edge_drop(work: _Work, hot: np.ndarray, x: int, y: int, rise: float) -> float | None:
    """How far the temperature falls across a hot core's edge, one working pixel out, as a share of its
    ``rise`` over the local background (``hot``: the core, a working-copy mask placed at ``x, y``).

    Small for heat (optics blur it over several pixels, a clipped, saturated spot too), near 1 for a drawn
    glyph (a logo's white on the sky jumps from the scale's cold end to its hot end). None when no pixel
    around the core is a temperature (a glyph enclosed by the overlay mask).
    """
    h, w = work.values.shape
    y0, x0 = max(0, y - 2), max(0, x - 2)
    y1, x1 = min(h, y + hot.shape[0] + 2), min(w, x + hot.shape[1] + 2)
    core = np.zeros((y1 - y0, x1 - x0), np.uint8)
    core[y - y0 : y - y0 + hot.shape[0], x - x0 : x - x0 + hot.shape[1]] = hot
    ring = (cv2.dilate(core, _CORE) > 0) & (core == 0) & work.valid[y0:y1, x0:x1]
    edge = (core > 0) & (cv2.erode(core, _CORE, borderValue=1) == 0)
    if not ring.any():
        return None
    if not edge.any() or rise <= 0:
        return 0.0
    v = work.values[y0:y1, x0:x1]
    return float((v[edge].mean() - v[ring].mean()) / rise)


def find_hotspots(
    temp: TemperatureMap, *, min_rise: float | None = None, max_regions: int = 10, scale: float | None = None
) -> list[HotSpot]:
    """Regions warmer than their surroundings and than similar components, hottest rise first.

    Parameters
    ----------
    temp : TemperatureMap
        °C (``unit == "C"``) or relative (0 cold .. 1 hot over the colour scale) per pixel, with its
        ``valid`` mask (overlays and colours off the palette are not temperatures).
    min_rise : float, optional
        Required both of the rise over the local background and of ``delta_t``: °C, or a share of the
        scale for relative maps (default ``MIN_RISE_C`` / ``MIN_RISE_REL``).
    max_regions : int, default 10
        At most this many hot spots, the largest ``delta_t`` first.
    scale : float, optional
        The local background's disc as a share of the long side (default ``DEFAULT_SCALE``).

    Returns
    -------
    list of HotSpot
        Each a :class:`~thermal_anomaly.records.HotSpot`: ``box`` [x0, y0, x1, y1] and ``area`` in
        original pixels, ``max_temp``, ``mean_temp``, ``reference_temp``, ``reference`` ("similar" or
        "local"), ``peers`` (boxes of the similar components in its row, or elsewhere, compared with,
        closest in size first), ``peak`` [x, y] (the hottest pixel), ``delta_t``, ``delta_t_ambient``,
        ``unit``, ``severity`` (the worse of ``severity_similar`` and ``severity_ambient``, NETA MTS),
        ``fault_type``, ``score`` (= ``delta_t``), ``edge_drop`` (see :func:`_edge_drop`), and
        ``isotherm`` and ``component_box`` (see :func:`isotherm`).

    Examples
    --------
    >>> from thermal_anomaly.thermal.analysis import ThermalAnalysis
    >>> spots = find_hotspots(ThermalAnalysis.from_file("T1_faulty_001.jpg").temperature)  # doctest: +SKIP
    >>> spots[0].severity, round(spots[0].delta_t, 1)  # doctest: +SKIP
    ('deficiency', 11.3)
    """
    work = _Work(temp, scale)
    unit = "C" if temp.unit == "C" else "relative"
    # a picture may hold what the camera drew (text, markers) in its palette's colours; a radiometric file's
    # raw data hold only what the sensor measured, where a small sensor's hot joint can be a sharp speck
    drawn = temp.source != "radiometric"
    if min_rise is None:
        min_rise = MIN_RISE_C if unit == "C" else MIN_RISE_REL
    if not work.valid.any():
        return []
    sh, sw = work.rise.shape
    min_area = max(4, int(MIN_BLOB_AREA * sh * sw))
    # candidates: every warm blob, also the ones too mild to report, so normal phases can be peers
    lab, blobs = _blobs(work.rise >= 0.5 * min_rise, min_area)
    if not blobs:
        return []
    # the warm structures a hot part can sit on (conductors, bushings): a lower rise threshold
    structures = _Structures(work.rise >= STRUCTURE_RISE * min_rise)
    peaks, areas, elong, masks, axes = [], [], [], [], []
    for i, st in blobs:
        x, y, bw, bh, area = (int(v) for v in st)
        m = lab[y : y + bh, x : x + bw] == i
        peaks.append(float(work.peak_values[y : y + bh, x : x + bw][m].max()))
        areas.append(area)
        elong.append(_elongation(m))
        masks.append(m)
        axes.append(_axis(m, elong[-1]))
    peaks_a, areas_a, elong_a = np.array(peaks), np.array(areas, float), np.array(elong)
    angles_a = np.array([a for a, _d in axes])
    directed_a = np.array([d for _a, d in axes], bool)
    boxes = np.array([st[:4] for _i, st in blobs], float)
    mid_y, half_h = boxes[:, 1] + boxes[:, 3] / 2, boxes[:, 3] / 2
    inv = 1.0 / work.f
    out = []
    for j, (_i, st) in enumerate(blobs):
        x, y, bw, bh, _ = (int(v) for v in st)
        m = masks[j]
        r = work.rise[y : y + bh, x : x + bw]
        peak_rise = float(r[m].max())
        if peak_rise < min_rise:
            continue
        similar = _similar(j, areas_a, elong_a, angles_a, directed_a)
        # sister components stand side by side (phases, bushings, limbs): when some similar ones share this
        # one's row (their vertical extents overlap), they are its peers and the rest of the scene is not
        in_row = similar & (np.abs(mid_y - mid_y[j]) <= half_h + half_h[j])
        if in_row.any():
            similar = in_row
        peak = peaks_a[j]
        peers: list[list[int]] = []
        if similar.any():
            reference, ref_kind = float(np.median(peaks_a[similar])), "similar"
            # what it was compared with, closest in size first, so a person can check the comparison
            order = np.flatnonzero(similar)[np.argsort(np.abs(np.log(areas_a[similar] / areas_a[j])))]
            peers = [
                _box_of(bx, by, bx + bw_, by + bh_, inv, work.shape)
                for bx, by, bw_, bh_ in (blobs[k][1][:4] for k in order[:MAX_PEERS])
            ]
        else:
            yy, xx = np.unravel_index(np.argmax(np.where(m, r, -np.inf)), m.shape)
            reference, ref_kind = float(work.background[y + yy, x + xx]), "local"
        delta_t = peak - reference
        if delta_t < min_rise:
            continue
        # the reported region is the hot part: the blob's pixels within half of delta_t of its peak
        vals = work.peak_values[y : y + bh, x : x + bw]
        hot = m & (vals >= peak - 0.5 * delta_t)
        n, hl = cv2.connectedComponents(hot.astype(np.uint8), connectivity=8)
        if n > 2:
            hot = hl == hl.flat[int(np.argmax(np.where(hot, vals, -np.inf)))]
        if drawn and hot.sum() < MIN_CORE_PX and not cv2.erode(hot.view(np.uint8), _CORE).any():
            # a speck of a core, nowhere three working pixels thick, is a drawn stroke (a fragment of a
            # camera's max marker or of text in a palette colour), not a heat source: optics blur real
            # ones over several pixels (a thin hot wire is long, so its core is not a speck)
            continue
        drop = _edge_drop(work, hot, x, y, peak_rise)
        if drawn and (drop is None or drop >= DRAWN_EDGE_DROP):
            # drawn, not heat: a glyph inside the overlays, or one whose edge falls by its whole rise
            # within a working pixel (a logo's white on the sky)
            continue
        ys, xs = np.nonzero(hot)
        top = int(np.argmax(vals[hot]))  # same order as nonzero's
        d_amb = peak - work.ambient
        sev, sev_sim, sev_amb = severity(delta_t, d_amb, unit)
        out.append(
            HotSpot(
                box=_box_of(
                    x + int(xs.min()),
                    y + int(ys.min()),
                    x + int(xs.max()) + 1,
                    y + int(ys.max()) + 1,
                    inv,
                    work.shape,
                ),
                area=int(round(hot.sum() * inv * inv)),
                max_temp=float(peak),
                mean_temp=float(work.values[y : y + bh, x : x + bw][hot].mean()),
                reference_temp=reference,
                reference=ref_kind,
                delta_t=float(delta_t),
                delta_t_ambient=float(d_amb),
                unit=unit,
                severity=sev,
                severity_similar=sev_sim,
                severity_ambient=sev_amb,
                fault_type=_structure_fault(hot, x, y, structures),
                score=float(delta_t),
                peak=[int((x + xs[top]) * inv), int((y + ys[top]) * inv)],
                peers=peers,
                edge_drop=None if drop is None else round(drop, 3),
                # the outline a thermographer draws: the isotherm half way down the rise (see isotherm)
                isotherm=float(peak - ISOTHERM_SHARE * max(peak_rise, delta_t)),
                component_box=_box_of(x, y, x + bw, y + bh, inv, work.shape),
            )
        )
    out.sort(key=lambda d: -d.score)
    return out[: max(0, int(max_regions))]


def isotherm(temp: TemperatureMap, spot: HotSpot) -> np.ndarray:
    """H×W bool outline of a hot spot from :func:`find_hotspots`, at the map's own resolution: the connected
    region around its peak that is at least as warm as its ``isotherm`` level (``ISOTHERM_SHARE`` of its
    rise over the local background below the peak), within its warm component (``component_box``),
    overlays and other non-temperatures excluded. The same on a relative scale."""
    values, valid = _check(temp)
    out = np.zeros(values.shape, bool)
    box, ring = _isotherm_in_box(values, valid, spot)
    out[box] = ring
    return out


def _isotherm_in_box(
    values: np.ndarray, valid: np.ndarray, spot: HotSpot
) -> tuple[tuple[slice, slice], np.ndarray]:
    x0, y0, x1, y1 = (int(v) for v in spot.component_box)
    box = (slice(y0, y1), slice(x0, x1))
    warm = valid[box] & (values[box] >= float(spot.isotherm))
    if not warm.any():
        return box, warm
    _n, lab = cv2.connectedComponents(warm.view(np.uint8), connectivity=8)
    px, py = (int(v) for v in spot.peak or ((x0 + x1) // 2, (y0 + y1) // 2))
    k = lab[py - y0, px - x0] if (y0 <= py < y1 and x0 <= px < x1) else 0
    if k == 0:  # the peak fell on a resampled edge: the warmest piece
        k = lab.flat[int(np.argmax(np.where(warm, values[box], -np.inf)))]
    return box, lab == k
