"""Pictures a person reads faster than numbers: result panels, overlays, score distributions.

Everything is written atomically; figures are closed after saving so long batches do not grow memory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from .io import atomic_path  # noqa: E402

#: longest side of images drawn into figures (plotting full 3077 px images is slow and adds nothing)
PLOT_SIDE = 800
HEAT_CMAP = "jet"


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] or uint8, grey or RGB -> uint8 RGB."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def _shrink(a: np.ndarray, side: int = PLOT_SIDE, nearest: bool = False) -> np.ndarray:
    h, w = a.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return a
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(a, size, interpolation=interp)


def heatmap_rgb(amap: np.ndarray, vmin: float, vmax: float, cmap: str = HEAT_CMAP) -> np.ndarray:
    """uint8 RGB rendering of a map on a fixed scale (red = high)."""
    span = max(float(vmax) - float(vmin), 1e-12)
    norm = np.clip((np.asarray(amap, np.float32) - vmin) / span, 0, 1)
    rgba = matplotlib.colormaps[cmap](norm)
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)


def blend_mask(image: np.ndarray, mask: np.ndarray, color=(255, 0, 0), alpha: float = 0.45) -> np.ndarray:
    """The image with ``mask`` tinted in ``color`` and outlined."""
    out = to_uint8(image).copy()
    m = np.asarray(mask, bool)
    if m.shape != out.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
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
    regions: Sequence[dict],
    labels: Sequence[str] | None = None,
    color=(255, 255, 0),
    *,
    font_px: int | None = None,
) -> np.ndarray:
    """Boxes ``[x0, y0, x1, y1]`` with a label each (default: the region's score) on a dark backing."""
    texts = [
        labels[k] if labels is not None and k < len(labels) else f"{r.get('score', 0):.2f}"
        for k, r in enumerate(regions)
    ]
    return draw_labelled(image, [(r["box"], t, color) for r, t in zip(regions, texts, strict=True)], font_px)


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


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """An RGB or grey picture as PNG, atomically (fast compression: a 6 MP photo in ~0.3 s, +6 % size)."""
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image) if np.asarray(image).ndim == 3 else np.asarray(image)).save(
            tmp, "PNG", compress_level=1
        )


def save_mask_png(path: str | os.PathLike, mask: np.ndarray) -> None:
    """The tool's pixel decision as 0/255 at the image's own size."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8), mode="L").save(tmp, "PNG")


#: colour of learned regions and of hot spots outside them in pictures
REGION_COLOR = (255, 255, 0)
HOTSPOT_COLOR = (0, 255, 255)


def annotate(
    image: np.ndarray,
    regions: Sequence[dict],
    labels: Sequence[str] | None = None,
    *,
    hotspots: Sequence[dict] = (),
    hotspot_labels: Sequence[str] | None = None,
    font_px: int | None = None,
) -> np.ndarray:
    """Learned regions in yellow with their labels; extra hot spots (outside every region) in cyan."""
    items = [
        (r["box"], labels[k] if labels is not None and k < len(labels) else "", REGION_COLOR)
        for k, r in enumerate(regions)
    ]
    items += [
        (
            h["box"],
            hotspot_labels[k] if hotspot_labels is not None and k < len(hotspot_labels) else "",
            HOTSPOT_COLOR,
        )
        for k, h in enumerate(hotspots)
    ]
    return draw_labelled(image, items, font_px, keep_clear=[r["box"] for r in regions])


def save_annotated(
    path: str | os.PathLike,
    image: np.ndarray,
    regions: Sequence[dict],
    labels: Sequence[str] | None = None,
    *,
    hotspots: Sequence[dict] = (),
    hotspot_labels: Sequence[str] | None = None,
) -> None:
    """The original picture at full size with labelled boxes (see :func:`annotate`)."""
    save_png(path, annotate(image, regions, labels, hotspots=hotspots, hotspot_labels=hotspot_labels))


def save_result_panel(
    path: str | os.PathLike,
    image: np.ndarray,
    reference: np.ndarray | None,
    amap: np.ndarray,
    mask: np.ndarray,
    *,
    title: str = "",
    score: float | None = None,
    threshold: float | None = None,
    vmax: float | None = None,
    regions: Sequence[dict] = (),
) -> None:
    """Four panels: original, reconstruction/reference, heatmap (shared scale), mask overlay with boxes."""
    img = _shrink(to_uint8(image))
    size = (img.shape[1], img.shape[0])
    heat = cv2.resize(np.asarray(amap, np.float32), size, interpolation=cv2.INTER_AREA)
    m = cv2.resize(np.asarray(mask, np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    sx = size[0] / np.asarray(image).shape[1]
    small_regions = [{**r, "box": [round(v * sx) for v in r["box"]]} for r in regions]
    vmax = float(vmax) if vmax is not None else max(float(np.max(heat)), 1e-6)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    axes[0].imshow(img)
    axes[0].set_title("original")
    if reference is not None:
        axes[1].imshow(cv2.resize(to_uint8(reference), size, interpolation=cv2.INTER_AREA))
        axes[1].set_title("reconstruction")
    else:
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        axes[1].imshow(grey, cmap="gray", vmin=0, vmax=255, alpha=0.5)
        axes[1].set_title("no reconstruction (feature model)")
    im = axes[2].imshow(heat, cmap=HEAT_CMAP, vmin=0.0, vmax=vmax)
    axes[2].set_title("anomaly map")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.02)
    axes[3].imshow(draw_boxes(blend_mask(img, m), small_regions))
    axes[3].set_title("predicted mask")
    for ax in axes:
        ax.axis("off")
    head = title
    if score is not None:
        head += f"   score {score:.3f}"
        if threshold is not None:
            head += f" (threshold {threshold:.3f})"
    fig.suptitle(head, fontsize=11)
    _save_figure(fig, path)


def _side_colorbar(fig, ax, mappable) -> None:
    """A colour bar as tall as the picture beside it (not the whole cell, which wide photos leave empty)."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    fig.colorbar(mappable, cax=make_axes_locatable(ax).append_axes("right", size="4%", pad=0.04))


