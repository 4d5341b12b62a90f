"""Burned-in camera UI (logos, text, colour bars, timestamps, measurement boxes, margins) as a pixel mask.

Everything is found from image evidence, not camera-specific coordinates:
- colour bars: long thin strips whose colours run through a palette (``colorbar.bar_boxes``);
- margins: bands at the image border that are almost entirely near-white;
- text, logos, boxes, reticles: thin strokes that are bright and grey/white (or very dark) and stand out
  sharply from their surroundings; a tight group of such strokes (a label) also takes its dark backing box.
Hot components are compact and blurred by the optics, so a morphological top-hat of a few pixels keeps them out.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .colorbar import bar_boxes_fine, bar_work_copy
from .palette import (
    chan_max,
    chan_min,
    channel_range,
    component_boxes,
    lookup,
    shared,
    upsize_mask,
    work_copy,
)

#: a margin pixel is near-white (channel min); a column/row is margin when this share of it is; a margin
#: band is narrower than MARGIN_MAX_SHARE of the side (a wider white band is more likely scene than margin)
MARGIN_WHITE = 0.85
MARGIN_BAND = 0.7
MARGIN_MAX_SHARE = 0.45


def _margins(small: np.ndarray, lo: np.ndarray | None = None) -> np.ndarray:
    """Near-white bands touching the image border (report/exporter margins). ``lo``: ``chan_min(small)``."""
    h, w = small.shape[:2]
    white = (chan_min(small) if lo is None else lo) > MARGIN_WHITE
    out = np.zeros((h, w), bool)
    for axis, n in ((0, w), (1, h)):  # axis 0: columns (fraction over rows), axis 1: rows
        # share of white pixels per column/row (the same float64 values as white.mean(axis), ~10x faster)
        frac = (
            cv2.reduce(white.view(np.uint8), axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
            / white.shape[axis]
        )
        band = frac > MARGIN_BAND
        for idx in (range(n), range(n - 1, -1, -1)):
            last = -1
            misses = 0
            for i in idx:
                if band[i]:
                    last, misses = i, 0
                else:
                    misses += 1
                    if misses > max(2, n // 100):
                        break
            if last < 0:
                continue
            first = idx[0]
            lo, hi = sorted((first, last))
            if hi - lo + 1 >= 3 and (hi - lo + 1) < MARGIN_MAX_SHARE * n:
                if axis == 0:
                    out[:, lo : hi + 1] = True
                else:
                    out[lo : hi + 1, :] = True
    return out


#: stroke half-width (px at 640 px) that still counts as "thin": UI text and lines; heat is blurred wider
STROKE_RADIUS_640 = 4
#: UI strokes are light (channel min above STROKE_LO) and grey (channel spread below STROKE_SAT), and stand
#: out from what is around them by more than STROKE_HAT (top-hat of the channel min)
STROKE_LO = 0.6
STROKE_SAT = 0.3
STROKE_HAT = 0.3


def _strokes(small: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> np.ndarray:
    """Thin high-contrast bright-grey strokes (text, logos, box lines, reticles).

    Dark strokes are not used: night scenes have black sky with speckle that looks just like dark text.
    ``lo``/``hi``: the per-pixel channel min/max of ``small`` when already computed.
    """
    h, w = small.shape[:2]
    r = max(2, round(STROKE_RADIUS_640 * max(h, w) / 640))  # stroke half-width that still counts as "thin"
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    lo = chan_min(small) if lo is None else lo
    hi = chan_max(small) if hi is None else hi
    sat = hi - lo
    light = ((lo > STROKE_LO) & (sat < STROKE_SAT)).astype(np.uint8)
    thin = (cv2.morphologyEx(lo, cv2.MORPH_TOPHAT, k) > STROKE_HAT) & light.astype(bool)
    # a saturated-white hot blob has a ragged rim that the top-hat also keeps: drop strokes touching a blob
    blob = cv2.dilate(cv2.morphologyEx(light, cv2.MORPH_OPEN, k), k)
    # and white specks in a spot at the edge of saturation (noise around the scale's top) are heat too
    heat = cv2.dilate(_saturated_heat(lo, hi, k), np.ones((3, 3), np.uint8))
    return thin & (blob == 0) & (heat == 0)


#: white and the palette's hot colours blending into it are bright (channel max) and pale (channel min)
HEAT_HI = 0.85
HEAT_LO = 0.35
#: share of the ring around a saturated spot that must be bright: the hot end grading down, not a UI box's edge
HEAT_RING = 0.5


def _saturated_heat(lo: np.ndarray, hi: np.ndarray, k: np.ndarray) -> np.ndarray:
    """uint8 mask of saturated hot spots: pale, bright regions with a solid core (``k`` fits inside) that are
    ringed by bright colours (the palette's hot end grading down). The optics blur heat into such compact
    bodies; camera text is thin strokes on whatever lies beneath, often a dark box."""
    pale = ((hi > HEAT_HI) & (lo > HEAT_LO)).view(np.uint8)
    core = cv2.morphologyEx(pale, cv2.MORPH_OPEN, k)
    if not core.any():
        return np.zeros_like(pale)
    n, lab = cv2.connectedComponents(pale, connectivity=8)
    solid = np.zeros(n, bool)
    solid[lab[core > 0]] = True
    # the ring: pixels just outside a component (labels grown by max: touching components share a ring).
    # Labels are grown as uint16 when they fit (exact, and cheaper than a float32 round trip; a 640 px
    # picture's function ~3.7 -> ~2.4 ms with the gather below), as float32 (exact below 2**24) otherwise;
    # the ring's pixels are the unlabelled ones, pale == 0
    if n <= np.iinfo(np.uint16).max:
        grown = cv2.dilate(lab.astype(np.uint16), np.ones((5, 5), np.uint8))
    else:
        grown = cv2.dilate(lab.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int64)
    ring = (pale == 0) & (grown > 0)
    total = np.bincount(grown[ring], minlength=n)
    bright = np.bincount(grown[ring & (hi > HEAT_HI)], minlength=n)
    keep = solid & (bright >= HEAT_RING * np.maximum(total, 1))
    keep[0] = False
    return lookup(keep.view(np.uint8), lab)


#: a colour this close to neutral (channel max - min) is UI grey, not a colour of a chromatic palette
NEUTRAL_SAT = 0.06
#: the grey fill of a logo/icon starts this light (channel min); darker greys are shadows and sky
NEUTRAL_LO = 0.35
#: ... and stays below this: near-white is a margin or a white-hot end, not a grey fill
NEUTRAL_HI = 0.9


def _grey_fills(strokes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Strokes grown into the flat neutral-grey fills they outline (a logo's solid diamond, an icon's body).

    The stroke test keeps only what is thin, so the solid part of a logo drawn in flat grey stays scene and
    decodes as heat. A chromatic palette (iron, rainbow) has no neutral greys short of its white end, so
    grey pixels connected to a stroke are UI. Growth is geodesic (at most a few stroke widths) and only in
    pictures whose scene is chromatic: in a white-hot or black-hot picture every pixel is grey.
    """
    if not strokes.any():
        return strokes
    sat = hi - lo
    if float(np.median(sat[::4, ::4])) < 3 * NEUTRAL_SAT:  # a grey palette: greys are temperatures
        return strokes
    grey = ((sat < NEUTRAL_SAT) & (lo > NEUTRAL_LO) & (lo < NEUTRAL_HI)).view(np.uint8)
    h, w = strokes.shape
    r = max(2, round(STROKE_RADIUS_640 * max(h, w) / 640))
    grown = strokes.view(np.uint8).copy()
    cross = np.ones((3, 3), np.uint8)
    for _ in range(3 * r):
        nxt = cv2.dilate(grown, cross) & (grey | grown)
        if np.array_equal(nxt, grown):
            break
        grown = nxt
    return grown.view(bool)


#: a neutral fill touching the UI is UI when it is this small (share of the picture's area)
FILL_MAX_SHARE = 0.001


def ui_fills(overlay: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Small neutral (white or grey) regions that touch the UI mask (``overlay``): a logo's solid white body
    (FLIR's diamond), a glyph's counter.

    The stroke test keeps only what is thin and ``_grey_fills`` stops short of white (the hot end of rainbow
    palettes), so these stay outside the overlay and decode as the top of the scale: in 56 of the 88
    development pictures the hottest "valid" pixel lay within 3 px of an overlay, most on FLIR's logo. A
    neutral region this small against the camera's UI is drawn by it; a clipped hot spot beside a label is
    rarely so small. Not part of ``overlay_mask``: there they changed what the learned model leaves out and
    flagged more normals (12 -> 25 %); the analysis reads them as no temperature
    (``ThermalAnalysis.ui_fills``).
    """
    if not overlay.any():
        return np.zeros(overlay.shape, bool)
    h, w = overlay.shape
    neutral = (((hi - lo) < 2 * NEUTRAL_SAT) & (lo > NEUTRAL_LO) & ~overlay).view(np.uint8)
    # the labels alone (OpenCV's statistics pass costs ~5x the labelling), then everything per neutral pixel:
    # they are few (0.04-0.1 % of a T1 picture), so their areas and touches are bincounts of their labels
    n, labels = cv2.connectedComponents(neutral, connectivity=8)
    if n <= 1:
        return np.zeros(overlay.shape, bool)
    ys, xs = np.nonzero(neutral)
    ids = labels[ys, xs]
    small = np.bincount(ids, minlength=n) <= FILL_MAX_SHARE * h * w
    small[0] = False  # the background label
    if not small.any():
        return np.zeros(overlay.shape, bool)
    rim = cv2.dilate(overlay.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    keep = small & (np.bincount(ids[rim[ys, xs]], minlength=n) > 0)
    out = np.zeros(overlay.shape, bool)
    mine = keep[ids]
    out[ys[mine], xs[mine]] = True
    return out


#: a label's backing box is dark (channel max below BACKING_HI) and unsaturated (spread below BACKING_SAT):
#: not a palette colour
BACKING_HI = 0.3
BACKING_SAT = 0.25
#: a label is small (at most this share of the image's height / width) and dense with strokes (at least
#: LABEL_DENSITY of its box): larger or sparser groups are scene texture
LABEL_MAX_H = 0.12
LABEL_MAX_W = 0.4
LABEL_DENSITY = 0.08


def _label_boxes(
    strokes: np.ndarray, small: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None
) -> np.ndarray:
    """Fill the dark/grey backing box around compact groups of strokes (text labels such as "38.0°C")."""
    h, w = strokes.shape
    r = max(3, round(6 * max(h, w) / 640))
    grouped = cv2.dilate(strokes.astype(np.uint8), np.ones((r, 2 * r + 1), np.uint8))
    out = np.zeros((h, w), bool)
    hi = chan_max(small) if hi is None else hi
    sat = hi - (chan_min(small) if lo is None else lo)
    backing = (hi < BACKING_HI) & (sat < BACKING_SAT)
    for x, y, bw, bh in component_boxes(grouped):  # any order: the boxes are or-ed together
        if bh > LABEL_MAX_H * h or bw > LABEL_MAX_W * w:
            continue
        density = strokes[y : y + bh, x : x + bw].mean()
        if density < LABEL_DENSITY:
            continue
        # the backing box: dark unsaturated pixels connected to the label and enclosed in a window around it
        # (dark sky would run out of the window; a label's box does not)
        py, px = max(4, bh), max(4, 3 * bh)
        y0, y1, x0, x1 = max(0, y - py), min(h, y + bh + py), max(0, x - px), min(w, x + bw + px)
        win = backing[y0:y1, x0:x1].astype(np.uint8)
        nb, blab = cv2.connectedComponents(win, connectivity=4)
        if nb > 1:
            near = cv2.dilate(strokes[y0:y1, x0:x1].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            # keep[i]: backing component i touches the label and does not leave the window (where the
            # window is not cut by the image edge); a lookup table rather than np.unique/np.isin
            keep = np.zeros(nb, bool)
            keep[blab[near & (win > 0)]] = True
            keep[0] = False
            for edge, inner in (
                (blab[0], y0 > 0),
                (blab[-1], y1 < h),
                (blab[:, 0], x0 > 0),
                (blab[:, -1], x1 < w),
            ):
                if inner:
                    keep[edge] = False
            if keep.any():
                out[y0:y1, x0:x1] |= keep[blab]
    return out


#: share of the long side masked at the image border (frame lines of screenshots)
BORDER_SHARE = 0.01
#: a bar this close to an image edge (in bar widths, or share of the image) sits in a legend panel
LEGEND_GAP_WIDTHS = 4.0
LEGEND_GAP_SHARE = 0.1
#: gap to the edge along the bar (share of the bar's length) that still belongs to the legend (unit label)
LEGEND_END_SHARE = 0.15
#: a legend's background is light (channel min above LEGEND_LO) and unsaturated (spread below LEGEND_SAT), or
#: the bar's own colour (within LEGEND_BAR_DIFF in every channel)
LEGEND_LO = 0.7
LEGEND_SAT = 0.2
LEGEND_BAR_DIFF = 0.15
#: a column joins the panel while at least this share of it is legend (labels printed on it take the rest)
LEGEND_COLUMN_SHARE = 0.5


def _legend_panel(
    box: tuple[float, float, float, float], orient: str, width: float, small: np.ndarray
) -> tuple[float, float, float, float]:
    """Grow a colour bar's box to the legend panel around it.

    A bar near an image edge is drawn in a panel that runs to that edge, holding its tick labels, ticks and
    frame (often painted over or beside the bar, so they break the palette and the strip search stops short
    of them); a short gap between a bar end and the edge holds the unit label. Cameras do not put scene
    between a bar and the image edge, so the panel is masked whole.
    """
    x0, y0, x1, y1 = box
    h, w = small.shape[:2]
    # legend pixels: the panel's light, unsaturated background, or the bar's own colour at that height (the
    # strip search may have found only a narrow band of a wide bar with labels drawn on it)
    img = small if orient == "vertical" else small.transpose(1, 0, 2)  # across the bar = axis 1
    if orient == "vertical":
        (a0, a1, n_across), (l0, l1, n_along) = (x0, x1, w), (y0, y1, h)
    else:
        (a0, a1, n_across), (l0, l1, n_along) = (y0, y1, h), (x0, x1, w)
    b0, b1 = int(a0), max(int(a0) + 1, int(np.ceil(a1)))
    rows = slice(max(0, int(l0)), max(int(l0) + 1, int(np.ceil(l1))))
    ref = np.median(img[rows, max(0, b0) : max(1, min(img.shape[1], b1))], axis=1, keepdims=True)

    def plain(c0: int, c1: int) -> np.ndarray:
        """Legend pixels of the bar's rows in columns c0:c1 (only the columns the panel edge can reach)."""
        part = img[rows, c0:c1]
        lo, hi = chan_min(part), chan_max(part)
        return ((lo > LEGEND_LO) & (hi - lo < LEGEND_SAT)) | (
            np.abs(part - ref).max(axis=2) < LEGEND_BAR_DIFF
        )

    gap_limit = max(LEGEND_GAP_WIDTHS * width, LEGEND_GAP_SHARE * n_across)
    # in a panel, the strip search often stops short of the bar's scene-side edge (ticks, frame): one more
    # bar width towards the scene covers it
    if a0 <= gap_limit:
        a0, a1 = 0, _grow(plain, n_across, a1 + width, +1, width)
    elif n_across - a1 <= gap_limit:
        a0, a1 = _grow(plain, n_across, a0 - width, -1, width), n_across
    end_limit = LEGEND_END_SHARE * (l1 - l0)
    if l0 <= end_limit:
        l0 = 0
    if n_along - l1 <= end_limit:
        l1 = n_along
    if orient == "vertical":
        return a0, l0, a1, l1
    return l0, a0, l1, a1


def _grow(
    plain: Callable[[int, int], np.ndarray], n_across: int, edge: float, step: int, width: float
) -> float:
    """Move a panel's scene-side edge on over columns that are mostly legend (at most 3 bar widths): the
    panel's white margin would otherwise read as "above the scale", the hottest thing there.

    ``plain(c0, c1)`` gives the legend pixels of the bar's rows in columns c0:c1."""
    pos = int(round(edge))
    n = int(3 * width) + 1
    c0, c1 = (pos, pos + n) if step > 0 else (pos - n, pos)
    c0, c1 = max(0, c0), min(n_across, c1)
    block = plain(c0, c1) if c1 > c0 else None
    for _ in range(n):
        nxt = pos + (0 if step > 0 else -1)
        if not 0 <= nxt < n_across or block[:, nxt - c0].mean() < LEGEND_COLUMN_SHARE:
            break
        pos += step
    return float(pos + 2 * step)  # and the panel's anti-aliased rim


#: a bar's box is padded across by this share of its width (outline, frame) plus 2 px, and along by
#: BAR_PAD_ALONG px (end caps), on the working copy
BAR_PAD_ACROSS = 0.35
BAR_PAD_ALONG = 3


def overlay_mask(image: np.ndarray) -> np.ndarray:
    """Bool H×W mask, True where the pixel is camera UI rather than scene.

    Accepts grey/RGB/RGBA, uint8/uint16/float. Large images are analysed on a ≤640 px copy (bars on a
    ≤1024 px copy) and the mask is returned at the original size. Within an ``image_scope`` it is computed
    once and the same array is returned to every caller (read it, do not change it).
    """
    return shared(image, "overlay_mask", lambda: _overlay_mask(image))


def _overlay_mask(image: np.ndarray) -> np.ndarray:
    H, W = np.shape(image)[:2]
    fine, _ = bar_work_copy(image)  # bars are thin: found on the finer copy (shared with colour decoding)
    small, s2 = shared(image, "overlay_work", lambda: work_copy(fine))
    h, w = small.shape[:2]
    lo, hi = channel_range(small)  # shared with ``ThermalAnalysis.ui_fills`` when it looks at the same copy
    mask = _margins(small, lo)
    # exported screenshots often carry a frame line or two; nothing at the very border can be judged anyway
    b = max(1, round(BORDER_SHARE * max(h, w)))
    mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = True, True, True, True
    strokes = _grey_fills(_strokes(small, lo, hi), lo, hi)
    mask |= _label_boxes(strokes, small, lo, hi)
    mask |= cv2.dilate(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for (x0, y0, x1, y1), orient in bar_boxes_fine(image)[0]:
        # pad across the bar for its outline/frame (about a third of its width, at least 2 px at 640 px)
        # and a little along it for end caps; coordinates go from the fine copy to the working copy
        across = (x1 - x0) if orient == "vertical" else (y1 - y0)
        pa = (BAR_PAD_ACROSS * across) * s2 + 2
        pl = BAR_PAD_ALONG
        if orient == "vertical":
            bx0, by0, bx1, by1 = x0 * s2 - pa, y0 * s2 - pl, x1 * s2 + pa, y1 * s2 + pl
        else:
            bx0, by0, bx1, by1 = x0 * s2 - pl, y0 * s2 - pa, x1 * s2 + pl, y1 * s2 + pa
        bx0, by0, bx1, by1 = _legend_panel((bx0, by0, bx1, by1), orient, across * s2, small)
        sx0, sy0 = max(0, int(bx0)), max(0, int(by0))
        sx1, sy1 = min(w, int(np.ceil(bx1))), min(h, int(np.ceil(by1)))
        mask[sy0:sy1, sx0:sx1] = True
    return upsize_mask(mask, (H, W))
