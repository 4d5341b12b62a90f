"""Radiometric files: pixel values that *are* temperatures, no palette in between.

- float TIFF (32/64-bit): taken as °C directly.
- 16-bit TIFF/PNG: taken as centi-Kelvin (value / 100 - 273.15), the convention of FLIR/Teledyne radiometric
  TIFF exports and many drone cameras; anything outside -60..2000 °C under that reading is rejected.
- FLIR radiometric JPEG: would need the ``flyr`` package, which is not installable from this project's
  package index; such files are treated as ordinary pseudo-colour JPEGs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError

_TIFF = {".tif", ".tiff"}


def read_radiometric(path: str | os.PathLike) -> np.ndarray | None:
    """H×W float32 °C when ``path`` holds one temperature per pixel, else None (a pseudo-colour picture)."""
    p = Path(path)
    if p.suffix.lower() not in _TIFF | {".png"}:
        return None
    try:
        with Image.open(p) as im:
            if im.mode not in ("F", "I;16", "I;16B", "I;16L", "I"):
                return None
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read image ({exc})") from None
    if arr.ndim != 2:
        return None
    if np.issubdtype(arr.dtype, np.floating):
        if p.suffix.lower() not in _TIFF:
            return None
        return arr.astype(np.float32)
    celsius = arr.astype(np.float32) / 100.0 - 273.15
    finite = celsius[np.isfinite(celsius)]
    if finite.size == 0 or finite.min() < -60 or finite.max() > 2000:
        return None  # not centi-Kelvin: an ordinary 16-bit grey picture
    return celsius
