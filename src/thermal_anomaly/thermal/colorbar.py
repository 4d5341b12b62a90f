"""Find the camera's colour bar: a long thin strip, sharp-edged across, whose colours run through a palette.

The finder is purely image-based (no camera-specific coordinates): a bar is a band of pixels that are uniform
*across* the band, bounded by edges on both sides, long *along* the band, near an image border, and whose
colour changes a lot along its length (a pole or a wire of one temperature does not).

Such a strip is claimed as a bar only with the evidence a bar has (``_claimed``): its colours sweep a palette
once (never coming back to a colour shown far away along it: a steel beam in and out of shade, an insulator's
sheds do), and it has the frame's edge or numbers beside it. A bare frame (no bar, no numbers) has no bar.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .ocr import find_words
from .palette import as_rgb_float, chan_max, chan_min, component_boxes, shared, to_lab, to_u8, work_copy


@dataclass(frozen=True)
class ColorBar:
    """A colour bar in original-image pixels.

    ``box`` is ``(x0, y0, x1, y1)`` with x1/y1 exclusive, ``orientation`` is ``"vertical"`` or
    ``"horizontal"``, ``colors`` the N×3 float32 RGB sequence sampled along the bar from cold to hot, and
    ``cold_end``/``hot_end`` say which side of the box holds each end ("top", "bottom", "left", "right").
    ``extent`` is the pixel range ``(start, stop)`` along the bar (y for vertical, x for horizontal) that the
    colours were sampled from: the palette proper, without label boxes or frames at the ends.
    """

    box: tuple[int, int, int, int]
    orientation: str
    colors: np.ndarray
    cold_end: str
    hot_end: str
    extent: tuple[int, int] = (0, 0)


#: a palette profile changes by at least PROFILE_MIN_SPAN (summed channel range) over a path of at least
#: PROFILE_MIN_PATH, and heads one way: its chord over an eighth of the length is more than
#: PROFILE_MIN_STRAIGHT of the path walked meanwhile (a pole or wire of one temperature barely changes; noise
#: goes back and forth)
PROFILE_MIN_SPAN = 0.6
PROFILE_MIN_PATH = 0.8
PROFILE_MIN_STRAIGHT = 0.5


def _median_along(prof8: np.ndarray) -> np.ndarray:
    """A uint8 colour sequence (N×3) median-smoothed along the bar (a 40th of its length), so that printed
    numbers and tick marks do not count as colours of it."""
    return cv2.medianBlur(prof8[:, None, :], max(3, (len(prof8) // 40) | 1))[:, 0, :]


def _profile_is_palette(prof: np.ndarray) -> bool:
    """True when a colour sequence looks like a palette: long, smooth and not doubling back on itself."""
    if len(prof) < 10:
        return False
    prof = _median_along((np.clip(prof, 0, 1) * 255).astype(np.uint8)) / 255.0
    steps = np.abs(np.diff(prof, axis=0)).sum(axis=1)
    path = float(steps.sum())
    span = float(np.abs(prof.max(axis=0) - prof.min(axis=0)).sum())
    if span < PROFILE_MIN_SPAN or path < PROFILE_MIN_PATH:
        return False
    # chord over an eighth of the length vs the path walked meanwhile: noise and back-and-forth give low ratios
    k = max(2, len(prof) // 8)
    chord = np.abs(prof[k:] - prof[:-k]).sum(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(steps)])
    walked = cum[k:] - cum[:-k]
    moving = walked > 0.05
    if moving.sum() < len(walked) // 3:
        return False
    return float(np.median(chord[moving] / walked[moving])) > PROFILE_MIN_STRAIGHT


#: a bar is at most this share of the image's width wide, and its centre within SIDE_SHARE of a side
MAX_WIDTH_SHARE = 0.05
SIDE_SHARE = 0.2
#: a bar is flat across: the median colour spread across it (channel max, 0..1) stays below this
ACROSS_SPREAD = 0.08
#: a bar is at least this share of the image's height long: cameras draw it along much of a side
MIN_LENGTH_SHARE = 0.35


def _strip_candidates(small8: np.ndarray, flush: bool = False) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of vertical bar-like strips in a working-size uint8 RGB image (any strides).

    ``flush``: look for bars drawn flush with the left or right edge of the picture instead, whose outer side
    is the frame's edge rather than an edge in the pixels (see ``_flush_bar``).
    """
    h, w = small8.shape[:2]
    if h < 20 or w < 8:
        return []
    maxw = max(3, int(round(MAX_WIDTH_SHARE * w)))
    boxes = []
    for x, y, bw, bh in _side_components(small8, maxw, flush):
        cx = x + bw / 2
        if bw > maxw or min(cx, w - cx) > SIDE_SHARE * w:  # too wide, or not near a side
            continue
        x0, x1 = (x + 1, x + bw - 1) if bw > 3 else (x, x + bw)
        strip = small8[y : y + bh, x0:x1].astype(np.float32) / 255.0
        across = float(np.median(chan_max(strip.max(axis=1) - strip.min(axis=1))))
        if across > ACROSS_SPREAD or not _profile_is_palette(np.median(strip, axis=1)):
            continue
        boxes.append((x, y, x + bw, y + bh))
    boxes = [_extend(small8, b) for b in _merge_boxes(boxes)]
    boxes = [b for b in boxes if b[3] - b[1] >= MIN_LENGTH_SHARE * h]
    return [b for b in boxes if _flush_bar(small8, b)] if flush else boxes


