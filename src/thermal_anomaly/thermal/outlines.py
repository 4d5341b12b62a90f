"""Outlines a thermographer draws: the isotherm around each learned region's peak, on the temperature map.

The learned detector says *where* something is wrong (its anomaly map, smoothed at patch scale); the
temperature map says *how far* the hot part reaches. A thermographer outlines a hot spot with an isotherm:
the connected region around the peak that is within a share of its rise of the peak temperature. Here, for
each region where the map passes the pixel threshold:

- the seed is the region's map peak (the warmest valid pixel of the region when the peak itself is no
  temperature: an overlay, an off-palette pixel);
- the local background is a low percentile (``BACKGROUND_PERCENTILE``) of the valid temperatures in a
  square window around the seed (half-side ``WINDOW`` of the image diagonal): what the component stands
  out from (sky, air, a cooler tank);
- the outline is the connected region around the seed at least ``OUTLINE_SHARE`` of the way up from that
  background to the seed's temperature (half way: the full width at half maximum by which a blurred heat
  source's size is measured), within the window (the component, not the whole warm tank), overlays and
  other non-temperatures excluded.

The same on a relative scale (0 cold .. 1 hot). A region with no valid temperature, or whose seed rises
less than a reportable hot spot (``hotspots.MIN_RISE_C`` / ``MIN_RISE_REL``) over that background, keeps
the map's threshold outline. Measured in ``benchmarks/outlines.py``.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..postprocess import connected_components, foreground_box
from .hotspots import MIN_RISE_C, MIN_RISE_REL
from .temperature import TemperatureMap

#: the outline is this share of the way from the local background up to the seed's temperature
OUTLINE_SHARE = 0.5
#: half-side of the window around the seed, share of the image diagonal (a joint and its lead, a bushing)
WINDOW = 0.05
#: the local background: this percentile of the valid temperatures in the window
BACKGROUND_PERCENTILE = 20


def _at_size(temp: TemperatureMap, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The map's values and validity at ``shape`` (a radiometric map comes at the sensor's size)."""
    values = np.asarray(temp.values, np.float32)
    valid = np.asarray(temp.valid, bool) & np.isfinite(values)
    if values.shape != shape:
        size = (shape[1], shape[0])
        values = cv2.resize(values, size, interpolation=cv2.INTER_NEAREST)
        valid = cv2.resize(valid.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return values, valid


def isotherm_outline(
    values: np.ndarray, valid: np.ndarray, seed: tuple[int, int], min_rise: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The isotherm around ``seed`` (y, x) as (its window as slices, the outline within it), or None when
    the seed is no temperature or rises less than ``min_rise`` over the background (nothing warm to
    outline: a flood fill of the window's noise would be no outline)."""
    h, w = values.shape
    r = max(4, int(round(WINDOW * float(np.hypot(h, w)))))
    sy, sx = seed
    box = (slice(max(0, sy - r), min(h, sy + r + 1)), slice(max(0, sx - r), min(w, sx + r + 1)))
    v, ok = values[box], valid[box]
    if not ok.any() or not ok[sy - box[0].start, sx - box[1].start]:
        return None
    background = float(np.percentile(v[ok], BACKGROUND_PERCENTILE))
    top = float(v[sy - box[0].start, sx - box[1].start])
    if top - background < min_rise:
        return None
    level = top - OUTLINE_SHARE * max(0.0, top - background)
    warm = (ok & (v >= level)).view(np.uint8)
    _n, lab = cv2.connectedComponents(warm, connectivity=8)
    return box, lab == lab[sy - box[0].start, sx - box[1].start]


def outline_regions(temp: TemperatureMap, anomaly_map: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """H×W bool: each connected region of ``learned`` (where the map passes the pixel threshold, at the
    map's size) replaced by the isotherm around its peak (see the module's docstring)."""
    learned = np.asarray(learned, bool)
    out = np.zeros(learned.shape, bool)
    crop = foreground_box(learned)
    if crop is None:
        return out
    values, valid = _at_size(temp, learned.shape)
    min_rise = MIN_RISE_C if temp.unit == "C" else MIN_RISE_REL
    n, labels, stats = connected_components(learned[crop])
    y0, x0 = crop[0].start, crop[1].start
    for k in range(1, n):
        x, y, bw, bh, _area = (int(s) for s in stats[k])
        box = (slice(y0 + y, y0 + y + bh), slice(x0 + x, x0 + x + bw))
        region = labels[y : y + bh, x : x + bw] == k
        # the map's peak among the region's temperatures (its own peak when that is one)
        score = np.where(region & valid[box], anomaly_map[box], -np.inf)
        if not np.isfinite(score).any():
            out[box] |= region
            continue
        py, px = np.unravel_index(int(np.argmax(score)), score.shape)
        iso = isotherm_outline(values, valid, (box[0].start + py, box[1].start + px), min_rise)
        if iso is None:
            out[box] |= region
            continue
        wbox, ring = iso
        out[wbox] |= ring
    return out
