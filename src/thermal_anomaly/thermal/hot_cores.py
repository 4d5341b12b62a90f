"""Saturated hot spots that the overlay search took for camera text: heat, given back to the scene.

The overlay search (:mod:`.overlays`) knows no palette: it masks thin, light, grey strokes that stand out from
their surroundings, which is what camera text is. The white (or pale yellow) core of a saturated hot spot that
is narrow (a hot pipe, a heating element, a wire at its clipping point) looks the same to it, so the hottest
thing in the picture was masked as UI and carried no heat. Once the picture's palette is known, the two differ:
a hot core is the scale's hot end, or white above it, and it is ringed by the hot end grading down (the optics
blur heat into its surroundings), while text, logos and box lines sit on whatever scene lies beneath them,
usually cold sky or a dark backing box.

A component of light overlay pixels is given back when most of its pixels read as the hot end (or are white),
it holds a solid core (a 3×3 square fits: a crosshair's 1-2 px arms do not), most of the palette pixels just
around it are at the hot end, and they are warmer than the scene a few pixels further out (heat falls off away
from its core). The colour bar with its legend and the picture's border band stay overlay (a bar's own hot end
is ringed by its hot end too). Judged on a copy at most ``WORK_SIDE`` long, as the overlays were found.

Not solved: an element far hotter than its surroundings whose blur is narrower than a sensor pixel (a
heating wire at 200 °C) is a white line on a cooler scene, as text is; its ring is not the hot end and it stays
masked.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..postprocess import foreground_box
from .palette import ImageColours, channel_range, colour_positions, lookup, sampled_copy, upsize_mask
from .temperature import ABOVE_LO, HOT_END, RING_RADIUS

#: overlay pixels at least this light (channel min) are candidates: what the stroke test can have masked
CANDIDATE_LO = 0.6
#: share of a component's pixels that must read as the hot end of the scale (or white above it)
CORE_HOT_SHARE = 0.8
#: share of the palette pixels in the ring around a component that must be at the hot end: most of them. A
#: white saturated spot counts as heat when half its ring is (``temperature.HOT_RING_SHARE``); here the
#: component was found as UI, and a UI line drawn across a hot region has a hot ring too (T1's measurement
#: boxes over a hot tank: 56-70 % of their ring; hot cores: 82-100 %)
RING_HOT_SHARE = 0.8
#: fewest palette pixels in the ring around a component for its colours to say anything
MIN_RING_PX = 6
#: the scene beyond the ring, out to this many px from the component: a hot core's surroundings cool
#: with distance (the optics blur heat outwards), text's lie flat
OUTER_PX = 6
#: the ring must be warmer than the outer band by this much (position on the scale)
FALL = 0.05
#: a component's give-back grows by this many px into the overlay: the stroke mask's own 3×3 rim
GROW_PX = 2


def hot_cores(
    rgb: np.ndarray,
    overlay: np.ndarray,
    lut: np.ndarray,
    keep: tuple[int, int, int, int] | None = None,
    border: int = 0,
) -> np.ndarray:
    """H×W bool: the overlay pixels that are saturated heat (see the module's docstring).

    ``lut`` is the picture's palette (cold first); ``keep`` a box (x0, y0, x1, y1, exclusive) that stays
    overlay whatever its colours (the colour bar and its legend), ``border`` the width (px) of the picture's
    frame band, which stays overlay too. Judged on a copy at most ``WORK_SIDE`` long (sampled, so its colours
    are the picture's), where the overlay search ran too.
    """
    h, w = overlay.shape
    small, scale = sampled_copy(rgb)
    ov = upsize_mask(overlay, small.shape[:2])
    free = np.ones(ov.shape, bool)  # where overlay may be given back, on the copy
    _protect(free, keep, border, scale)
    given = _given_back(small, ov, free, lut)
    if given is None:
        return np.zeros((h, w), bool)
    given = upsize_mask(given, (h, w)) & overlay
    _protect(given, keep, border, 1.0)  # the same boxes at full size (a rounded copy's edges may bleed)
    return given


def _protect(mask: np.ndarray, keep: tuple[int, int, int, int] | None, border: int, scale: float) -> None:
    """Clear, in place, the frame band ``border`` px wide and the box ``keep`` (full-size pixels, drawn on a
    mask ``scale`` times the picture's size)."""
    b = int(np.ceil(border * scale))
    if b > 0:
        mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = False, False, False, False
    if keep is not None:
        x0, y0, x1, y1 = (int(round(v * scale)) for v in keep)
        mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = False


def _given_back(rgb: np.ndarray, overlay: np.ndarray, free: np.ndarray, lut: np.ndarray) -> np.ndarray | None:
    """The test of :func:`hot_cores` on one copy: the overlay pixels given back, or None for none."""
    cand = overlay & free
    box = foreground_box(cand)
    if box is None:
        return None
    # what the stroke test can have masked: light pixels (the channel min the overlay search took, in scope)
    lo = channel_range(rgb)[0]
    cand = np.zeros(cand.shape, bool)
    cand[box] = overlay[box] & free[box] & (lo[box] > CANDIDATE_LO)
    # a solid core: components without a 3×3 square of candidates are thin lines (reticles, text)
    core = cv2.erode(cand[box].view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not core.any():
        return None
    n, lab_box = cv2.connectedComponents(cand[box].view(np.uint8), connectivity=8)
    solid = np.zeros(n, bool)
    solid[lab_box[core]] = True
    solid[0] = False
    # everything below on the box around the solid components and their surroundings
    h, w = cand.shape
    ys, xs = np.nonzero(solid[lab_box])
    m = OUTER_PX + 1
    y0, y1 = max(0, box[0].start + int(ys.min()) - m), min(h, box[0].start + int(ys.max()) + m + 1)
    x0, x1 = max(0, box[1].start + int(xs.min()) - m), min(w, box[1].start + int(xs.max()) + m + 1)
    sub = (slice(y0, y1), slice(x0, x1))
    lab = np.zeros((y1 - y0, x1 - x0), np.int32)
    # the box's labels placed into the sub-window (the sub-window may reach beyond the candidates' box)
    by0, bx0 = box[0].start - y0, box[1].start - x0
    oy0, ox0 = max(0, by0), max(0, bx0)
    oy1 = min(y1 - y0, by0 + lab_box.shape[0])
    ox1 = min(x1 - x0, bx0 + lab_box.shape[1])
    lab[oy0:oy1, ox0:ox1] = lab_box[oy0 - by0 : oy1 - by0, ox0 - bx0 : ox1 - bx0]
    c = cand[sub]
    member = lookup(solid, lab)
    # the ring: pixels within RING_RADIUS of a solid component, outside every candidate (labels grown by
    # max: touching components share a ring); beyond it, out to OUTER_PX, what the ring is compared with
    kept = np.where(member, lab, 0).astype(np.float32)
    size = 2 * RING_RADIUS + 1
    grown = cv2.dilate(kept, np.ones((size, size), np.uint8)).astype(np.int64)
    far = cv2.dilate(kept, np.ones((2 * OUTER_PX + 1, 2 * OUTER_PX + 1), np.uint8)).astype(np.int64)
    ring = (grown > 0) & ~c
    outer = (far > 0) & (grown == 0) & ~overlay[sub]
    part = rgb[sub]
    pos, bad = _positions(part, ring | member | outer, lut)  # one nearest-colour lookup of them all
    hot_px = ~bad & (pos >= HOT_END)
    white = lo[sub] > ABOVE_LO
    inside_hot = np.bincount(lab[member & (hot_px | white)], minlength=n)
    inside = np.bincount(lab[member], minlength=n)
    heat = solid & (inside_hot >= CORE_HOT_SHARE * np.maximum(inside, 1))
    for k in np.flatnonzero(heat):
        r = pos[ring & ~bad & (grown == k)]
        o = pos[outer & ~bad & (far == k)]
        heat[k] = (
            len(r) >= MIN_RING_PX
            and len(o) >= MIN_RING_PX
            and np.count_nonzero(r >= HOT_END) >= RING_HOT_SHARE * len(r)
            and float(np.median(r)) >= float(np.median(o)) + FALL
        )
    heat[0] = False
    if not heat.any():
        return None
    given = (
        cv2.dilate(lookup(heat, lab).view(np.uint8), np.ones((2 * GROW_PX + 1, 2 * GROW_PX + 1), np.uint8))
        > 0
    )
    out = np.zeros((h, w), bool)
    out[sub] = given
    return out


def _positions(rgb: np.ndarray, where: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position on the palette, off the palette) of the pixels ``where`` (0 and False elsewhere): one
    nearest-colour lookup of their distinct colours."""
    h, w = where.shape
    pos = np.zeros((h, w), np.float32)
    bad = np.zeros((h, w), bool)
    if not where.any():
        return pos, bad
    rgb8 = np.clip(rgb[where] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    colours = ImageColours(rgb8[None])
    pos_u, bad_u = colour_positions(colours, lut, workers=1)
    pos[where] = colours.per_pixel(pos_u).ravel()
    bad[where] = colours.per_pixel(bad_u).ravel()
    return pos, bad
