"""Burned-in camera UI (logos, text, colour bars, timestamps, measurement boxes, margins) as a pixel mask.

Everything is found from image evidence, not camera-specific coordinates:
- colour bars: long thin strips whose colours run through a palette (``colorbar.bar_boxes``);
- margins: bands at the image border that are almost entirely near-white;
- text, logos, boxes, reticles: thin strokes that are bright and grey/white (or very dark) and stand out
  sharply from their surroundings; a tight group of such strokes (a label) also takes its dark backing box.
Hot components are compact and blurred by the optics, so a morphological top-hat of a few pixels keeps them out.
"""

from __future__ import annotations

import cv2
import numpy as np

from .colorbar import BAR_SIDE, bar_boxes_work
from .palette import as_rgb_float, chan_max, chan_min, upsize_mask, work_copy


def _margins(small: np.ndarray) -> np.ndarray:
    """Near-white bands touching the image border (report/exporter margins)."""
    h, w = small.shape[:2]
    white = chan_min(small) > 0.85
    out = np.zeros((h, w), bool)
    for axis, n in ((0, w), (1, h)):  # axis 0: columns (fraction over rows), axis 1: rows
        frac = white.mean(axis=axis)
        band = frac > 0.7
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
            if hi - lo + 1 >= 3 and (hi - lo + 1) < 0.45 * n:
                if axis == 0:
                    out[:, lo : hi + 1] = True
                else:
                    out[lo : hi + 1, :] = True
    return out


def _strokes(small: np.ndarray) -> np.ndarray:
    """Thin high-contrast bright-grey strokes (text, logos, box lines, reticles).

    Dark strokes are not used: night scenes have black sky with speckle that looks just like dark text.
    """
    h, w = small.shape[:2]
    r = max(2, round(4 * max(h, w) / 640))  # stroke half-width that still counts as "thin"
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    lo = chan_min(small)
    hi = chan_max(small)
    sat = hi - lo
    light = ((lo > 0.6) & (sat < 0.3)).astype(np.uint8)
    thin = (cv2.morphologyEx(lo, cv2.MORPH_TOPHAT, k) > 0.3) & light.astype(bool)
    # a saturated-white hot blob has a ragged rim that the top-hat also keeps: drop strokes touching a blob
    blob = cv2.dilate(cv2.morphologyEx(light, cv2.MORPH_OPEN, k), k)
    return thin & (blob == 0)


def _label_boxes(strokes: np.ndarray, small: np.ndarray) -> np.ndarray:
    """Fill the dark/grey backing box around compact groups of strokes (text labels such as "38.0°C")."""
    h, w = strokes.shape
    r = max(3, round(6 * max(h, w) / 640))
    grouped = cv2.dilate(strokes.astype(np.uint8), np.ones((r, 2 * r + 1), np.uint8))
    n, _lab, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    out = np.zeros((h, w), bool)
    hi = chan_max(small)
    sat = hi - chan_min(small)
    backing = (hi < 0.3) & (sat < 0.25)  # dark, unsaturated: not a palette colour
    for i in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        if bh > 0.12 * h or bw > 0.4 * w:
            continue
        density = strokes[y : y + bh, x : x + bw].mean()
        if density < 0.08:
            continue
        # the backing box: dark unsaturated pixels connected to the label and enclosed in a window around it
        # (dark sky would run out of the window; a label's box does not)
        py, px = max(4, bh), max(4, 3 * bh)
        y0, y1, x0, x1 = max(0, y - py), min(h, y + bh + py), max(0, x - px), min(w, x + bw + px)
        win = backing[y0:y1, x0:x1].astype(np.uint8)
        nb, blab = cv2.connectedComponents(win, connectivity=4)
        if nb > 1:
            near = cv2.dilate(strokes[y0:y1, x0:x1].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            touching = np.unique(blab[near & (win > 0)])
            inner_edges = [b for b, lim in ((blab[0], y0 > 0), (blab[-1], y1 < h)) if lim] + [
                b for b, lim in ((blab[:, 0], x0 > 0), (blab[:, -1], x1 < w)) if lim
            ]
            edge_ids = np.unique(np.concatenate(inner_edges)) if inner_edges else np.array([], int)
            keep = [t for t in touching if t != 0 and t not in edge_ids]
            if keep:
                out[y0:y1, x0:x1] |= np.isin(blab, keep)
    return out


def overlay_mask(image: np.ndarray) -> np.ndarray:
    """Bool H×W mask, True where the pixel is camera UI rather than scene.

    Accepts grey/RGB/RGBA, uint8/uint16/float. Large images are analysed on a ≤640 px copy (bars on a
    ≤1024 px copy) and the mask is returned at the original size.
    """
    rgb = as_rgb_float(image)
    H, W = rgb.shape[:2]
    fine, fscale = work_copy(rgb, BAR_SIDE)  # bars are thin: find them on the finer copy
    small, s2 = work_copy(fine)
    h, w = small.shape[:2]
    mask = _margins(small)
    strokes = _strokes(small)
    mask |= _label_boxes(strokes, small)
    mask |= cv2.dilate(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for (x0, y0, x1, y1), orient in bar_boxes_work((fine * 255.0 + 0.5).astype(np.uint8)):
        # pad across the bar for its outline/frame (about a third of its width, at least 2 px at 640 px)
        # and a little along it for end caps; coordinates go from the fine copy to the working copy
        across = (x1 - x0) if orient == "vertical" else (y1 - y0)
        pa = (0.35 * across) * s2 + 2
        pl = 3
        if orient == "vertical":
            bx0, by0, bx1, by1 = x0 * s2 - pa, y0 * s2 - pl, x1 * s2 + pa, y1 * s2 + pl
        else:
            bx0, by0, bx1, by1 = x0 * s2 - pl, y0 * s2 - pa, x1 * s2 + pl, y1 * s2 + pa
        sx0, sy0 = max(0, int(bx0)), max(0, int(by0))
        sx1, sy1 = min(w, int(np.ceil(bx1))), min(h, int(np.ceil(by1)))
        mask[sy0:sy1, sx0:sx1] = True
    del fscale
    return upsize_mask(mask, (H, W))
