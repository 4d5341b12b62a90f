"""Read the temperature scale printed beside a colour bar (end values, tick labels) with tesseract.

Numbers are found in a window around the bar, on two binarised copies (light text, dark text), and each is
placed along the bar: a label inside the bar's extent is a tick at that position, the nearest label beyond
an end names that end. A straight line through the ticks (robust: the pair agreeing with most others wins)
gives the temperature at both ends. Every failure returns a reason instead of raising, so the caller can fall
back to relative temperature.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from .colorbar import ColorBar
from .palette import as_rgb_float, chan_max, chan_min

_NUMBER = re.compile(r"-?\d{1,4}(?:[.,]\d{1,2})?")


@dataclass(frozen=True)
class ScaleReading:
    """Temperatures (°C) at the bar's two ends along its axis: ``start`` = top/left, ``stop`` = bottom/right."""

    start: float
    stop: float
    n_labels: int


def tesseract_available() -> bool:
    """True when pytesseract imports and the tesseract binary is on PATH."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def _line_boxes(binary: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of character-sized ink grouped into words, in a black-on-white image."""
    ink = (binary < 128).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hs = stats[1:, cv2.CC_STAT_HEIGHT]
    ws = stats[1:, cv2.CC_STAT_WIDTH]
    ok = np.flatnonzero((hs >= 8) & (hs <= 120) & (ws <= 2 * hs + 10)) + 1
    if ok.size == 0:
        return []
    chars = np.isin(lab, ok).astype(np.uint8)
    gap = max(3, int(0.6 * np.median(stats[ok, cv2.CC_STAT_HEIGHT])))
    words = cv2.dilate(chars, np.ones((3, gap), np.uint8))
    m, _l, st, _c = cv2.connectedComponentsWithStats(words, connectivity=8)
    return [tuple(int(v) for v in st[i, :4]) for i in range(1, m)]  # type: ignore[misc]


def _tokens(binary: np.ndarray) -> list[tuple[float, float, float, str]]:
    """(value, centre x, centre y, text) of the numbers in a black-on-white uint8 image.

    Word boxes are cut out and stacked into one mosaic read by tesseract as a block of lines: one call per
    image, and each label read on its own line, away from the bar and the scene.
    """
    import pytesseract

    boxes = _line_boxes(binary)[:80]
    if not boxes:
        return []
    pad = 12
    width = max(w for _x, _y, w, _h in boxes) + 2 * pad
    slots, canvas_rows, top = [], [], 0
    for x, y, w, h in boxes:
        tile = np.full((h + 2 * pad, width), 255, np.uint8)
        tile[pad : pad + h, pad : pad + w] = binary[y : y + h, x : x + w]
        canvas_rows.append(tile)
        slots.append((top, top + h + 2 * pad))
        top += h + 2 * pad
    canvas = np.concatenate(canvas_rows, axis=0)
    data = pytesseract.image_to_data(canvas, config="--psm 6", output_type=pytesseract.Output.DICT)
    # per slot keep the most number-like token: an icon next to a label ("lock 48.0") reads as a lone digit
    best: dict[int, tuple[tuple[bool, int, float], str]] = {}
    for text, conf, ty, th in zip(data["text"], data["conf"], data["top"], data["height"], strict=False):
        nums = _NUMBER.findall(text or "")
        if not nums or float(conf) < 30:
            continue
        num = max(nums, key=len)
        cy = ty + th / 2
        slot = next((i for i, (a, b) in enumerate(slots) if a <= cy < b), None)
        rank = ("." in num or "," in num, len(num), float(conf))
        if slot is not None and (slot not in best or rank > best[slot][0]):
            best[slot] = (rank, num.replace(",", "."))
    out = []
    for slot, (_rank, num) in best.items():
        x, y, w, h = boxes[slot]
        out.append((float(num), x + w / 2, y + h / 2, num))
    return out


