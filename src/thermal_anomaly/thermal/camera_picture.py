"""A temperature field drawn as a thermal camera draws its picture: palette, colour bar, end labels.

The picture decoding (colour bar, printed numbers, palette) is developed on a few real cameras; this draws
the same true fields in the layouts other cameras use, so it can be measured and tested where no picture of
such a camera exists (``benchmarks/layouts.py``). What a camera does, and this copies:

- the scale auto-ranged to the field (0.5th..99.5th percentile, rounded outwards to 0.1 °C, not below the
  -40 °C cameras measure from), the palette spread evenly in the detector's signal over it
  (``thermal.planck``), saturated beyond it;
- a colour bar: a strip of the palette, hot end at the top (or the right of a horizontal bar);
- its end labels ("23.4°C", "74.1°F" or the bare number) in Pillow's built-in sans font, white, with a dark
  outline, on a dark box, or plain, kept inside the frame.

Layouts (``LAYOUTS``): ``right`` / ``left`` (a vertical bar over the scene near that edge, labels above and
below it), ``beside`` (a vertical bar at the right, labels to its left level with its ends), ``bottom`` (a
horizontal bar along the bottom, labels left and right of it), ``panel`` (a black panel right of the scene
holds the bar and its labels). :func:`bare_frame`: the scene alone, as fixed and drone cameras export it, its
hot end optionally clipped (``benchmarks/bare_frames.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .palette import palette_lut
from .planck import signal_position

LAYOUTS = ("right", "left", "beside", "bottom", "panel")
STYLES = ("outline", "box", "plain")
#: the picture's long side (px): a camera's display size
LONG_SIDE = 640
#: the lowest temperature cameras measure (°C): a printed scale starts no lower
LOWEST_C = -40.0


@dataclass(frozen=True)
class CameraPicture:
    """``rgb`` (H×W×3 uint8); ``truth`` (°C per pixel at the picture's size, NaN where no scene: the bar, the
    labels, a panel); ``scale`` (°C at the bar's cold and hot ends)."""

    rgb: np.ndarray
    truth: np.ndarray
    scale: tuple[float, float]


def auto_range(celsius: np.ndarray) -> tuple[float, float]:
    """The scale a camera auto-ranges to: the field's 0.5..99.5th percentile, rounded outwards to 0.1 °C."""
    lo, hi = np.percentile(celsius, [0.5, 99.5])
    lo, hi = np.floor(max(float(lo), LOWEST_C) * 10) / 10, np.ceil(float(hi) * 10) / 10
    return float(lo), float(max(hi, lo + 1.0))


def label_text(value_c: float, unit: str = "C", suffix: bool = True) -> str:
    """An end label as printed: one decimal, in ``unit`` ("C" / "F"), with the unit sign after it or not."""
    v = value_c * 1.8 + 32.0 if unit == "F" else value_c
    return f"{v:.1f}°{unit}" if suffix else f"{v:.1f}"


def _draw_text(canvas, xy: tuple[int, int], text: str, size: int, anchor: str, style: str) -> None:
    """White text as cameras print it (``style``: dark outline, dark box or plain), moved in from an edge
    it would cross."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
    dx = max(0, 4 - x0) - max(0, x1 - (canvas.width - 4))
    dy = max(0, 4 - y0) - max(0, y1 - (canvas.height - 4))
    xy = (xy[0] + dx, xy[1] + dy)
    if style == "box":
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
        draw.rectangle((x0 - 3, y0 - 3, x1 + 3, y1 + 3), fill=(20, 20, 20))
    outline = 2 if style == "outline" else 0
    draw.text(
        xy,
        text,
        font=font,
        fill=(255, 255, 255),
        anchor=anchor,
        stroke_width=outline,
        stroke_fill=(16, 16, 16),
    )


def _scene(
    celsius: np.ndarray, palette: str, scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the field at the picture's size, the palette as uint8, the scene drawn over ``scale``)."""
    h0, w0 = celsius.shape
    k = LONG_SIDE / max(h0, w0)
    h, w = round(h0 * k), round(w0 * k)
    field = cv2.resize(np.asarray(celsius, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    lut = (palette_lut(palette, 256) * 255).round().astype(np.uint8)
    return field, lut, lut[(signal_position(field, *scale) * 255.0).round().astype(np.uint8)]


def bare_frame(
    celsius: np.ndarray, palette: str = "flir_iron", hot_percentile: float | None = None
) -> CameraPicture:
    """``celsius`` drawn as a fixed or drone camera exports a bare frame: the scene alone, no bar, no numbers.

    Auto-ranged as :func:`camera_picture`; with ``hot_percentile`` the palette's hot end is at that percentile
    of the field instead, so everything hotter is one saturated colour (a close-range hot spot's white blob)."""
    field = np.asarray(celsius, np.float32)
    lo, hi = auto_range(field)
    if hot_percentile is not None:
        hi = max(float(np.percentile(field, hot_percentile)), lo + 0.1)
    small, _lut, scene = _scene(field, palette, (lo, hi))
    return CameraPicture(scene, small, (lo, hi))


def camera_picture(
    celsius: np.ndarray,
    layout: str = "right",
    palette: str = "flir_iron",
    unit: str = "C",
    *,
    style: str = "outline",
    suffix: bool = True,
    gap: int = 4,
) -> CameraPicture:
    """``celsius`` (a true field, any size) drawn as a camera picture in ``layout`` with ``palette``, its end
    labels in ``unit`` (``suffix``: "°C" after the number; ``gap``: px between the bar and a label above or
    below it)."""
    from PIL import Image

    if layout not in LAYOUTS or style not in STYLES:
        raise ValueError(f"layout must be one of {LAYOUTS} and style one of {STYLES}")
    lo, hi = auto_range(np.asarray(celsius, np.float32))
    field, lut, scene = _scene(celsius, palette, (lo, hi))
    h, w = field.shape
    panel = round(0.16 * w) if layout == "panel" else 0
    pic = np.zeros((h, w + panel, 3), np.uint8)
    pic[:, :w] = scene
    truth = np.full((h, w + panel), np.nan, np.float32)
    truth[:, :w] = field
    size = max(10, round(0.045 * h))
    if layout == "bottom":
        bw, bh = round(0.5 * w), max(6, round(0.035 * h))
        x0, y0 = (w - bw) // 2, h - round(0.06 * h) - bh
        pic[y0 : y0 + bh, x0 : x0 + bw] = cv2.resize(lut[None], (bw, bh), interpolation=cv2.INTER_LINEAR)
        marks = [((x0 - 6, y0 + bh // 2), lo, "rm"), ((x0 + bw + 6, y0 + bh // 2), hi, "lm")]
    else:
        bw, bh = max(6, round(0.035 * w)), round(0.6 * h)
        y0 = (h - bh) // 2
        x0 = {
            "right": w - round(0.05 * w) - bw,
            "left": round(0.05 * w),
            "beside": w - round(0.03 * w) - bw,
            "panel": w + (panel - bw) // 2,
        }[layout]
        ramp = lut[::-1, None]  # hot end at the top
        pic[y0 : y0 + bh, x0 : x0 + bw] = cv2.resize(ramp, (bw, bh), interpolation=cv2.INTER_LINEAR)
        if layout == "beside":
            marks = [((x0 - 6, y0), hi, "rt"), ((x0 - 6, y0 + bh), lo, "rb")]
        else:
            cx = x0 + bw // 2
            marks = [((cx, y0 - gap), hi, "mb"), ((cx, y0 + bh + gap), lo, "mt")]
    truth[y0 : y0 + bh, x0 : x0 + bw] = np.nan
    canvas = Image.fromarray(pic)
    for xy, value, anchor in marks:
        _draw_text(canvas, xy, label_text(value, unit, suffix), size, anchor, style)
    out = np.asarray(canvas).copy()
    drawn = np.any(out != pic, axis=2)  # the labels' pixels (and a pixel around them) are no scene
    truth[cv2.dilate(drawn.view(np.uint8), np.ones((5, 5), np.uint8)) > 0] = np.nan
    return CameraPicture(out, truth, (lo, hi))


__all__ = ["CameraPicture", "LAYOUTS", "STYLES", "auto_range", "bare_frame", "camera_picture", "label_text"]
