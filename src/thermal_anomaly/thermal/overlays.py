"""Burned-in camera UI (logos, text, colour bars, timestamps, measurement boxes) — placeholder."""

from __future__ import annotations

import numpy as np


def overlay_mask(image: np.ndarray) -> np.ndarray:
    """Bool H×W mask, True where the pixel is camera UI rather than scene."""
    return np.zeros(image.shape[:2], dtype=bool)