def _drop_big(binary: np.ndarray) -> np.ndarray:
    """Whiten ink blobs too big to be characters (bar outline, scene regions) in a black-on-white image."""
    ink = (binary < 128).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    limit = (
        max(40, binary.shape[0] // 8) if binary.shape[0] < binary.shape[1] * 3 else max(40, binary.shape[1])
    )
    big = np.flatnonzero((stats[:, cv2.CC_STAT_HEIGHT] > limit) | (stats[:, cv2.CC_STAT_WIDTH] > limit))
    big = big[big > 0]
    out = np.full(binary.shape, 255, np.uint8)
    out[(ink > 0) & ~np.isin(lab, big)] = 0
    return out


def _fit_ends(points: list[tuple[float, float]], tol: float) -> tuple[float, float, int] | None:
    """Robust line value = a + b * position (position 0..1): the pair with most inliers, then least squares."""
    if len(points) < 2:
        return None
    pts = np.array(points, np.float64)
    best: tuple[int, np.ndarray] | None = None
    for i, j in combinations(range(len(pts)), 2):
        (p1, v1), (p2, v2) = pts[i], pts[j]
        if abs(p2 - p1) < 0.05 or v1 == v2:
            continue
        b = (v2 - v1) / (p2 - p1)
        resid = np.abs(pts[:, 1] - (v1 + b * (pts[:, 0] - p1)))
        inl = resid <= tol * abs(b)
        if best is None or inl.sum() > best[0]:
            best = (int(inl.sum()), inl)
    if best is None or best[0] < 2:
        return None
    inl = best[1]
    b, a = np.polyfit(pts[inl, 0], pts[inl, 1], 1)
    return float(a), float(a + b), int(inl.sum())


def read_scale(image: np.ndarray, bar: ColorBar) -> tuple[ScaleReading | None, str]:
    """Temperatures at the bar's ends from the printed numbers, or (None, reason)."""
    if not tesseract_available():
        return None, "tesseract not installed: cannot read the colour bar's numbers"
    rgb = as_rgb_float(image)
    H, W = rgb.shape[:2]
    x0, y0, x1, y1 = bar.box
    vertical = bar.orientation == "vertical"
    e0, e1 = bar.extent if bar.extent[1] > bar.extent[0] else ((y0, y1) if vertical else (x0, x1))
    length = e1 - e0
    across = (x1 - x0) if vertical else (y1 - y0)
    reach = int(max(12 * across, 0.2 * (W if vertical else H)))
    if vertical:
        wx0, wx1 = max(0, x0 - reach), min(W, x1 + reach)
        wy0, wy1 = max(0, e0 - int(0.2 * length)), min(H, e1 + int(0.2 * length))
    else:
        wx0, wx1 = max(0, e0 - int(0.2 * length)), min(W, e1 + int(0.2 * length))
        wy0, wy1 = max(0, y0 - reach), min(H, y1 + reach)
    crop = rgb[wy0:wy1, wx0:wx1]
    zoom = float(np.clip(900.0 / max(1, length), 1.0, 3.0))  # labels scale with the bar; aim at ~30 px digits
    crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    lo, hi = chan_min(crop), chan_max(crop)
    grey = (0.5 * (lo + hi) * 255).astype(np.uint8)
    _t, otsu = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    variants = [
        _drop_big(np.where((lo > 0.7) & (hi - lo < 0.3), 0, 255)),  # light text (white, light grey)
        _drop_big(np.where(hi < 0.3, 0, 255)),  # dark text
        _drop_big(otsu),
        _drop_big(255 - otsu),  # mid-grey text on a dark box
        grey,
    ]
    tokens: list[tuple[float, float, float, str]] = []
    try:
        for variant in variants:
            binary = np.ascontiguousarray(variant, dtype=np.uint8)
            binary = cv2.copyMakeBorder(binary, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)
            tokens += [(v, cx - 10, cy - 10, txt) for v, cx, cy, txt in _tokens(binary)]
    except Exception as exc:  # tesseract crashes or times out: fall back, never fail the caller
        return None, f"tesseract failed: {exc}"
    if not tokens:
        return None, "no numbers found beside the colour bar"
    if all(v < 0 for v, *_ in tokens):  # "-79", "-78", ...: the dashes are tick marks, not minus signs
        tokens = [(-v, cx, cy, txt.lstrip("-")) for v, cx, cy, txt in tokens]
    ticks: list[tuple[float, float]] = []
    before: list[tuple[float, str]] = []  # (distance beyond the start, text)
    after: list[tuple[float, str]] = []
    seen: set[tuple[float, int]] = set()
    for v, cx, cy, txt in tokens:
        along = (cy / zoom + wy0) if vertical else (cx / zoom + wx0)
        if along < e0 - 0.01 * length:
            before.append((e0 - along, txt))
            continue
        if along > e1 + 0.01 * length:
            after.append((along - e1, txt))
            continue
        key = (v, int(along) // 4)
        if key not in seen:
            seen.add(key)
            ticks.append(((along - e0) / max(1, length), v))
    ends: list[tuple[float, float]] = []
    for pos, side in ((0.0, before), (1.0, after)):
        if side:  # the label nearest the end; the binarised variants vote on its value
            near = min(d for d, _ in side)
            votes = Counter(t for d, t in side if d <= near + 0.03 * length)
            # end values carry a decimal point; icons beside them read as short stray digits
            pick = max(votes, key=lambda t: ("." in t, len(t.lstrip("-")), votes[t]))
            ends.append((pos, float(pick)))
    if len(ends) == 2 and len(ticks) < 3:  # two end labels beat one or two stray numbers over the scene
        ticks = []
    ticks += ends
    spacing = 1.0 / max(2, len(ticks))
    fit = _fit_ends(ticks, tol=0.35 * spacing)
    if fit is None:
        return None, f"colour-bar numbers not consistent with a linear scale ({len(ticks)} read)"
    start, stop, n = fit
    # cameras put the hot end at the top (vertical) or right (horizontal); two end labels read the other way
    # round are far more likely a misread (an icon taken for a digit) than a reversed scale
    if n < 3 and (start < stop) == vertical:
        return (
            None,
            f"colour-bar end labels contradict hot-at-top/right ({start:.1f}..{stop:.1f}); not trusted",
        )
    if n < 4 and (abs(stop - start) > 150.0 or min(start, stop) < -40.0):  # few labels: likely a misread
        return None, f"implausible scale from {n} labels ({start:.1f}..{stop:.1f} °C); not trusted"
    if not (-60.0 <= min(start, stop) and max(start, stop) <= 2000.0) or abs(stop - start) < 0.5:
        return None, f"implausible scale read from the colour bar ({start:.1f}..{stop:.1f} °C)"
    return ScaleReading(start=start, stop=stop, n_labels=n), ""
