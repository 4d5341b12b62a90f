"""Turning raw anomaly maps into what a user sees: smoothed maps, scores, masks and boxes."""

from __future__ import annotations

import cv2
import numpy as np


def resize_map(amap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float map to ``shape`` = (H, W)."""
    h, w = shape
    if amap.shape == (h, w):
        return amap.astype(np.float32, copy=False)
    interp = cv2.INTER_LINEAR if (h >= amap.shape[0]) else cv2.INTER_AREA
    return cv2.resize(amap.astype(np.float32, copy=False), (w, h), interpolation=interp)


def smooth(amap: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing; patch maps are blocky and a blur turns them into regions."""
    if sigma <= 0:
        return amap.astype(np.float32, copy=False)
    return cv2.GaussianBlur(amap.astype(np.float32, copy=False), (0, 0), sigmaX=sigma, sigmaY=sigma)


def fill_invalid(amap: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Replace values outside ``valid`` (camera overlays) by the median of the valid ones."""
    if valid is None or valid.all():
        return amap
    out = amap.copy()
    fill = float(np.median(amap[valid])) if valid.any() else 0.0
    out[~valid] = fill
    return out


def clean_mask(mask: np.ndarray, kernel_size: int = 3) -> np.ndarray:
    """Morphological opening then closing: drops speckle, fills pinholes."""
    if kernel_size <= 1 or not mask.any():
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    m = mask.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    return m.astype(bool)


def find_regions(amap: np.ndarray, mask: np.ndarray, min_area: int = 1) -> list[dict]:
    """Connected components of ``mask`` as boxes ``[x0, y0, x1, y1]`` (inclusive-exclusive),
    with the peak map value inside as the region's score; highest score first."""
    if not mask.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    regions = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < min_area:
            continue
        # within the component's box only: a full-image comparison per region costs O(regions × pixels)
        box = (slice(y, y + h), slice(x, x + w))
        peak = float(amap[box][labels[box] == k].max())
        regions.append({"box": [x, y, x + w, y + h], "score": peak, "area": area})
    regions.sort(key=lambda r: r["score"], reverse=True)
    return regions