#: steps (0-255, max over the channels) between neighbouring pixels: below UNIFORM_STEP a drawn bar is flat
#: (JPEG noise included); above EDGE_STEP, twice that, the step is a drawn edge
UNIFORM_STEP = 14
EDGE_STEP = 28
#: a bar flush with the frame has a sharp inner edge on at least this share of its rows, and that edge is
#: straight (in one column pair) on at least STRAIGHT_SHARE of those
SHARP_SHARE = 0.9
STRAIGHT_SHARE = 0.85


def _flush_bar(small8: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """A strip found with the frame's edge as one side is a bar drawn flush with it only with the evidence
    of a drawn strip: it reaches the frame's edge, it is at least 3 px wide and flat across (drawn, not a
    smooth stretch of scene: the 90th percentile of its spread across is small), and its inner side is one
    straight, sharp edge along nearly its whole length."""
    h, w = small8.shape[:2]
    x0, y0, x1, y1 = box
    if (x0 > 0 and x1 < w) or x1 - x0 < 3:  # not at the frame's edge, or too thin to tell flat across
        return False
    # the column by the inner edge may blend with what lies beyond it
    strip = small8[y0:y1, x0 + 1 : x1] if x1 >= w else small8[y0:y1, x0 : x1 - 1]
    strip = strip.astype(np.int16)
    spread = float(np.percentile((strip.max(axis=1) - strip.min(axis=1)).max(axis=1), 90))
    if spread > UNIFORM_STEP:
        return False
    # the steps between neighbouring columns just inside the strip's inner side and beyond it
    lo, hi = (max(0, x0 - 3), min(w, x0 + 2)) if x1 >= w else (max(0, x1 - 2), min(w, x1 + 3))
    cols = small8[y0:y1, lo:hi].astype(np.int16)
    if cols.shape[1] < 2:
        return False
    steps = np.abs(np.diff(cols, axis=1)).max(axis=2)
    strongest = steps.argmax(axis=1)
    sharp = steps.max(axis=1) > EDGE_STEP
    if sharp.mean() < SHARP_SHARE:
        return False
    at = np.bincount(strongest[sharp], minlength=steps.shape[1])
    # straight: the edge sits in one column pair (or its neighbour, for a blended column) on nearly every row
    return float((at + np.concatenate([at[1:], [0]])).max()) >= STRAIGHT_SHARE * sharp.sum()


def _strip_evidence(
    img: np.ndarray, maxw: int, left_border: bool = False, right_border: bool = False
) -> np.ndarray:
    """uint8 map: pixel uniform with its left/right neighbours and an edge within ``maxw`` on both sides.

    ``left_border``/``right_border``: the first/last column is the picture's own edge, which counts as an
    edge beside it (a bar drawn flush with the frame has no pixels beyond it).
    """
    h, w = img.shape[:2]
    # the step between column x and x+1, max over the channels: per-plane OpenCV ops (contiguous, SIMD)
    # are several times faster than numpy's over the interleaved channels
    steps = [cv2.absdiff(p[:, 1:], p[:, :-1]) for p in cv2.split(img)]
    d = np.zeros((h, w), np.uint8)  # d[:, x] = step x -> x+1 (0 in the last column)
    np.maximum(np.maximum(steps[0], steps[1], out=d[:, :-1]), steps[2], out=d[:, :-1])
    dl = np.zeros((h, w), np.uint8)  # step x-1 -> x (0 in the first column)
    dl[:, 1:] = d[:, :-1]
    uniform = (cv2.max(dl, d) < UNIFORM_STEP).view(np.uint8)
    edge = (d > EDGE_STEP).view(np.uint8)
    edge_l = (dl > EDGE_STEP).view(np.uint8)
    if right_border:
        edge[:, -1] = 1
    if left_border:
        edge_l[:, 0] = 1
    k = np.ones((1, maxw), np.uint8)
    # an edge within maxw to the left (anchor at the kernel's right end) and one within maxw to the right
    has_left = cv2.dilate(edge_l, k, anchor=(maxw - 1, 0))
    has_right = cv2.dilate(edge, k, anchor=(0, 0))
    out = cv2.bitwise_and(has_left, has_right)
    out &= uniform
    return out


def _slide_v(a: np.ndarray, n: int, op: np.ufunc, neutral: int) -> np.ndarray:
    """``op`` (np.minimum/np.maximum) over a vertical window of ``n`` rows, exactly as OpenCV's erode/dilate
    by ``np.ones((n, 1))`` (anchor ``n // 2``, outside pixels ignored), by window doubling: ~log2(n) numpy
    passes instead of OpenCV's column filter, which is ~5x slower for the long windows used here."""
    top = n // 2
    pad = np.full((a.shape[0] + n - 1, a.shape[1]), neutral, a.dtype)
    pad[top : top + a.shape[0]] = a
    m, span = pad, 1  # m[i] = op over pad[i : i + span]
    while 2 * span <= n:
        m = op(m[:-span], m[span:])
        span *= 2
    return op(m[: len(m) - (n - span)], m[n - span :]) if n > span else m


def _close_v(a: np.ndarray, n: int) -> np.ndarray:
    """``cv2.morphologyEx(a, MORPH_CLOSE, np.ones((n, 1), np.uint8))`` for uint8 ``a``."""
    return _slide_v(_slide_v(a, n, np.maximum, 0), n, np.minimum, 255)


def _open_v(a: np.ndarray, n: int) -> np.ndarray:
    """``cv2.morphologyEx(a, MORPH_OPEN, np.ones((n, 1), np.uint8))`` for uint8 ``a``."""
    return _slide_v(_slide_v(a, n, np.minimum, 255), n, np.maximum, 0)


def _side_components(small8: np.ndarray, maxw: int, flush: bool = False) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of the vertical runs of strip evidence that may be a strip near a side.

    A strip's centre lies within 0.2 of the width of a side and it is at most ``maxw`` wide, so only the two
    side bands are looked at: the evidence of a band is computed on it plus ``maxw + 2`` columns of context
    (all the horizontal steps and edge searches reach), and the vertical closing and opening are per column,
    so the band's map is the same as on the whole image; a component that reaches a band's inner edge may
    continue beyond it and cannot be such a strip. ``flush``: the picture's own left and right edges count
    as edges beside the pixels next to them.
    """
    h, w = small8.shape[:2]
    gap = max(3, h // 25)  # bridge numbers printed on the bar and tick marks
    run = max(10, int(0.2 * h))
    band = int(0.25 * w) + maxw + 2
    spans = [(0, w)] if 2 * band >= w else [(0, band), (w - band, w)]
    out = []
    for c0, c1 in spans:
        e0, e1 = max(0, c0 - maxw - 2), min(w, c1 + maxw + 2)
        band8 = np.ascontiguousarray(small8[:, e0:e1])
        cand = _strip_evidence(band8, maxw, flush and e0 == 0, flush and e1 == w)
        part = _open_v(_close_v(cand[:, c0 - e0 : c1 - e0], gap), run)
        if not part.any():
            continue
        for x, y, bw, bh in component_boxes(part):
            if (c1 < w and x + bw >= c1 - c0) or (c0 > 0 and x == 0):
                continue
            out.append((x + c0, y, bw, bh))
    return out


def _extend(small8: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Grow a strip along its length where its sides lost their edge on one side only (bar colour ≈ scene).

    A row joins while it is uniform across, continues the colour of its neighbour and still differs from
    the pixels beside the strip on at least one side.
    """
    h, w = small8.shape[:2]
    x0, y0, x1, y1 = box
    i0, i1 = (x0 + 1, x1 - 1) if x1 - x0 > 3 else (x0, x1)
    # per-row evidence for every row at once (the walk below only reads it)
    inner = small8[:, i0:i1].astype(np.int16)
    uniform = (inner.max(axis=1) - inner.min(axis=1)).max(axis=1) <= 20
    med = np.median(inner, axis=1)
    # jump[y]: the colour changes by more than 20 between rows y - 1 and y
    jump = np.zeros(h, bool)
    jump[1:] = np.abs(np.diff(med, axis=0)).max(axis=1).astype(np.int64) > 20
    # box edges may sit one pixel inside the bar, so compare two pixels out with the interior
    side = np.zeros(h, np.int16)
    if x0 > 1:
        side = np.abs(small8[:, x0 - 2].astype(np.int16) - inner[:, 0]).max(axis=1)
    if x1 + 1 < w:
        side = np.maximum(side, np.abs(small8[:, x1 + 1].astype(np.int16) - inner[:, -1]).max(axis=1))
    edged = side > 15

    def state(y: int, prev: int) -> int:
        """0: not bar, 1: bar-like but no side edge (colour matches the scene), 2: bar with a side edge."""
        if not uniform[y] or jump[max(y, prev)]:
            return 0
        return 2 if edged[y] else 1

    gap = max(3, h // 10)

    def walk(start: int, stop: int, step: int) -> int:
        last, y, misses = start, start, 0
        while y + step != stop and misses <= gap:
            st = state(y + step, y)
            if st == 0:
                break
            y += step
            misses = 0 if st == 2 else misses + 1
            if st == 2:
                last = y
        return last

    y0 = walk(y0, -1, -1)
    y1 = walk(y1 - 1, h, 1) + 1
    return (x0, y0, x1, y1)


def _merge_boxes(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join strips that touch (pieces of one bar split lengthwise or across by printed numbers)."""
    merged: list[list[int]] = []
    for b in sorted(boxes):
        for m in merged:
            if b[0] <= m[2] + 2 and b[2] >= m[0] - 2 and b[1] <= m[3] + 4 and b[3] >= m[1] - 4:
                m[:] = [min(m[0], b[0]), min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3])]
                break
        else:
            merged.append(list(b))
    return [tuple(m) for m in merged]  # type: ignore[misc]


#: places on a bar at least this share of its length apart must show different colours: a palette gives each
#: colour one temperature, while scene strips (a beam in and out of shade, an insulator's sheds) repeat theirs
SWEEP_APART = 0.125
#: least ΔE (CIE76) between such colours: JPEG noise on the smoothed profile stays well below it
SWEEP_MIN_DE = 5.0
#: most points of a profile compared pairwise (the test is quadratic in them)
SWEEP_POINTS = 256


def _sweeps_once(colors: np.ndarray) -> bool:
    """True when a colour sequence (N×3 float RGB) sweeps a palette monotonically: it never comes back to a
    colour it showed far away along it, so every colour names one place on the scale."""
    n = len(colors)
    if n < 10:
        return False
    prof = _median_along(to_u8(colors)).astype(np.float32) / 255.0
    idx = np.unique(np.linspace(0, n - 1, min(n, SWEEP_POINTS)).round().astype(int))
    lab = to_lab(prof[idx])
    # each pair far enough apart once (i before j; the distances are symmetric), and the square root of
    # the least squared distance only (the root is monotonic): the same minimum as the full matrix's
    first, second = np.nonzero(idx[None, :] - idx[:, None] >= SWEEP_APART * n)
    if not len(first):
        return False
    d = lab[first] - lab[second]
    sq = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]  # the order numpy's sum over 3 adds in
    return float(np.sqrt(sq.min())) >= SWEEP_MIN_DE


#: a legend panel's background is flat and neutral: white or light grey (channel min above PANEL_LO) or
#: black (channel max below PANEL_DARK), unsaturated (channel max - min below PANEL_SAT)
PANEL_LO = 0.7
PANEL_DARK = 0.15
PANEL_SAT = 0.2
#: share of panel pixels between a strip and the frame's edge, along the frame's whole side, for them to be
#: one legend panel (the labels printed on it and the bar's outline take the rest)
PANEL_SHARE = 0.6
#: a strip this close to the frame's edge (px of the working copy) is drawn against it (a frame line between)
EDGE_GAP = 2


def _framed(img8: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """The frame's edge is beside a vertical strip of ``img8``: it reaches that edge, or only a legend panel
    lies between them: a neutral band (white margin, grey or black panel) along the frame's whole side, as
    cameras and exporters draw them. Scene between them is no panel."""
    w = img8.shape[1]
    x0, _y0, x1, _y1 = box
    left, right = x0, w - x1
    if min(left, right) <= EDGE_GAP:
        return True
    gap = img8[:, :x0] if left < right else img8[:, x1:]
    lo, hi = chan_min(gap).astype(np.int16), chan_max(gap).astype(np.int16)
    neutral = hi - lo < PANEL_SAT * 255
    panel = neutral & ((lo > PANEL_LO * 255) | (hi < PANEL_DARK * 255))
    return float(panel.mean()) >= PANEL_SHARE


#: how far (in label heights) a number may stand from a bar's end or side to label it
LABEL_GAP = 2.0
#: least height (px of the working copy) of a number, and its least width for its height
LABEL_MIN_PX = 5
LABEL_ASPECT = 0.6
#: tick labels along a bar: at least this many (one word beside a strip may be anything)
MIN_TICK_LABELS = 2


def _labelled(
    img8: np.ndarray, box: tuple[int, int, int, int], transposed: bool, extent: tuple[int, int] | None = None
) -> bool:
    """Numbers are printed beside a vertical strip of ``img8``: a number-shaped word just beyond one of its
    ends, or a few along its side. ``extent``: the rows of its palette proper (the strip's box may reach
    over an end label). ``transposed``: ``img8`` is the picture turned (a horizontal strip), so words are
    looked for in the picture's own orientation."""
    h, w = img8.shape[:2]
    x0, y0, x1, y1 = box
    y0, y1 = extent if extent is not None and extent[1] > extent[0] else (y0, y1)
    length = y1 - y0
    # the window words are looked for in: a label's width or two beside the strip, its height or two beyond
    # its ends (words farther away are dropped below; the window only bounds the work)
    reach = int(max(8 * (x1 - x0), 0.1 * w, 30))
    margin = int(max(0.15 * length, 30))
    wx0, wy0, wx1, wy1 = max(0, x0 - reach), max(0, y0 - margin), min(w, x1 + reach), min(h, y1 + margin)
    crop = img8[wy0:wy1, wx0:wx1]
    crop = cv2.transpose(crop) if transposed else crop
    lo, hi = np.ascontiguousarray(chan_min(crop)), np.ascontiguousarray(chan_max(crop))
    k = int(np.clip(length / 25, 7, 41)) | 1  # top-hat wider than a stroke, about a character
    mid = (x0 + x1) / 2 - wx0
    ends = ticks = 0
    for word in find_words(lo, hi, k, (not transposed, mid)):
        x, y, ww, hh = word.box
        if hh < LABEL_MIN_PX or ww < LABEL_ASPECT * hh:
            continue
        if transposed:
            x, y, ww, hh = y, x, hh, ww
        bx0, by0, bx1, by1 = x + wx0, y + wy0, x + ww + wx0, y + hh + wy0
        size = word.box[3]  # the text's height in the picture
        along = max(0, y0 - by1, by0 - y1)
        across = max(0, x0 - bx1, bx0 - x1)
        if across > LABEL_GAP * size:
            continue
        if along == 0:
            ticks += 1
        elif along <= LABEL_GAP * size:
            ends += 1
    return ends > 0 or ticks >= MIN_TICK_LABELS


def _claimed(img8: np.ndarray, box: tuple[int, int, int, int], transposed: bool = False) -> bool:
    """A bar-like vertical strip of ``img8`` is a colour bar only with a bar's evidence: its colours sweep a
    palette once, and the frame's edge or numbers are beside it (cheapest test first)."""
    x0, y0, x1, y1 = box
    strip = img8[y0:y1, x0:x1].astype(np.float32) / 255.0
    colors, (e0, e1) = _sample_colors(strip, (0, 0, x1 - x0, y1 - y0), "vertical")
    if not _sweeps_once(colors):
        return False
    return _framed(img8, box) or _labelled(img8, box, transposed, (y0 + e0, y0 + e1))


BAR_SIDE = 1024  # bars are thin (15 px in a 3077 px photo): look for them at a finer scale than overlays


def _search_bar_boxes(small8: np.ndarray) -> list[tuple[tuple[int, int, int, int], str]]:
    """Bar-like strips in both orientations that have a bar's evidence (``_claimed``). Strips with an edge in
    the pixels on both sides come first; only where there is none are bars drawn flush with the frame's edge
    looked for (the frame's edge as one side is weaker evidence, and a stretch of scene between a bar and the
    frame's edge must not compete)."""
    out: list[tuple[tuple[int, int, int, int], str]] = []
    images = (
        ("vertical", small8),
        ("horizontal", cv2.transpose(small8)),  # OpenCV's blocked transpose: ~10x numpy's strided copy
    )
    for flush in (False, True):
        for orient, img in images:
            for x0, y0, x1, y1 in _strip_candidates(img, flush):
                if not _claimed(img, (x0, y0, x1, y1), orient == "horizontal"):
                    continue
                if orient == "horizontal":
                    x0, y0, x1, y1 = y0, x0, y1, x1
                out.append(((x0, y0, x1, y1), orient))
        if out:
            break
    return out


def bar_work_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The float copy bars are searched on (long side at most ``BAR_SIDE``) and its scale; shared within an
    ``image_scope``."""
    return shared(image, ("work", BAR_SIDE), lambda: work_copy(as_rgb_float(image), BAR_SIDE))


def bar_boxes_fine(image: np.ndarray) -> tuple[list[tuple[tuple[int, int, int, int], str]], float]:
    """Bar-like strips in the pixels of ``bar_work_copy(image)``, and that copy's scale; the search runs
    once per ``image_scope``."""

    def compute() -> tuple[list[tuple[tuple[int, int, int, int], str]], float]:
        fine, scale = bar_work_copy(image)
        return _search_bar_boxes(to_u8(fine)), scale

    boxes, scale = shared(image, "bar_boxes", compute)
    return list(boxes), scale


def bar_boxes(image: np.ndarray) -> list[tuple[tuple[int, int, int, int], str]]:
    """All colour-bar-like strips as ((x0, y0, x1, y1), orientation) in original pixels."""
    boxes, scale = bar_boxes_fine(image)
    return [
        ((int(x0 / scale), int(y0 / scale), int(np.ceil(x1 / scale)), int(np.ceil(y1 / scale))), o)
        for (x0, y0, x1, y1), o in boxes
    ]


#: rows of a bar whose colours spread across it by more than this (channel max, 0..1) are spoiled by printed
#: numbers or ticks and interpolated over
SAMPLE_SPREAD = 0.1
#: a step along the bar (summed over the channels, 0..3) larger than this ends the palette: a label box, a
#: frame or a margin at the bar's end, not the smooth run of a palette
COLOUR_JUMP = 0.3


def _sample_colors(
    rgb: np.ndarray, box: tuple[int, int, int, int], orient: str, whole: bool = False
) -> tuple[np.ndarray, tuple[int, int]]:
    """Colour sequence along the bar (first = top/left), rows spoiled by printed numbers interpolated over:
    the longest piece between colour jumps, without flat ends (``whole``: every row of ``box``)."""
    x0, y0, x1, y1 = box
    strip = rgb[y0:y1, x0:x1] if orient == "vertical" else rgb[y0:y1, x0:x1].transpose(1, 0, 2)
    n_across = strip.shape[1]
    if n_across > 4:  # drop the outline/frame pixels at the sides
        cut = max(1, n_across // 5)
        strip = strip[:, cut:-cut]
    prof = np.median(strip, axis=1)
    spread = chan_max(strip.max(axis=1) - strip.min(axis=1))
    good = spread < SAMPLE_SPREAD
    if good.sum() >= 10 and not good.all():
        idx = np.arange(len(prof))
        prof = np.stack([np.interp(idx, idx[good], prof[good, c]) for c in range(3)], axis=1)
    if whole:
        return prof.astype(np.float32), (y0, y1) if orient == "vertical" else (x0, x1)
    # keep the longest piece between colour jumps: label boxes, frames and margins at the ends go
    steps = np.abs(np.diff(prof, axis=0)).sum(axis=1)
    cuts = np.flatnonzero(steps > COLOUR_JUMP) + 1
    pieces = np.split(np.arange(len(prof)), cuts)
    best = max(pieces, key=len)
    a, b = _without_flat_ends(prof[best[0] : best[-1] + 1])
    start = (y0 if orient == "vertical" else x0) + int(best[0]) + a
    return prof[best[0] + a : best[0] + b].astype(np.float32), (start, start + b - a)


#: a run at an end of the sampled colours is flat when, over a window of FLAT_WINDOW of the bar's length, the
#: colour moves less than FLAT_SHARE of what the palette moves over as many rows in the bar's middle ...
FLAT_WINDOW = 0.02
FLAT_SHARE = 0.2
#: ... and it is cut off when at least FLAT_RUN of the length long
FLAT_RUN = 0.03


def _without_flat_ends(prof: np.ndarray) -> tuple[int, int]:
    """The rows [a, b) of a bar's colour sequence without flat runs at its ends: a palette changes colour all
    along the bar, so a run of one colour beyond it is a panel, a margin or a label box of like colour that
    the strip ran into (a black panel beside the cold end of an iron bar, a dark value box below it), no
    stretch of the scale. Left as it is when that would leave less than half of it."""
    n = len(prof)
    win = max(2, int(round(FLAT_WINDOW * n)))
    if n < 4 * win:
        return 0, n
    moved = np.abs(prof[win:] - prof[:-win]).sum(axis=1)  # colour change over each window
    mid = moved[n // 4 : max(n // 4 + 1, 3 * n // 4 - win)]
    flat = moved < FLAT_SHARE * float(np.median(mid))
    a = 0
    while a < len(flat) and flat[a]:
        a += 1
    b = len(flat)
    while b > a and flat[b - 1]:
        b -= 1
    # a flat window at the start ends ``win`` rows on (its far row is still flat); likewise at the end
    run = max(3, int(round(FLAT_RUN * n)))
    a = a + win if a + win >= run else 0
    end = len(flat) - b + win
    b = n - end if len(flat) > b and end >= run else n
    if b - a < n // 2:
        return 0, n
    return a, b


def find_colorbar(image: np.ndarray) -> ColorBar | None:
    """The image's colour bar, or None.

    Among bar-like strips the longest wins. Which end is hot is not visible from colours alone; the camera
    convention (hot at the top of a vertical bar, at the right of a horizontal one) is assumed here and may be
    overturned by the numbers printed beside the bar (see ``ocr.read_scale``).
    """
    return shared(image, "colorbar", lambda: _find_colorbar(image))


def _find_colorbar(image: np.ndarray) -> ColorBar | None:
    rgb = as_rgb_float(image)
    boxes = bar_boxes(image)
    if not boxes:
        return None
    best: tuple[float, tuple[int, int, int, int], str, np.ndarray, tuple[int, int]] | None = None
    for box, orient in boxes:
        colors, extent = _sample_colors(rgb, box, orient)
        if len(colors) < 10:
            continue
        side = rgb.shape[0] if orient == "vertical" else rgb.shape[1]
        span = float(np.abs(colors.max(axis=0) - colors.min(axis=0)).sum())
        score = span * len(colors) / side  # full palettes over a long stretch win
        if best is None or score > best[0]:
            best = (score, box, orient, colors, extent)
    if best is None:
        return None
    _score, box, orient, colors, extent = best
    colors, extent = _completed(rgb, box, orient, colors, extent)
    if orient == "vertical":
        return ColorBar(box, orient, colors[::-1].copy(), cold_end="bottom", hot_end="top", extent=extent)
    return ColorBar(box, orient, colors, cold_end="left", hot_end="right", extent=extent)


#: a bar's colours are completed from a named palette only when they lie this close to it (median ΔE, CIE76;
#: JPEG noise on the development bars' exact palettes stays under 2) ...
COMPLETE_DE = 3.0
#: ... run along it in a straight line (median distance of their palette positions from the line) ...
COMPLETE_LINE = 0.01
#: ... and miss at most this share of it at an end; the fit uses this many colours spread along the bar. Rows
#: more than COMPLETE_TRIM of it beyond where the line reaches the palette's end are cut
COMPLETE_MAX = 0.25
COMPLETE_TRIM = 0.03
COMPLETE_SAMPLES = 64


@functools.cache
def _palette_lab(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A named palette's 256-colour LUT and its Lab colours, computed once."""
    from .palette import palette_lut

    lut = palette_lut(name, 256)
    return lut, to_lab(lut)


def _palette_line(colors: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """(LUT, slope, intercept) of the named palette the bar's colours follow closely and of the straight line
    their positions on it make along the bar (row -> position 0..1, fitted through the bar's middle 80 %: a
    panel or a label's outline run into at an end lies off it), or None."""
    from .palette import PALETTES

    n = len(colors)
    rows = np.unique(np.linspace(0, n - 1, min(n, COMPLETE_SAMPLES)).round().astype(int))
    lab = to_lab(colors[rows])
    best = None
    for name in PALETTES:
        lut, lut_lab = _palette_lab(name)
        # squared distances as |a|² + |b|² - 2ab: one small matrix product per palette
        d2 = (lab * lab).sum(1)[:, None] + (lut_lab * lut_lab).sum(1)[None, :] - 2.0 * lab @ lut_lab.T
        idx = d2.argmin(axis=1)
        err = float(np.sqrt(max(0.0, float(np.median(d2[np.arange(len(rows)), idx])))))
        if best is None or err < best[0]:
            best = (err, lut, idx)
    err, lut, idx = best
    if err > COMPLETE_DE:
        return None
    r = rows.astype(np.float64)
    pos = idx / (len(lut) - 1.0)
    mid = (r >= 0.1 * n) & (r <= 0.9 * n)
    slope, icpt = np.polyfit(r[mid], pos[mid], 1)
    if abs(slope) * n < 0.5 or float(np.median(np.abs(pos - (slope * r + icpt))[mid])) > COMPLETE_LINE:
        return None
    return lut, float(slope), float(icpt)


def _completed(
    rgb: np.ndarray, box: tuple[int, int, int, int], orient: str, colors: np.ndarray, extent: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """The bar's colours (along its axis, top/left first) and extent, cut back or grown to the ends of the
    named palette they follow (``_palette_line``).

    A bar's dark (or light) end on a scene, panel or margin of the same colour has no edge beside it, so the
    strip either stops where its colours still have some way to go or runs on into that panel: the printed
    end value then sits at a place the bar never reaches (or beyond it) and every temperature between is off
    (2-3 °C on a 26-76 °C white-hot scale). A bar is drawn evenly along its length, so the rows where the
    line reaches the palette's ends are the bar's ends: rows well beyond them are cut; rows missing before
    them are added where the picture shows the palette's colours there (a label box or a frame beyond the
    bar's end does not: that end stays). Anything else is left as it is.
    """
    side = rgb.shape[0] if orient == "vertical" else rgb.shape[1]
    n = len(colors)
    line = _palette_line(colors) if n >= 20 else None
    if line is None:
        return colors, extent
    lut, slope, icpt = line
    # rows (relative to the first sample) where the line reaches the palette's two ends
    r_a, r_b = sorted(((0.0 - icpt) / slope, (1.0 - icpt) / slope))
    # rows well beyond where the line reaches an end are no palette (a black panel beside lava's black end,
    # a dark label outline below iron's): cut
    keep_a = int(round(r_a)) if r_a > max(3.0, COMPLETE_TRIM * n) else 0
    keep_b = int(round(r_b)) + 1 if (n - 1) - r_b > max(3.0, COMPLETE_TRIM * n) else n
    if keep_a or keep_b < n:
        if keep_b - keep_a < n // 2:
            return colors, extent
        return colors[keep_a:keep_b], (extent[0] + keep_a, extent[0] + keep_b)
    grow_a = int(np.clip(round(-r_a), 0, COMPLETE_MAX * n))
    grow_b = int(np.clip(round(r_b - (n - 1)), 0, COMPLETE_MAX * n))
    grow_a, grow_b = min(grow_a, extent[0]), min(grow_b, side - extent[1])
    new_rows = np.arange(-grow_a, n + grow_b, dtype=np.float64)
    at = np.clip(slope * new_rows + icpt, 0.0, 1.0) * (len(lut) - 1)
    out = lut[np.round(at).astype(int)].astype(np.float32)
    # the picture's own colours over the rows to add: the bar's end only moves where they are the palette's
    seen, _ = _sample_colors(
        rgb, _along(box, orient, extent[0] - grow_a, extent[1] + grow_b), orient, whole=True
    )
    ga, gb = grow_a, grow_b
    if len(seen) == len(out):
        off = np.linalg.norm(to_lab(seen) - to_lab(out), axis=1)
        ga = ga if ga >= 2 and np.median(off[:ga]) <= 2 * COMPLETE_DE else 0
        gb = gb if gb >= 2 and np.median(off[len(out) - gb :]) <= 2 * COMPLETE_DE else 0
    else:
        ga = gb = 0
    if not ga and not gb:
        return colors, extent
    out = out[grow_a - ga : grow_a + n + gb]
    grow_a, grow_b = ga, gb
    out[grow_a : grow_a + n] = colors
    return out, (extent[0] - grow_a, extent[1] + grow_b)


def _along(box: tuple[int, int, int, int], orient: str, start: int, stop: int) -> tuple[int, int, int, int]:
    """``box`` with its extent along the bar's axis set to [start, stop)."""
    x0, y0, x1, y1 = box
    return (x0, start, x1, stop) if orient == "vertical" else (start, y0, stop, y1)


def flipped(bar: ColorBar) -> ColorBar:
    """The same bar read the other way round (hot and cold ends swapped)."""
    return ColorBar(
        bar.box, bar.orientation, bar.colors[::-1].copy(), bar.hot_end, bar.cold_end, extent=bar.extent
    )
