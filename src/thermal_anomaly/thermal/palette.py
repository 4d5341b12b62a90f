"""Thermal palettes: named colour maps as LUTs and colours back to a position on the palette (cold=0, hot=1)."""

from __future__ import annotations

import cv2
import numpy as np

#: Longest side of the working copy: overlay and bar detection run at this size so a 3077×1920 photo costs
#: the same as a 640×640 one.
WORK_SIDE = 640


def as_rgb_float(image: np.ndarray) -> np.ndarray:
    """H×W×3 float32 RGB in [0, 1] from grey, RGB, RGBA, uint8, uint16 or float input."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {img.shape}")
    if img.shape[2] == 4:
        img = img[..., :3]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    out = img.astype(np.float32, copy=False)
    # float input in 0..255 (some loaders) is rescaled; a strided sample keeps this check cheap
    if out.size and float(np.nanmax(out[::7, ::7])) > 1.0 + 1e-3:
        out = out / 255.0
        return np.clip(out, 0.0, 1.0)
    return out


def chan_max(a: np.ndarray) -> np.ndarray:
    """Per-pixel max over the last (colour) axis; far faster than ``a.max(axis=-1)`` on H×W×3."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def chan_min(a: np.ndarray) -> np.ndarray:
    """Per-pixel min over the last (colour) axis."""
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


def work_copy(rgb: np.ndarray, side: int = WORK_SIDE) -> tuple[np.ndarray, float]:
    """Downscale (never upscale) so the longest side is at most ``side``; return the copy and its scale."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return np.ascontiguousarray(rgb, dtype=np.float32), 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def upsize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask back to ``shape`` (H, W)."""
    if mask.shape == tuple(shape):
        return mask
    out = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return out.astype(bool)
