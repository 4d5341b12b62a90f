"""Pictures a person reads faster than numbers: result panels, overlays, score distributions.

The pictures of every predicted image (annotated photo, six-panel picture) and the result panel of ``test``
are composed as arrays (OpenCV/PIL, no matplotlib figure) at a size a screen shows: tens of ms instead
of ~0.5 s (benchmarks/pictures.py).
Everything is written atomically; matplotlib figures are closed after saving so long batches do not grow
memory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from .io import atomic_path, save_png  # noqa: E402
from .io import to_uint8 as io_to_uint8  # noqa: E402
from .records import HotSpot, Region  # noqa: E402

HEAT_CMAP = "jet"
TEMP_CMAP = "inferno"
#: longest side of the annotated picture: a screen's width
SCREEN_SIDE = 1280
#: a picture whose long side is under ``TINY_SIDE`` (a radiometric file at a small sensor's 80×60 or
#: 160×120) is enlarged to ``MIN_SCREEN_SIDE``, so its labels do not cover it; larger ones keep their size
TINY_SIDE = 200
MIN_SCREEN_SIDE = 640
#: each panel of the six-panel picture fits in this box (w, h); six of them fit a 1920×1080 screen
PANEL_BOX = (480, 360)
#: panels of the four-panel result picture of ``test`` (one row)
RESULT_BOX = (420, 315)
#: colour of pixels without a value (invalid temperatures, NaN)
NEUTRAL = (128, 128, 128)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A picture as uint8 RGB: float [0, 1] or uint8 (:func:`io.to_uint8`), grey made RGB, alpha dropped."""
    a = io_to_uint8(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def fit_size(shape: Sequence[int], box: tuple[int, int], *, upscale: bool = False) -> tuple[int, int]:
    """(w, h) of an H×W picture scaled to fit ``box`` (w, h), keeping its aspect; never larger unless
    ``upscale``."""
    h, w = int(shape[0]), int(shape[1])
    s = min(box[0] / w, box[1] / h)
    if s >= 1 and not upscale:
        return w, h
    return max(1, round(w * s)), max(1, round(h * s))


def resize_to(a: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """``a`` (H×W or H×W×C; bool is resized as a mask) at ``size`` (w, h).

    Shrinking averages areas: first by a whole factor (OpenCV's fast path, ~5× quicker than an arbitrary
    factor on a 6 MP map; the right/bottom remainder of under one output pixel is dropped), then to the
    exact size. Growing interpolates linearly; masks use the nearest pixel.
    """
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return resize_to(a.view(np.uint8), size, nearest=True).view(np.bool_)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    h, w = a.shape[:2]
    tw, th = int(size[0]), int(size[1])
    if (w, h) == (tw, th):
        return a
    if nearest:
        return cv2.resize(a, (tw, th), interpolation=cv2.INTER_NEAREST)
    if tw > w or th > h:
        return cv2.resize(a, (tw, th), interpolation=cv2.INTER_LINEAR)
    k = min(w // tw, h // th)
    if k >= 2:
        a = cv2.resize(a[: h // k * k, : w // k * k], (w // k, h // k), interpolation=cv2.INTER_AREA)
    if a.shape[:2] != (th, tw):
        a = cv2.resize(a, (tw, th), interpolation=cv2.INTER_AREA)
    return a


def scale_boxes(
    items: Sequence[Region | HotSpot], sx: float, sy: float, size: tuple[int, int]
) -> list[Region | HotSpot]:
    """Copies of records whose ``box`` [x0, y0, x1, y1] (x1, y1 exclusive) is scaled by (sx, sy) into a
    picture of ``size`` (w, h): outward rounding, at least one pixel."""
    w, h = size
    out = []
    for r in items:
        x0, y0, x1, y1 = (float(v) for v in r.box)
        bx0 = min(w - 1, max(0, int(np.floor(x0 * sx))))
        by0 = min(h - 1, max(0, int(np.floor(y0 * sy))))
        bx1 = min(w, max(bx0 + 1, int(np.ceil(x1 * sx))))
        by1 = min(h, max(by0 + 1, int(np.ceil(y1 * sy))))
        out.append(replace(r, box=[bx0, by0, bx1, by1]))
    return out


def fit_picture(image: np.ndarray, side: int = SCREEN_SIDE, *, tiny: bool = False) -> np.ndarray:
    """uint8 RGB ``image`` with its long side at most ``side``; with ``tiny``, a picture under ``TINY_SIDE``
    is enlarged to ``MIN_SCREEN_SIDE``."""
    a = np.asarray(image)
    if tiny and max(a.shape[:2]) < TINY_SIDE:
        return to_uint8(resize_to(a, fit_size(a.shape, (MIN_SCREEN_SIDE, MIN_SCREEN_SIDE), upscale=True)))
    return to_uint8(resize_to(a, fit_size(a.shape, (side, side))))


@functools.lru_cache(maxsize=8)
def colormap_lut(cmap: str) -> np.ndarray:
    """256×3 uint8 RGB colours of a matplotlib colour map (its own 256 steps), taken once."""
    lut = (matplotlib.colormaps[cmap](np.arange(256) / 255.0)[:, :3] * 255 + 0.5).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def colorize(
    amap: np.ndarray,
    vmin: float,
    vmax: float,
    cmap: str = HEAT_CMAP,
    *,
    invalid: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 RGB of a map on a fixed scale [vmin, vmax] (values outside are clipped to the ends); NaN and
    ``invalid`` pixels are neutral grey. Same bins as matplotlib's 256-colour maps."""
    a = np.asarray(amap, np.float32)
    span = max(float(vmax) - float(vmin), 1e-12)
    x = (a - np.float32(vmin)) * np.float32(256.0 / span)
    np.clip(x, 0, 255, out=x)
    bad = np.isnan(x)
    with np.errstate(invalid="ignore"):
        idx = x.astype(np.uint8)
    lut = colormap_lut(cmap).reshape(256, 1, 3)  # the layout applyColorMap takes; a view
    out = cv2.applyColorMap(idx if idx.ndim == 2 else idx.reshape(idx.shape[0], -1), lut)
    out = out.reshape(*a.shape, 3) if out.shape[:-1] != a.shape else out
    if invalid is not None:
        bad |= np.asarray(invalid, bool)
    if bad.any():
        out[bad] = NEUTRAL
    return out


def heatmap_rgb(amap: np.ndarray, vmin: float, vmax: float, cmap: str = HEAT_CMAP) -> np.ndarray:
    """uint8 RGB rendering of a map on a fixed scale (red = high)."""
    return colorize(amap, vmin, vmax, cmap)


def blend_mask(image: np.ndarray, mask: np.ndarray, color=(255, 0, 0), alpha: float = 0.45) -> np.ndarray:
    """The image with ``mask`` tinted in ``color`` and outlined."""
    out = to_uint8(image).copy()
    m = np.asarray(mask, bool)
    if m.shape != out.shape[:2]:
        m = resize_to(m, (out.shape[1], out.shape[0]))
    if m.any():
        col = np.array(color, np.float32)
        out[m] = (out[m] * (1 - alpha) + col * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), max(1, out.shape[1] // 400))
    return out


@functools.lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.ImageFont:
    """A TrueType font with Δ and ° (matplotlib's DejaVu Sans; OpenCV's Hershey fonts are ASCII only)."""
    try:
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), px)
    except OSError:  # a stripped matplotlib: PIL's own font (Δ and ° may show as boxes)
        return ImageFont.load_default()


def draw_boxes(
    image: np.ndarray,
    regions: Sequence[Region | HotSpot],
    labels: Sequence[str] | None = None,
    color=(255, 255, 0),
    *,
    font_px: int | None = None,
) -> np.ndarray:
    """Boxes ``[x0, y0, x1, y1]`` with a label each (default: the region's score) on a dark backing."""
    texts = [
        labels[k] if labels is not None and k < len(labels) else f"{r.score:.2f}"
        for k, r in enumerate(regions)
    ]
    return draw_labelled(image, [(r.box, t, color) for r, t in zip(regions, texts, strict=True)], font_px)


def draw_labelled(
    image: np.ndarray,
    items: Sequence[tuple[Sequence[int], str, tuple]],
    font_px: int | None = None,
    *,
    keep_clear: Sequence[Sequence[int]] = (),
) -> np.ndarray:
    """(box, label, colour) items, most important first: all boxes, then labels that do not overlap.

    A label goes above its box, else below, else inside its top; one that would cover an earlier label
    or a ``keep_clear`` box moves down a line at a time (so a crowd of hot spots stays readable); all
    stay inside the picture.
    """
    out = to_uint8(image).copy()
    h, w = out.shape[:2]
    thick = max(1, round(max(h, w) / 300))
    for box, _text, color in items:
        x0, y0, x1, y1 = (int(v) for v in box)
        cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), tuple(int(c) for c in color), thick)
    if not any(text for _b, text, _c in items):
        return out
    font = _font(int(font_px) if font_px else max(11, round(max(h, w) / 55)))
    pil = Image.fromarray(out)
    draw = ImageDraw.Draw(pil)
    pad = max(1, thick)
    placed: list[tuple[int, int, int, int]] = [tuple(int(v) for v in b) for b in keep_clear]

    def free(r: tuple[int, int, int, int]) -> bool:
        return all(r[2] <= q[0] or q[2] <= r[0] or r[3] <= q[1] or q[3] <= r[1] for q in placed)

    for box, text, color in items:
        if not text:
            continue
        x0, y0, _x1, y1 = (int(v) for v in box)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 2 * pad, bottom - top + 2 * pad
        tx = max(0, min(x0, w - tw))
        starts = [y0 - th - thick, y1 + thick, y0 + thick]
        tries = [ty for ty in starts if 0 <= ty <= h - th]
        tries += [min(h - th, max(0, starts[0])) + k * th for k in range(1, h // th + 1)]
        ty = next(
            (t for t in tries if t <= h - th and free((tx, t, tx + tw, t + th))),
            min(h - th, max(0, starts[0])),
        )
        placed.append((tx, ty, tx + tw, ty + th))
        draw.rectangle((tx, ty, tx + tw - 1, ty + th - 1), fill=(0, 0, 0))
        draw.text((tx + pad - left, ty + pad - top), text, font=font, fill=tuple(int(c) for c in color))
    return np.asarray(pil).copy()


def _save_figure(fig, path: str | os.PathLike, dpi: int = 100, *, tight: bool = True) -> None:
    """``tight=False`` skips the extra layout pass (for figures laid out by hand; half the time)."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(
                tmp,
                dpi=dpi,
                bbox_inches="tight" if tight else None,
                format="png",
                pil_kwargs={"compress_level": 3},
            )
    finally:
        plt.close(fig)


def save_mask_png(path: str | os.PathLike, mask: np.ndarray) -> None:
    """The tool's pixel decision as 0/255 at the image's own size (:func:`io.save_png` of a bool mask)."""
    save_png(path, np.asarray(mask, bool))


#: colour of learned regions and of hot spots outside them in pictures
REGION_COLOR = (255, 255, 0)
HOTSPOT_COLOR = (0, 255, 255)


def annotate(
    image: np.ndarray,
    regions: Sequence[Region],
    labels: Sequence[str] | None = None,
    *,
    hotspots: Sequence[HotSpot] = (),
    hotspot_labels: Sequence[str] | None = None,
    font_px: int | None = None,
) -> np.ndarray:
    """Learned regions in yellow with their labels; extra hot spots (outside every region) in cyan."""
    items = [
        (r.box, labels[k] if labels is not None and k < len(labels) else "", REGION_COLOR)
        for k, r in enumerate(regions)
    ]
    items += [
        (
            h.box,
            hotspot_labels[k] if hotspot_labels is not None and k < len(hotspot_labels) else "",
            HOTSPOT_COLOR,
        )
        for k, h in enumerate(hotspots)
    ]
    return draw_labelled(image, items, font_px, keep_clear=[r.box for r in regions])


def annotated_picture(
    image: np.ndarray,
    regions: Sequence[Region],
    labels: Sequence[str] | None = None,
    *,
    hotspots: Sequence[HotSpot] = (),
    hotspot_labels: Sequence[str] | None = None,
    side: int = SCREEN_SIDE,
    box_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """The picture with its long side at most ``side`` (a tiny sensor-size frame enlarged, see
    :func:`fit_picture`) and labelled boxes (see :func:`annotate`).

    Boxes are in pixels of an image of ``box_shape`` (H, W; default: ``image``'s) and are scaled along.
    """
    small = fit_picture(image, side, tiny=True)
    h, w = box_shape[:2] if box_shape is not None else np.asarray(image).shape[:2]
    size = (small.shape[1], small.shape[0])
    sx, sy = size[0] / w, size[1] / h
    return annotate(
        small,
        scale_boxes(regions, sx, sy, size),
        labels,
        hotspots=scale_boxes(hotspots, sx, sy, size),
        hotspot_labels=hotspot_labels,
    )


def save_annotated(path: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
    """Write :func:`annotated_picture` (same arguments: the picture at screen size with labelled boxes) to
    ``path``."""
    save_png(path, annotated_picture(*args, **kwargs))


# ------------------------------------------------------------------------------------ panel composer
@dataclass
class Panel:
    """One cell of a composed picture: a title over an RGB picture (None: an empty cell with ``note``),
    optionally a colour scale (``scale``: colour map name, vmin, vmax, unit text) under it."""

    title: str
    rgb: np.ndarray | None = None
    scale: tuple[str, float, float, str] | None = None
    note: str = ""


TITLE_PX = 15
SCALE_PX = 12
HEAD_PX = 16
_MARGIN = 10
_GAP = 16
_BAR_H = 10
_MIN_CELL_W = 240


def _number(v: float, span: float) -> str:
    span = abs(span)
    digits = 0 if span >= 20 else 1 if span >= 2 else 2 if span >= 0.2 else 3
    return f"{v:.{digits}f}"


def _text_w(font, text: str) -> int:
    left, _top, right, _bottom = font.getbbox(text)
    return right - left


def _fit_text(font, text: str, width: int) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    if _text_w(font, text) <= width:
        return text
    while text and _text_w(font, text + "…") > width:
        text = text[:-1]
    return text + "…"


def compose(
    panels: Sequence[Panel], cols: int, title: str = "", size: tuple[int, int] | None = None
) -> Image.Image:
    """Panels on a white grid, ``cols`` per row, each with its title and colour scale, ``title`` on top.

    Every picture is shown at ``size`` (w, h; default the first picture's) and centred in its cell.
    """
    if size is None:
        size = next((p.rgb.shape[1::-1] for p in panels if p.rgb is not None), PANEL_BOX)
    fw, fh = int(size[0]), int(size[1])
    cw = max(fw, _MIN_CELL_W)
    f_title, f_scale, f_head = _font(TITLE_PX), _font(SCALE_PX), _font(HEAD_PX)
    title_h = TITLE_PX + 9
    scale_h = 4 + _BAR_H + 3 + SCALE_PX + 4 if any(p.scale for p in panels) else 0
    cell_h = title_h + fh + scale_h
    head_h = HEAD_PX + 12 if title else 0
    rows = (len(panels) + cols - 1) // cols
    width = 2 * _MARGIN + cols * cw + (cols - 1) * _GAP
    height = 2 * _MARGIN + head_h + rows * cell_h + (rows - 1) * (_GAP // 2)
    canvas = np.full((height, width, 3), 255, np.uint8)
    texts: list[tuple[tuple[int, int], str, object, tuple, str]] = []  # (xy, text, font, colour, anchor)
    if title:
        texts.append(
            (
                (width // 2, _MARGIN + head_h // 2),
                _fit_text(f_head, title, width - 2 * _MARGIN),
                f_head,
                (0, 0, 0),
                "mm",
            )
        )
    for k, p in enumerate(panels):
        r, c = divmod(k, cols)
        x = _MARGIN + c * (cw + _GAP)
        y = _MARGIN + head_h + r * (cell_h + _GAP // 2)
        texts.append(
            ((x + cw // 2, y + title_h // 2), _fit_text(f_title, p.title, cw), f_title, (0, 0, 0), "mm")
        )
        ix, iy = x + (cw - fw) // 2, y + title_h
        if p.rgb is None:
            canvas[iy : iy + fh, ix : ix + fw] = 236
            if p.note:
                texts.append(((ix + fw // 2, iy + fh // 2), p.note, f_title, (90, 90, 90), "mm"))
        else:
            rgb = p.rgb if p.rgb.shape[:2] == (fh, fw) else resize_to(p.rgb, (fw, fh))
            canvas[iy : iy + fh, ix : ix + fw] = rgb
        if p.scale is not None:
            cmap, lo, hi, unit = p.scale
            by = iy + fh + 4
            bar = colormap_lut(cmap)[np.linspace(0, 255, fw).astype(np.intp)]
            canvas[by : by + _BAR_H, ix : ix + fw] = bar[None]
            ty = by + _BAR_H + 3
            span = hi - lo
            texts.append(((ix, ty), _number(lo, span), f_scale, (0, 0, 0), "lt"))
            texts.append(((ix + fw, ty), _number(hi, span), f_scale, (0, 0, 0), "rt"))
            if unit:
                texts.append(((ix + fw // 2, ty), unit, f_scale, (70, 70, 70), "mt"))
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    for xy, text, font, colour, anchor in texts:
        draw.text(xy, text, font=font, fill=colour, anchor=anchor)
    return pil


def shrink_temperature(
    values: np.ndarray, valid: np.ndarray | None, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures at ``size`` (w, h): per output pixel the mean of the valid (and finite) pixels under
    it, NaN where there are none; and where at least half of them were valid (the others show neutral)."""
    t = np.asarray(values, np.float32)
    finite = np.isfinite(t)
    ok = finite if valid is None else finite & np.asarray(valid, bool)
    if ok.all():
        return resize_to(t, size), np.ones((size[1], size[0]), bool)
    okf = ok.astype(np.float32)
    wt = resize_to(okf, size)
    tz = resize_to(cv2.multiply(t, okf) if finite.all() else np.where(ok, t, np.float32(0)), size)
    out = np.full(wt.shape, np.nan, np.float32)
    np.divide(tz, wt, out=out, where=wt > 1e-3)
    return out, wt >= 0.5


def _map_panel(title: str, a: np.ndarray, size, cmap: str, vmax: float | None, unit: str) -> Panel:
    """A map on 0..``vmax`` (default its own maximum) with its colour scale."""
    small = resize_to(np.asarray(a, np.float32), size)
    top = float(vmax) if vmax is not None else float(np.nanmax(small, initial=0.0))
    top = max(top, 1e-6)
    return Panel(title, colorize(small, 0.0, top, cmap), (cmap, 0.0, top, unit))


def six_panel(
    image: np.ndarray,
    temperature: np.ndarray | None,
    amap: np.ndarray | None,
    hotspots: np.ndarray | None,
    fused: np.ndarray,
    mask: np.ndarray,
    regions: Sequence[Region],
    *,
    labels: Sequence[str] | None = None,
    temperature_unit: str = "relative",
    temperature_valid: np.ndarray | None = None,
    hotspot_boxes: Sequence[HotSpot] = (),
    hotspot_labels: Sequence[str] | None = None,
    vmax: float | None = None,
    title: str = "",
    box: tuple[int, int] = PANEL_BOX,
    box_shape: Sequence[int] | None = None,
) -> Image.Image:
    """Original, temperature map, learned anomaly map, hot-spot map, fused map, final overlay with labels.

    Each panel fits :data:`PANEL_BOX` (the whole picture a 1920×1080 screen). Maps and ``mask`` may have
    any size (they are fitted to the image's panels); boxes are in pixels of an image of ``box_shape``
    (H, W; default: ``image``'s, which may be a smaller copy of the photo the boxes were found in). Maps
    have their own colour scales (0 to the panel's maximum) except ``fused`` when ``vmax`` is given (e.g.
    twice the threshold, so panels of different images compare).
    Invalid temperatures (overlays) are neutral grey; ``hotspot_boxes`` are drawn on the hot-spot map and,
    with ``hotspot_labels``, on the overlay in cyan.
    """
    img = np.asarray(image)
    size = fit_size(img.shape, box, upscale=True)
    bh, bw = box_shape[:2] if box_shape is not None else img.shape[:2]
    sx, sy = size[0] / bw, size[1] / bh
    small_img = to_uint8(resize_to(img, size))
    unit = "°C" if temperature_unit == "C" else "relative"
    panels = [Panel("original", small_img)]
    if temperature is not None:
        ts, good = shrink_temperature(temperature, temperature_valid, size)
        lo, hi = (float(ts[good].min()), float(ts[good].max())) if good.any() else (0.0, 1.0)
        hi = max(hi, lo + 1e-6)
        panels.append(
            Panel(
                f"temperature ({unit})",
                colorize(ts, lo, hi, TEMP_CMAP, invalid=~good),
                (TEMP_CMAP, lo, hi, unit + (", grey: no reading" if not good.all() else "")),
            )
        )
    else:
        panels.append(Panel("temperature (not decoded)", note="not decoded"))
    spots = scale_boxes(hotspot_boxes, sx, sy, size)
    maps = (
        (amap, "learned anomaly map", None, "anomaly score", ()),
        (hotspots, f"hot spots (rise, {unit})", None, f"rise, {unit}", spots),
        (fused, "fused map", vmax, "anomaly score", ()),
    )
    for a, name, top, what, boxes in maps:
        if a is None:
            panels.append(Panel(f"{name.split(' (')[0]} (none)", note="none"))
            continue
        panel = _map_panel(name, a, size, HEAT_CMAP, top, what)
        if boxes:  # white outlines, drawn as the overlay's boxes are
            panel.rgb = draw_labelled(panel.rgb, [(r.box, "", (255, 255, 255)) for r in boxes])
        panels.append(panel)
    over = annotate(
        blend_mask(small_img, mask),
        scale_boxes(regions, sx, sy, size),
        labels,
        hotspots=spots if hotspot_labels is not None else (),
        hotspot_labels=hotspot_labels,
        font_px=max(12, round(max(size) / 24)),
    )
    panels.append(Panel("final overlay", over))
    return compose(panels, 3, title, size)


def save_six_panel(path: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
    """Write :func:`six_panel` (same arguments) to ``path``."""
    save_png(path, six_panel(*args, **kwargs))


def result_panel(
    image: np.ndarray,
    reference: np.ndarray | None,
    amap: np.ndarray,
    mask: np.ndarray,
    *,
    title: str = "",
    score: float | None = None,
    threshold: float | None = None,
    vmax: float | None = None,
    regions: Sequence[Region] = (),
    box: tuple[int, int] = RESULT_BOX,
) -> Image.Image:
    """Four panels: original, reconstruction/reference, heatmap (shared scale ``vmax``), mask overlay with
    boxes."""
    img = np.asarray(image)
    size = fit_size(img.shape, box, upscale=True)
    sx, sy = size[0] / img.shape[1], size[1] / img.shape[0]
    small = to_uint8(resize_to(img, size))
    if reference is not None:
        second = Panel("reconstruction", to_uint8(resize_to(np.asarray(reference), size)))
    else:  # the picture faded, as a reminder that feature models have no reconstruction
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        second = Panel("no reconstruction (feature model)", to_uint8(grey // 2 + 128))
    heat = _map_panel("anomaly map", amap, size, HEAT_CMAP, vmax, "anomaly score")
    marked = draw_boxes(blend_mask(small, mask), scale_boxes(regions, sx, sy, size))
    head = title
    if score is not None:
        head += f"   score {score:.3f}"
        if threshold is not None:
            head += f" (threshold {threshold:.3f})"
    return compose([Panel("original", small), second, heat, Panel("predicted mask", marked)], 4, head, size)


def save_result_panel(path: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
    """Write :func:`result_panel` (same arguments) to ``path``."""
    save_png(path, result_panel(*args, **kwargs))


def save_error_analysis(path: str | os.PathLike, scores, labels, threshold: float) -> None:
    """Score distributions of normal and faulty images with the threshold, and per-class statistics."""
    scores = np.asarray(scores, float)
    labels = np.asarray(labels, int)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.2))
    bins = np.linspace(min(scores.min(), threshold) * 0.95, max(scores.max(), threshold) * 1.05, 30)
    lines = []
    for lab, name, color in ((0, "normal", "tab:blue"), (1, "faulty", "tab:red")):
        s = scores[labels == lab]
        if len(s) == 0:
            continue
        a0.hist(s, bins=bins, alpha=0.55, color=color, label=f"{name} (n={len(s)})")
        a1.scatter(
            s, np.full(len(s), lab) + np.random.default_rng(lab).uniform(-0.15, 0.15, len(s)), s=14, c=color
        )
        lines.append(f"{name}: mean {s.mean():.3f} std {s.std():.3f} min {s.min():.3f} max {s.max():.3f}")
    for a in (a0, a1):
        a.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3f}")
    a0.set_xlabel("image score")
    a0.set_ylabel("images")
    a0.legend()
    a0.set_title("score distribution")
    a1.set_yticks([0, 1], ["normal", "faulty"])
    a1.set_xlabel("image score")
    a1.set_title("\n".join(lines), fontsize=9)
    _save_figure(fig, path)


def save_training_curve(path: str | os.PathLike, train_losses, val_losses) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(train_losses) + 1), train_losses, label="train")
    if len(val_losses):
        ax.plot(np.arange(1, len(val_losses) + 1), val_losses, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("training loss")
    _save_figure(fig, path)


def save_contact_sheet(
    path: str | os.PathLike, items: Sequence[tuple[str, np.ndarray]], cols: int = 4
) -> None:
    """A grid of captioned pictures to scan many results at once."""
    if not items:
        return
    tiles = [fit_picture(img, 320) for _, img in items]
    th = max(t.shape[0] for t in tiles) + 18
    tw = max(t.shape[1] for t in tiles)
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.full((rows * th, cols * tw, 3), 255, np.uint8)
    for k, ((title, _), tile) in enumerate(zip(items, tiles, strict=True)):
        y, x = (k // cols) * th, (k % cols) * tw
        sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
        cv2.putText(
            sheet, title[:48], (x + 2, y + th - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
        )
    save_png(path, sheet)