def save_six_panel(
    path: str | os.PathLike,
    image: np.ndarray,
    temperature: np.ndarray | None,
    amap: np.ndarray,
    hotspots: np.ndarray | None,
    fused: np.ndarray,
    mask: np.ndarray,
    regions: Sequence[dict],
    *,
    labels: Sequence[str] | None = None,
    temperature_unit: str = "relative",
    temperature_valid: np.ndarray | None = None,
    hotspot_boxes: Sequence[dict] = (),
    hotspot_labels: Sequence[str] | None = None,
    vmax: float | None = None,
    title: str = "",
) -> None:
    """Original, temperature map, learned anomaly map, hot-spot map, fused map, final overlay with labels.

    Maps have their own colour scales except ``fused`` (``vmax``, e.g. twice the threshold, so panels of
    different images compare). Invalid temperatures (overlays) are left blank; ``hotspot_boxes`` are drawn
    on the hot-spot map and, with ``hotspot_labels``, on the overlay in cyan.
    """
    img = _shrink(to_uint8(image))
    size = (img.shape[1], img.shape[0])
    sx = size[0] / np.asarray(image).shape[1]

    def fit(a):
        return cv2.resize(np.asarray(a, np.float32), size, interpolation=cv2.INTER_AREA)

    def small(boxes):
        return [{**r, "box": [round(v * sx) for v in r["box"]]} for r in boxes]

    m = cv2.resize(np.asarray(mask, np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = axes.ravel()
    ax[0].imshow(img)
    ax[0].set_title("original")
    unit = "°C" if temperature_unit == "C" else "relative"
    if temperature is not None:
        t = np.asarray(temperature, np.float32)
        ok = (
            np.isfinite(t)
            if temperature_valid is None
            else np.asarray(temperature_valid, bool) & np.isfinite(t)
        )
        fill = float(np.median(t[ok])) if ok.any() else 0.0
        ts = fit(np.where(ok, t, fill))
        ts[fit(ok.astype(np.float32)) < 0.5] = np.nan
        ti = ax[1].imshow(ts, cmap="inferno")
        _side_colorbar(fig, ax[1], ti)
        ax[1].set_title(f"temperature ({unit})")
    else:
        ax[1].set_title("temperature (not decoded)")
    vm = vmax if vmax is not None else max(float(np.max(fused)), 1e-6)
    maps = (
        (amap, "learned anomaly map", None),
        (hotspots, f"hot spots (rise, {unit})", None),
        (fused, "fused map", vm),
    )
    for k, (a, name, top) in enumerate(maps):
        if a is None:
            ax[2 + k].set_title(f"{name.split(' (')[0]} (none)")
            continue
        h = ax[2 + k].imshow(fit(a), cmap=HEAT_CMAP, vmin=0, vmax=top)
        ax[2 + k].set_title(name)
        _side_colorbar(fig, ax[2 + k], h)
    for r in small(hotspot_boxes):
        x0, y0, x1, y1 = r["box"]
        ax[3].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.2))
    font_px = max(11, round(max(size) / 24))
    over = annotate(
        blend_mask(img, m),
        small(regions),
        labels,
        hotspots=small(hotspot_boxes) if hotspot_labels is not None else (),
        hotspot_labels=hotspot_labels,
        font_px=font_px,
    )
    ax[5].imshow(over)
    ax[5].set_title("final overlay")
    for a in ax:
        a.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.01, right=0.97, bottom=0.01, top=0.92, wspace=0.08, hspace=0.1)
    _save_figure(fig, path, tight=False)


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
    tiles = [_shrink(to_uint8(img), 320) for _, img in items]
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
