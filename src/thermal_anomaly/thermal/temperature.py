"""One entry point from a picture to temperatures: radiometric file, colour bar (+ its numbers), or a palette."""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from .colorbar import ColorBar, find_colorbar, flipped
from .ocr import read_scale
from .overlays import overlay_mask
from .palette import (
    as_rgb_float,
    chan_max,
    chan_min,
    colors_to_position,
    fit_palette,
    image_scope,
    lut_from_anchors,
    palette_lut,
)
from .radiometric import read_radiometric


@dataclass
class TemperatureMap:
    """Per-pixel temperature. ``values`` are °C when ``unit == "C"``, else relative 0 (cold) .. 1 (hot).

    ``valid`` is False where the pixel is not a temperature (camera overlay, colour off the palette).
    ``range`` is (min, max) °C of the scale when known. ``reason`` says why the result is only relative.
    """

    values: np.ndarray
    unit: str
    valid: np.ndarray
    source: str
    reason: str = ""
    range: tuple[float, float] | None = None


def _bar_lut(bar: ColorBar, n: int = 256) -> np.ndarray:
    return lut_from_anchors(bar.colors, n)


#: decoded position from which a pixel counts as the hot end of the scale (white next to it is "above")
HOT_END = 0.8


def out_of_range(rgb: np.ndarray, pos: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cameras paint temperatures below the scale black and above it white; those are scene, at the ends.

    Only colours the palette did not explain are changed, so palettes that contain black or white keep them.
    White counts as "above the scale" only where it touches the hot end of the scale: a saturated spot grows
    out of its hottest colours, while white text, measurement marks and sensor specks sit on cold scene and
    would otherwise be the hottest things in the image.
    """
    lo, hi = chan_min(rgb), chan_max(rgb)
    below = bad & (hi < 0.12)
    above = bad & (lo > 0.85)
    if above.any():
        hot_end = cv2.dilate((~bad & (pos >= HOT_END)).view(np.uint8), np.ones((3, 3), np.uint8)) > 0
        _n, lab = cv2.connectedComponents(above.view(np.uint8), connectivity=8)
        touching = np.unique(lab[hot_end & above])
        above = np.isin(lab, touching[touching > 0])
    pos = np.where(below, 0.0, np.where(above, 1.0, pos)).astype(np.float32)
    return pos, bad & ~(below | above)


def temperature_map(image: np.ndarray, path: str | os.PathLike | None = None) -> TemperatureMap:
    """Decode ``image`` (H×W×3 RGB, any dtype) to temperatures; ``path`` lets radiometric files be read raw.

    Order of trust: a radiometric file; a colour bar whose printed numbers tesseract reads (°C); the colour
    bar alone (relative); the best-fitting named palette (relative). Black/white pixels off the bar's palette
    count as below/above the scale (clipped to its ends), as cameras draw them.
    """
    if path is not None:
        celsius = read_radiometric(path)
        if celsius is not None:
            valid = np.isfinite(celsius)
            rng = (float(celsius[valid].min()), float(celsius[valid].max())) if valid.any() else None
            return TemperatureMap(celsius, "C", valid, "radiometric", "", rng)
    rgb = as_rgb_float(image)
    with image_scope(rgb):  # overlay masking and the scale reading share one colour-bar search
        return _decode(rgb)


def _decode(rgb: np.ndarray) -> TemperatureMap:
    overlay = overlay_mask(rgb)
    bar = find_colorbar(rgb)
    if bar is None:
        name, _err = fit_palette(rgb, overlay)
        pos, bad = colors_to_position(rgb, palette_lut(name))
        return TemperatureMap(
            pos, "relative", ~(overlay | bad), f"palette:{name}", "no colour bar found: palette guessed"
        )
    reading, why = read_scale(rgb, bar)
    if reading is not None:
        # reading.start is the top/left end; the bar's colours run cold -> hot from the bottom/left
        top_or_left_hot = reading.start > reading.stop
        vertical = bar.orientation == "vertical"
        if top_or_left_hot != vertical:  # OCR says the scale runs the other way
            bar = flipped(bar)
        t_cold, t_hot = min(reading.start, reading.stop), max(reading.start, reading.stop)
    pos, bad = colors_to_position(rgb, _bar_lut(bar))
    pos, bad = out_of_range(rgb, pos, bad)
    valid = ~(overlay | bad)
    if reading is None:
        return TemperatureMap(pos, "relative", valid, "colorbar", why)
    values = (t_cold + pos * (t_hot - t_cold)).astype(np.float32)
    return TemperatureMap(values, "C", valid, "colorbar+ocr", "", (t_cold, t_hot))
