"""Read the temperature scale printed beside a colour bar (end values, tick labels) with tesseract.

Text is found without OCR first: a top-hat on the darkest channel (light text) and a black-hat on the
brightest channel (dark text) mark thin high-contrast strokes in a window around the bar, whatever the
background (UI box, the bar's own colours, a white margin). Strokes group into words; only the words that can
be scale labels are kept (the nearest beyond each end, and a handful along the bar on the side where the
labels stand). Each word is cut out, normalised to black on white, upscaled to ~40 px digits, binarised, and
all of them are stacked into one mosaic read by a single tesseract call (digits whitelist, one line per word).

A label inside the bar's extent is a tick at that position; the nearest number-shaped word beyond an end
names that end (a camera's max/min value boxes), or, when that one is unreadable and off the bar's axis
(scene), the nearest on the axis that reads as a number. End values are read at three sizes and two must
agree, and every reading is checked against its own glyphs (one digit per digit-sized blob; a lost decimal
dot is put back).
A one-digit end label counts only when read alike and confidently at all three sizes and the other end is
read too.
A straight line through the labels (robust: the pair agreeing with most others wins) gives the temperature at
both ends; it is refused when labels sit off it, when only two tick labels agree, when end labels contradict
the ticks or hot-at-top, or when the span is implausible. A wrong temperature is worse than a relative one:
every failure returns a reason instead of raising, so the caller falls back to relative temperature.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..postprocess import labelled_boxes
from . import glyphs, tesseract
from .palette import as_rgb_float, chan_max, chan_min, labels_in, to_u8

if TYPE_CHECKING:  # colorbar finds its bars' labels with find_words: ocr needs ColorBar only as a type
    from .colorbar import ColorBar

_NUMBER = re.compile(r"-?\d{1,4}(?:\.\d{1,2})?")
_DIGIT_PX = 40  # digit height tesseract reads best at
_END_PX = (30, 38, 46)  # end values are read at three sizes: two must agree, none may outvote them
#: labels along the bar sent to tesseract: some scales print dozens of ticks, and a few evenly spread ones fix
#: the line as well as all of them while keeping the one OCR call small
MAX_TICK_WORDS = 8
T_RANGE = (-40.0, 2000.0)  # plausible scale values, °C
MAX_LABEL_OFF = 0.025  # how far (share of the bar) a label may stand from where the fitted scale puts it
#: a one-digit end label ("9") is trusted only when read alike at every size, each at least this confident
SINGLE_DIGIT_CONF = 70.0
#: ... and only when its word is at most this many times as wide as tall: a word as wide as "24.4°C" read as one
#: digit lost the others (white on a white-hot scene)
LONE_DIGIT_WIDTH = 1.6
#: least tesseract confidence (0-100) of a tick label: the line fit through all ticks outvotes a misread one
TICK_CONF = 30
#: least tesseract confidence of an end label: an end value is used alone, with no other label to outvote it
END_CONF = 50
#: least span (°C) of a scale: a camera's scale covers more, so a narrower reading comes from misread labels
MIN_SPAN = 0.5
#: widest span (°C) trusted from only two labels: a wider one is more likely a misread digit
MAX_TWO_LABEL_SPAN = 150.0
#: how far a stroke must stand out from its surroundings (top-/black-hat, 0-255) to be ink: ~0.16 of full
#: scale, so faint scene texture stays out while printed text, however thin, gets in
INK_HAT = 40
#: a minus sign is printed in its number's ink: its strongest ink (highest channel min of light text, lowest
#: channel max of dark) within this much (0-255) of the digits' (``_strongest``; scene texture beside plain
#: text over the scene, a yellow edge beside white digits, differs by far more)
DASH_INK = 80


@dataclass(frozen=True)
class ScaleReading:
    """Temperatures (°C) at the bar's two ends along its axis: ``start`` = top/left, ``stop`` = bottom/right.

    ``labels`` are the (position along the bar 0..1, value °C) pairs the line was fitted through. Values are
    °C always; ``printed_unit`` says whether the picture printed them in °F (see ``printed_units``).
    """

    start: float
    stop: float
    n_labels: int
    labels: tuple[tuple[float, float], ...] = field(default=())
    #: the unit the picture prints its numbers in: "C", or "F" when they were converted to °C here
    printed_unit: str = "C"


def tesseract_available() -> bool:
    """True when labels can be read: tesserocr (in process) or the tesseract program (both looked up once)."""
    return tesseract.available()


@dataclass
class _Word:
    box: tuple[int, int, int, int]  # x, y, w, h in window pixels
    light: bool  # light text on a darker background
    text: str = ""
    conf: float = -1.0
    #: the same place seen with the other polarity (gaps between light letters look like dark text): both are
    #: read and the more number-like reading wins
    alts: list[_Word] = field(default_factory=list)
    #: a minus sign found before the word (small print draws it 1 px thick, which binarising may lose)
    minus: bool = False
    #: the bar's end (0: top/left, 1: bottom/right) a label level with it names, when it stands beside the
    #: bar within its extent (see ``_select``); None: decided by where it stands along the bar
    end: int | None = None

    @property
    def cx(self) -> float:
        return self.box[0] + self.box[2] / 2

    @property
    def cy(self) -> float:
        return self.box[1] + self.box[3] / 2


def _stroke_hat(channel: np.ndarray, light: bool, k: int) -> np.ndarray:
    """How far each pixel stands out from its surroundings as a thin stroke (light or dark ones)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    op = cv2.MORPH_TOPHAT if light else cv2.MORPH_BLACKHAT
    return cv2.morphologyEx(channel, op, kernel)


STRONG_HAT = 120  # printed UI text stands out by far more than scene texture (edges of a grey picture)


def _char_ok(st: np.ndarray, k: int) -> np.ndarray:
    """Which component boxes (x, y, w, h rows) are character-sized."""
    ws, hs = st[:, 2], st[:, 3]
    return (hs >= 3) & (hs <= 3 * k) & (ws <= 2 * hs + 4) & (ws >= np.maximum(1, hs // 8))


def _split_tangled(hat: np.ndarray, lab: np.ndarray, stats: np.ndarray, k: int) -> np.ndarray:
    """Character-sized pieces of the components too big to be characters, taken at a stronger contrast.

    Thin printed digits on a textured background (a grey picture-in-picture) touch the scene's faint
    strokes, and together they make one big shape that is no character; the digits stand out much more.
    Returns the boxes (x, y, w, h) of the strong strokes inside such shapes that are character-sized and
    stand level beside another such piece, as the digits of a number do.
    """
    ws, hs = stats[1:, 2], stats[1:, 3]
    big = (
        np.flatnonzero((hs > 3 * k) | ((hs >= 3) & (ws > 2 * hs + 4))) + 1
    )  # taller or wider than a character
    if not len(big):
        return np.zeros((0, 4), np.int64)
    strong = ((hat > STRONG_HAT) & labels_in(lab, big, len(stats))).astype(np.uint8)
    # labelled within the strong strokes' bounding box only (a few % of the window, ~4x faster); it starts
    # on even coordinates so that OpenCV's 2x2-block labelling numbers the pieces in the same order
    x, y, w, h = cv2.boundingRect(strong)
    if w == 0:
        return np.zeros((0, 4), np.int64)
    x0, y0 = x & ~1, y & ~1
    box = strong[y0 : y + h, x0 : x + w]
    _n, _lab, st = labelled_boxes(box)
    st = st[1:, :4].astype(np.int64) + (x0, y0, 0, 0)
    st = st[_char_ok(st, k)]
    # a number: pieces that stand level beside a like piece (a lone piece is more likely a bit of an edge)
    return st[_beside_a_level_piece(st)]


def _beside_a_level_piece(st: np.ndarray, rows: int = 256) -> np.ndarray:
    """Which boxes (x, y, w, h rows) have another box level with them (overlapping by 0.7 of the taller
    one's height) and at most half that height apart: all pairs as arrays, ``rows`` boxes at a time (a
    pair loop in Python cost ~30 ms on a 3077 px photo's label window)."""
    x, y, w, h = (st[:, c] for c in range(4))
    keep = np.zeros(len(st), bool)
    for i0 in range(0, len(st), rows):
        i = slice(i0, i0 + rows)
        overlap = np.minimum((y + h)[i, None], y + h) - np.maximum(y[i, None], y)
        gap = np.maximum(x - (x + w)[i, None], x[i, None] - (x + w))
        taller = np.maximum(h[i, None], h)
        near = (overlap >= 0.7 * taller) & (gap <= 0.5 * taller)
        own = np.arange(near.shape[0])
        near[own, own + i0] = False  # not the box itself
        keep[i] = near.any(axis=1)
    return keep


def find_words(lo: np.ndarray, hi: np.ndarray, k: int, axis: tuple[bool, float]) -> list[_Word]:
    """Word boxes of character-sized strokes, separately for light and dark text (uint8 channels ``lo``/``hi``:
    per-pixel channel min/max; ``k``: top-hat kernel, about a character; ``axis``: (vertical, the bar's
    centre line across it), near which the most specks are kept). No OCR: the words are not read.

    Two characters join when they sit level and closer than half a character height: local rules, so big
    shapes in the scene do not change how the labels group.
    """
    words: list[_Word] = []
    for light, channel in ((True, lo), (False, hi)):
        hat = _stroke_hat(channel, light, k)
        ink = (hat > INK_HAT).astype(np.uint8)  # strokes that stand out by >= ~0.16
        _n, lab, stats = labelled_boxes(ink)
        st = stats[1:, :4].astype(np.int64)
        ws, hs = st[:, 2], st[:, 3]
        ok = _char_ok(st, k)
        # too small to be a character: a decimal dot or a minus sign of small print (1-2 px), kept apart
        small = ~ok & (hs <= 4) & (ws <= 3 * k)
        punct = st[small]
        punct_ink = _ink_levels(channel, lab, np.flatnonzero(small) + 1, light, len(stats))
        st = np.concatenate([st[ok], _split_tangled(hat, lab, stats, k)])
        # noisy night scenes make thousands of specks: keep the ones nearest the bar, where labels stand
        vertical, mid = axis
        centre = st[:, 0] + st[:, 2] / 2 if vertical else st[:, 1] + st[:, 3] / 2
        st = st[np.argsort(np.abs(centre - mid), kind="stable")[:600]]
        if len(st) == 0:
            continue
        parent = list(range(len(st)))

        def root(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in _level_pairs(st):
            parent[root(j)] = root(i)
        groups: dict[int, list[int]] = {}
        for i in range(len(st)):
            groups.setdefault(root(i), []).append(i)
        boxes, chars, inks = [], [], []
        for members in groups.values():
            g = st[members]
            if len(g) >= 3:  # a box's side joined to the digits it frames: thin, taller than the rest
                rest_h = np.array([np.delete(g[:, 3], i).max() for i in range(len(g))])
                g = g[~((g[:, 3] > 1.5 * rest_h) & (g[:, 2] <= 0.3 * g[:, 3]))]
            x0, y0 = int(g[:, 0].min()), int(g[:, 1].min())
            x1, y1 = int((g[:, 0] + g[:, 2]).max()), int((g[:, 1] + g[:, 3]).max())
            if y1 - y0 < 5 or int(g[:, 3].max()) < 5:
                continue
            boxes.append([x0, y0, x1, y1])
            # the characters' own height and middle: a scene blob joined to the word (a bright gap between
            # outlined letters and a bar's end) makes its box taller than its characters
            chars.append((float(np.median(g[:, 3])), float(np.median(g[:, 1] + g[:, 3] / 2))))
            inks.append(_strongest(channel[y0:y1, x0:x1][ink[y0:y1, x0:x1] > 0], light))
        for x0, y0, x1, y1, minus in _with_punctuation(boxes, punct, chars, (punct_ink, np.array(inks))):
            w, h = x1 - x0, y1 - y0
            if w > 12 * h:
                continue
            words.append(_Word((x0, y0, w, h), light, minus=minus))
    return _dedup(words)


_words = find_words  # the name tests/unit/test_flir_pictures.py imports


def _level_pairs(st: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) of character boxes (x, y, w, h rows) that join into one word: taken left to right
    (by x), each box looks at the boxes after it until one starts more than half the taller one's height
    beyond its right edge, and joins those that sit level with it (a dot or a tick mark, short, when it
    lies within the other's height). All pairs at once, as arrays; the groups do not depend on the order
    in which pairs are joined."""
    order = np.argsort(st[:, 0])
    x, y, w, h = (st[order, c][:, None] for c in range(4))  # this box (rows)
    x2, y2, h2 = st[order, 0][None, :], st[order, 1][None, :], st[order, 3][None, :]  # a later box (columns)
    hmax = np.maximum(h, h2)
    n = len(order)
    later = np.triu(np.ones((n, n), bool), 1)
    stop = later & (x2 - (x + w) > 0.5 * hmax)
    looked = later & (np.cumsum(stop, axis=1) == 0)  # before the first box too far to the right
    overlap = np.minimum(y + h, y2 + h2) - np.maximum(y, y2)
    small = np.minimum(h, h2)
    join = looked & (overlap >= 0.5 * small) & ((small >= 0.5 * hmax) | (overlap >= small - 1))
    a, b = np.nonzero(join)
    return list(zip(order[a].tolist(), order[b].tolist(), strict=True))


#: a word's strongest ink: this percentile of its ink pixels' channel (from the light or the dark end); the
#: strokes' cores, not the pixels their edges blend with the scene or an outline
STRONG_INK = 10


def _strongest(values: np.ndarray, light: bool) -> float:
    """The strongest ink of a word's ink pixels (``STRONG_INK`` from the light or the dark end)."""
    if not len(values):
        return 255.0 if light else 0.0
    return float(np.percentile(values, 100 - STRONG_INK if light else STRONG_INK))


def _ink_levels(
    channel: np.ndarray, lab: np.ndarray, ids: np.ndarray, light: bool, n: int | None = None
) -> np.ndarray:
    """The strongest ink of each labelled component in ``ids`` (labels of ``lab``, ``n`` of them with the
    background when known): the highest ``channel`` value of light ink, the lowest of dark. A dash 1-2 px
    thin blends with what is around it at its edges, but its core is its number's ink."""
    if not len(ids):
        return np.zeros(0)
    # per label through an unbuffered ufunc over the pixels of ``ids`` only (what ``ndimage.maximum`` gives,
    # without its argsort of the whole window: ~46 -> ~2 ms a label window of a 3077 px photo)
    wanted = np.zeros(int(lab.max()) + 1 if n is None else n, bool)
    wanted[ids] = True
    sel = wanted[lab]
    level = np.full(len(wanted), -np.inf if light else np.inf)
    (np.maximum if light else np.minimum).at(level, lab[sel], channel[sel].astype(np.float64))
    return level[ids]


def _with_punctuation(
    boxes: list[list[int]],
    punct: np.ndarray,
    chars: list[tuple[float, float]] | None = None,
    inks: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[list[int]]:
    """Word boxes (x0, y0, x1, y1, minus) joined across a decimal dot, and whether a minus sign leads them.

    Small print draws the dot and the minus 1-2 px thick, below the size of a character stroke, and the dot
    widens the gap between the digits it separates ("26.4" as "26" and "4", the minus lost from "-40.0"). A
    dot sits on the words' common baseline between two words of the same line at most a character apart; a
    minus is a flat dash at mid-height just left of a word (the box is not grown over it: the tile would
    then also carry the tick marks that look the same). ``inks``: (each speck's, each word's) ink level, when
    known: a minus is of its number's ink (``DASH_INK``).
    """
    boxes = [[*b, 0] for b in boxes]
    if not len(punct) or not boxes:
        return boxes
    punct = np.asarray(punct, np.int64).reshape(-1, 4)
    px, py, pw, ph = (punct[:, c] for c in range(4))
    # each speck against every word at once, as arrays (a loop over specks and words in Python cost up to
    # ~0.5 s on a noisy 3077 px photo's label window); the same rules and the same first matches
    x0, y0, _x1, y1 = (np.array([b[c] for b in boxes], np.int64) for c in range(4))
    if chars is None:
        h, mid = y1 - y0, (y0 + y1) / 2
    else:  # ``chars``: each word's characters' (median height, median middle row)
        h, mid = (np.array([c[k] for c in chars]) for k in (0, 1))
    dash = (
        (pw >= 2 * ph)[:, None]
        & (0.25 * h <= pw[:, None])
        & (pw[:, None] <= 0.9 * h)
        & (np.abs((py + ph / 2)[:, None] - mid) <= 0.2 * h)
    )
    lead = x0 - (px + pw)[:, None]
    dash &= (lead >= 0) & (lead <= 0.5 * h)
    if inks is not None:
        dash &= np.abs(inks[0][:, None] - inks[1][None, :]) <= DASH_INK
    dashes = [
        (int(px[i]), int(pw[i]), boxes[int(np.argmax(dash[i]))]) for i in np.flatnonzero(dash.any(axis=1))
    ]
    # tick marks look the same but stand in a column, one before every label: three alike are ticks
    column = Counter((dx, dw) for dx, dw, _b in dashes)
    for dx, dw, b in dashes:
        if sum(n for (qx, qw), n in column.items() if abs(qx - dx) <= 1 and abs(qw - dw) <= 1) < 3:
            b[4] = 1
    # the dots: specks at most 4 px, roundish
    dots = (np.maximum(pw, ph) <= 4) & (pw / np.maximum(1, ph) >= 0.4) & (pw / np.maximum(1, ph) <= 2.5)
    pcx, pbottom = (px + pw / 2)[dots], (py + ph)[dots]
    while boxes and len(pcx) and _join_one(boxes, pcx, pbottom):
        pass
    return boxes


def _join_one(boxes: list[list[int]], pcx: np.ndarray, pbottom: np.ndarray) -> bool:
    """Join the first two words found on either side of a dot (centre x ``pcx``, bottom ``pbottom``; the
    first dot, then the first word before it, then the first word after it); False when there are none."""
    x0, y0, x1, y1 = (np.array([b[c] for b in boxes], np.int64) for c in range(4))
    ha = y1 - y0
    after = pcx[:, None] - x1
    before = (np.abs(pbottom[:, None] - y1) <= np.maximum(1, 0.15 * ha)) & (after >= 0) & (after <= 0.5 * ha)
    for p, a in zip(*np.nonzero(before), strict=True):
        h_a = ha[a]
        level = (np.abs(y1 - y1[a]) <= max(1, 0.15 * h_a)) & (np.abs(ha - h_a) <= max(2, 0.25 * h_a))
        gap = x0 - pcx[p]
        ok = level & (gap >= 0) & (gap <= 0.5 * h_a) & (x0 - x1[a] <= h_a)
        ok[a] = False
        if ok.any():
            wa, wb = boxes[a], boxes[int(np.argmax(ok))]
            wa[:] = [wa[0], min(wa[1], wb[1]), wb[2], max(wa[3], wb[3]), wa[4]]
            boxes.remove(wb)
            return True
    return False


def _dedup(words: list[_Word]) -> list[_Word]:
    """Pair words that overlap a word of the other polarity; the larger one carries the other as ``alts``."""

    def area(w: _Word) -> int:
        return w.box[2] * w.box[3]

    def inter(a: _Word, b: _Word) -> int:
        ax, ay, aw, ah = a.box
        bx, by, bw, bh = b.box
        return max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))

    out: list[_Word] = []
    taken: set[int] = set()
    for i in sorted(range(len(words)), key=lambda i: -area(words[i])):
        if i in taken:
            continue
        w = words[i]
        for j, o in enumerate(words):
            if j != i and j not in taken and o.light != w.light and inter(w, o) > 0.4 * min(area(w), area(o)):
                w.alts.append(o)
                taken.add(j)
        taken.add(i)
        out.append(w)
    return out


def _normalised(lo: np.ndarray, hi: np.ndarray, word: _Word, px: int = _DIGIT_PX) -> np.ndarray:
    """The word as black text on white, upscaled to ~40 px digits and binarised (Otsu within the word)."""
    return _normalised_unit(lo, hi, word, px)[0]


def _normalised_unit(
    lo: np.ndarray, hi: np.ndarray, word: _Word, px: int = _DIGIT_PX
) -> tuple[np.ndarray, str]:
    """``_normalised``, and the unit sign ("C", "F") printed right after the number and cut from the tile, or ""."""
    x, y, w, h = word.box
    pad = max(2, h // 4)
    H, W = lo.shape
    y0, y1, x0, x1 = max(0, y - pad), min(H, y + h + pad), max(0, x - pad), min(W, x + w + pad)
    crop = (255 - lo[y0:y1, x0:x1]) if word.light else hi[y0:y1, x0:x1]
    zoom = float(np.clip(px / max(1, h), 0.5, 8.0))
    crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    _t, binary = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # ink cut by the crop's edge is a box outline or the scene, never a character of this word
    ink = (binary < 128).astype(np.uint8)
    _n, lab, st, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    Hc, Wc = ink.shape
    edge = (st[:, 0] == 0) | (st[:, 1] == 0) | (st[:, 0] + st[:, 2] >= Wc) | (st[:, 1] + st[:, 3] >= Hc)
    edge[0] = False
    # only where the window or the frame ends the crop can a digit of this word be missing: the pad's own
    # edge cuts what stands beside the word (a bar's end, a box's side)
    if _cut_digit(st, edge, Wc, (x - pad < 0, x + w + pad > W)):
        return np.full_like(binary, 255), ""  # a number cut short by the window or the frame is not read
    binary[edge[lab]] = 255
    return _without_unit(binary)


def _cut_digit(st: np.ndarray, edge: np.ndarray, width: int, clipped: tuple[bool, bool]) -> bool:
    """Whether a blob cut by the tile's left or right side (``edge``: blobs touching a side; ``st``: their
    stats, 0 the background) stands level with the word's digits and as tall: a digit the crop cut off,
    so what is left is not the number ("26.0" seen as "6.0"). A box's side is taller than the digits it
    frames, scene lines lean across them. A digit cut at the right after a decimal dot costs the last
    decimal only ("0.0" at the frame's edge, as a camera draws it), and is let be. ``clipped``: whether the
    tile's left and right sides are where the window or the frame ended it (only there can a digit be cut)."""
    inner = np.flatnonzero(~edge)[1:]
    if not len(inner):
        return False
    hmax = st[inner, 3].max()
    digits = inner[st[inner, 3] >= 0.55 * hmax]
    top, bottom = float(np.median(st[digits, 1])), float(np.median(st[digits, 1] + st[digits, 3]))
    h = bottom - top
    dot = any(
        st[i, 3] <= 0.3 * h and st[i, 2] <= 0.4 * h and abs(st[i, 1] + st[i, 3] - bottom) <= 0.15 * h
        for i in inner
    )
    idx = np.flatnonzero(edge)
    x, y, w, bh = (st[idx, c].astype(int) for c in range(4))
    # the pieces a cut digit falls into (the top of a "2" and its foot) together, per side
    none = np.zeros(len(idx), bool)
    left = (x == 0) if clipped[0] else none
    right = (x + w >= width) if clipped[1] and not dot else none
    for on_side in (left, right):
        if not on_side.any():
            continue
        y0, y1 = int(y[on_side].min()), int((y + bh)[on_side].max())
        if abs(y0 - top) <= 0.2 * h and abs(y1 - bottom) <= 0.2 * h and int(w[on_side].max()) <= 0.9 * h:
            return True
    return False


def _without_unit(binary: np.ndarray) -> tuple[np.ndarray, str]:
    """A number tile without the "°C" / "°F" printed right after the number ("23.4°C", as many cameras label
    their scale's ends), and that unit: the ring and letter whitened, so the tile holds the number alone. The
    ring: a small blob just before the last letter, tops level, 0.2-0.65 of its height; the letter classified
    by ``_classify_unit``. A tile without one is returned as it is, with ""."""
    ink = (binary < 128).astype(np.uint8)
    n, lab, st, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n < 3:
        return binary, ""
    x, y, w, h = st[:, 0], st[:, 1], st[:, 2], st[:, 3]
    c = 1 + int(np.argmax(x[1:] + w[1:]))  # the rightmost blob: the unit's letter, if any
    if h[c] < 0.55 * h[1:].max():
        return binary, ""
    ring = [
        r
        for r in range(1, n)
        if r != c
        and x[r] + w[r] <= x[c] + 1
        and x[c] - (x[r] + w[r]) <= 0.6 * h[c]
        and abs(int(y[r]) - int(y[c])) <= 0.25 * h[c] + 1
        and 0.2 * h[c] <= h[r] <= 0.65 * h[c]
        and 0.6 * h[r] <= w[r] <= 1.6 * h[r]
    ]
    unit = _classify_unit(lab[y[c] : y[c] + h[c], x[c] : x[c] + w[c]] == c) if ring else ""
    if not unit:
        return binary, ""
    out = binary.copy()
    out[:, int(min(x[r] for r in ring)) :] = 255
    return out, unit


#: a tile as tesseract gets it, its digit-sized blobs before despeckling, ``_glyphs`` of the tile itself, and
#: the unit sign cut from after its number ("" when none)
_View = tuple[np.ndarray, int, tuple[int, int | None], str]


def _view_tile(lo: np.ndarray, hi: np.ndarray, word: _Word, px: int) -> _View:
    """A word's tile at ``px`` digit height, as tesseract gets it (an end label's lone blob despeckled), its
    number of digit-sized blobs and its glyph counts for ``_checked``; computed once per exact pixels of the
    word's crop (``glyphs.VIEWS``)."""
    x, y, w, h = word.box
    pad = max(2, h // 4)
    ch = lo if word.light else hi
    crop = ch[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
    digest = hashlib.blake2b(np.ascontiguousarray(crop).tobytes(), digest_size=16).digest()
    key = (digest, crop.shape, word.box[2:], word.light, px)
    got = glyphs.VIEWS.get(key)
    if got is not None:
        return got  # type: ignore[return-value]
    tile, unit = _normalised_unit(lo, hi, word, px)
    # digit-sized blobs per tile, counted once (despeckling removes none of them: specks are under 0.3 of the
    # tallest blob, digit-sized ones at least 0.55)
    counts = _glyphs(tile)
    n = counts[0]
    if px in _END_PX and n == 1:
        tile = _despeckled(tile)
        counts = _glyphs(tile)
    view = (tile, n, counts, unit)
    glyphs.VIEWS.put(key, view)
    return view


def _ocr(tiles: list[np.ndarray]) -> list[tuple[str, float]]:
    """Text and confidence of each tile: one tesseract call on the tiles stacked one per line."""
    # tiles in a font learned from earlier readings skip tesseract; an image whose tiles all do skips it
    known = glyphs.read(tiles)
    ask = [t for t, k in zip(tiles, known, strict=True) if k is None]
    if not ask:
        return [k for k in known if k is not None]
    pad = 16
    width = max(t.shape[1] for t in ask) + 2 * pad
    rows, slots, top = [], [], 0
    for t in ask:
        row = np.full((t.shape[0] + 2 * pad, width), 255, np.uint8)
        row[pad : pad + t.shape[0], pad : pad + t.shape[1]] = t
        rows.append(row)
        slots.append((top, top + row.shape[0]))
        top += row.shape[0]
    out: list[list[tuple[str, float]]] = [[] for _ in ask]
    for text, conf, ty, th in tesseract.read_words(np.concatenate(rows, axis=0)):
        cy = ty + th / 2
        slot = next((i for i, (a, b) in enumerate(slots) if a <= cy < b), None)
        if slot is not None:
            out[slot].append((text, float(conf)))
    result = []
    for parts in out:
        if not parts:
            result.append(("", -1.0))
            continue
        # an icon beside a number reads as a separate short token: the most number-like part wins
        best = max(parts, key=lambda p: ("." in p[0], len(p[0].lstrip("-")), p[1]))
        result.append(best)
    glyphs.learn(ask, result)
    read = iter(result)
    return [k if k is not None else next(read) for k in known]


def _glyphs(binary: np.ndarray) -> tuple[int, int | None]:
    """(number of digit-sized ink blobs, how many of them stand left of a decimal dot or None) in a tile.

    A dot is a small roundish blob sitting on the digits' baseline. Tesseract drops it now and then
    ("7.8" -> "78"), which would make the value ten times off.
    """
    ink = (binary < 128).astype(np.uint8)
    n, _lab, st, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    st = st[1:]
    if len(st) == 0:
        return 0, None
    hmax = int(st[:, 3].max())
    big = st[st[:, 3] >= 0.55 * hmax]
    if len(big) == 0:
        return 0, None
    base = float(np.median(big[:, 1] + big[:, 3]))
    xs = big[:, 0] + big[:, 2] / 2
    dots = [
        d
        for d in st
        if d[3] <= 0.3 * hmax
        and d[2] <= 0.4 * hmax
        and 0.4 <= d[2] / max(1, d[3]) <= 2.5
        and abs(d[1] + d[3] - base) <= 0.12 * hmax
        and xs.min() < d[0] + d[2] / 2 < xs.max()
    ]
    if len(dots) != 1:
        return len(big), None
    dx = dots[0][0] + dots[0][2] / 2
    return len(big), int((xs < dx).sum())


def _despeckled(binary: np.ndarray) -> np.ndarray:
    """The tile without specks (ink blobs under 0.3 of the tallest blob's height both ways).

    Only for tiles of one digit-sized blob: there no speck can be a decimal dot (it would stand between two
    digits), and scene texture around a lone thin digit ("9") drags tesseract's confidence far down.
    """
    ink = (binary < 128).astype(np.uint8)
    n, lab, st, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n <= 2:
        return binary
    hmax = int(st[1:, 3].max())
    specks = np.flatnonzero((st[:, 3] < 0.3 * hmax) & (st[:, 2] < 0.3 * hmax))
    specks = specks[specks > 0]
    if len(specks) == 0:
        return binary
    out = binary.copy()
    out[labels_in(lab, specks, n)] = 255
    return out


def _checked(
    text: str, tile: np.ndarray, strict: bool = True, counts: tuple[int, int | None] | None = None
) -> str:
    """Tesseract's text for one number tile, with a lost decimal dot put back; "" when glyphs and text disagree.

    ``strict``: the digits must match the blobs one to one; otherwise only more blobs than digits (a digit
    lost) rejects, since small blurry labels often print touching digits.
    """
    text = text.strip()
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?", text)
    if not m:
        return text
    n_big, dot_after = _glyphs(tile) if counts is None else counts
    digits = m.group(2) + (m.group(3) or "")
    if n_big > len(digits) or (strict and n_big < len(digits)):  # a digit lost or read from nothing
        return ""
    if m.group(3) is None and dot_after is not None and 0 < dot_after < n_big:
        return f"{m.group(1)}{digits[:dot_after]}.{digits[dot_after:]}"
    if m.group(3) is not None and dot_after is not None and dot_after != len(m.group(2)):
        return ""  # the dot read elsewhere than it is printed
    return text


def _vote(reads: list[tuple[str, float]]) -> tuple[str, float]:
    """One text from the readings of the same word at several sizes, or ("", -1) when they do not agree.

    A single reading stands alone (tick labels are read once: the line fit outvotes a misread one). Of
    several, the text read most often wins when it is read at least twice and no other text as often.
    """
    if len(reads) == 1:
        return reads[0]
    votes = Counter(t for t, _c in reads if t)
    if not votes:
        return "", -1.0
    (best, n), *rest = votes.most_common()
    if n < 2 or (rest and rest[0][1] == n):
        return "", -1.0
    # the confidence two of the agreeing readings reach (one blurred size may read right at low confidence)
    return best, sorted(c for t, c in reads if t == best)[-2]


def _value(text: str) -> float | None:
    nums = _NUMBER.findall(text)
    if not nums:
        return None
    return float(max(nums, key=len))


def _fit_ends(points: list[tuple[float, float]], tol: float) -> tuple[float, float, np.ndarray] | None:
    """Robust line value = a + b * position (position 0..1): the pair with most inliers, then least squares."""
    if len(points) < 2:
        return None
    pts = np.array(points, np.float64)
    best: tuple[int, float, np.ndarray] | None = None
    for i, j in combinations(range(len(pts)), 2):
        (p1, v1), (p2, v2) = pts[i], pts[j]
        if abs(p2 - p1) < 0.05 or v1 == v2:
            continue
        b = (v2 - v1) / (p2 - p1)
        resid = np.abs(pts[:, 1] - (v1 + b * (pts[:, 0] - p1)))
        inl = resid <= tol * abs(b)
        score = (int(inl.sum()), -float(resid[inl].sum()))
        if best is None or score > best[:2]:
            best = (score[0], score[1], inl)
    if best is None or best[0] < 2:
        return None
    inl = best[2]
    b, a = np.polyfit(pts[inl, 0], pts[inl, 1], 1)
    return float(a), float(a + b), inl


#: how far beyond each end of the bar (share of its length) end labels are looked for: cameras print a max/min
#: value box up to ~0.25 bar lengths beyond the bar's end
END_REACH = 0.3
#: ... and at least this many bar widths beyond a horizontal bar's ends, where a label stands beside the end
#: along the bar's axis (six characters about as tall as the bar is wide)
END_ROOM = 8


def _window(bar: ColorBar, shape: tuple[int, int]) -> tuple[int, int, int, int, int, int]:
    """Search window (x0, y0, x1, y1) around the bar in image pixels and the bar's extent (e0, e1)."""
    H, W = shape
    x0, y0, x1, y1 = bar.box
    vertical = bar.orientation == "vertical"
    e0, e1 = bar.extent if bar.extent[1] > bar.extent[0] else ((y0, y1) if vertical else (x0, x1))
    length = e1 - e0
    across = (x1 - x0) if vertical else (y1 - y0)
    reach = int(max(15 * across, 0.2 * (W if vertical else H), 40))
    margin = int(END_REACH * length)
    if not vertical:  # labels beside a horizontal bar's ends run along its axis: room for a "-40.0°C"
        margin = max(margin, int(END_ROOM * across))
    if vertical:
        return max(0, x0 - reach), max(0, e0 - margin), min(W, x1 + reach), min(H, e1 + margin), e0, e1
    return max(0, e0 - margin), max(0, y0 - reach), min(W, e1 + margin), min(H, y1 + reach), e0, e1


def _select(words: list[_Word], bar: ColorBar, win: tuple[int, ...]) -> tuple[list[_Word], list[_Word]]:
    """The words that can be labels: (beyond an end, along the bar), few enough for one quick OCR call."""
    wx0, wy0, _wx1, _wy1, e0, e1 = win
    vertical = bar.orientation == "vertical"
    length = e1 - e0
    bx0, by0, bx1, by1 = bar.box
    bar_mid = ((bx0 + bx1) / 2 - wx0) if vertical else ((by0 + by1) / 2 - wy0)
    off = wy0 if vertical else wx0

    def along(w: _Word) -> float:
        return (w.cy if vertical else w.cx) + off

    def side(w: _Word) -> bool:
        return (w.cx if vertical else w.cy) > bar_mid

    half = ((bx1 - bx0) if vertical else (by1 - by0)) / 2

    def gap(w: _Word) -> float:
        """Distance across the axis from the bar's edge to the word's near edge (0 when they overlap)."""
        x, y, ww, hh = w.box
        lo_, hi_ = (x, x + ww) if vertical else (y, y + hh)
        return max(0.0, lo_ - (bar_mid + half), (bar_mid - half) - hi_)

    def height(w: _Word) -> int:
        return w.box[3]

    def numberish(w: _Word, min_aspect: float) -> bool:
        """Number-shaped, itself or as seen with the other polarity (a box around light digits)."""
        return any(o.box[3] >= 6 and o.box[2] >= min_aspect * o.box[3] for o in (w, *w.alts))

    ends: list[_Word] = []
    for before in (True, False):
        edge = e0 if before else e1
        beyond = [
            w
            for w in words
            if (along(w) < e0 - 0.01 * length if before else along(w) > e1 + 0.01 * length)
            and numberish(w, 0.9)
            and gap(w) <= 6 * height(w)
        ]
        # the nearest number-shaped words (an end box's value; a lock icon or a speck is not number-shaped)
        beyond.sort(key=lambda w: abs(along(w) - edge))
        ends += beyond[:3]
    inside = [
        w
        for w in words
        if e0 - 0.01 * length <= along(w) <= e1 + 0.01 * length
        and numberish(w, 0.7)
        and gap(w) <= 5 * height(w)
    ]
    if inside:  # tick labels stand in one column close beside the bar: the side with most such words
        right = [w for w in inside if side(w)]
        left = [w for w in inside if not side(w)]
        inside = right if len(right) > len(left) else left
        inside.sort(key=along)
        # a label beside the bar whose edge is level with an end (its top with the top end, its bottom with the
        # bottom end) names that end, as a max/min value box beyond it does: a tick label is centred on its
        # mark. With no end label found beyond that end.
        for end, edge in ((0, e0), (1, e1)):
            if any((o.end == end) if o.end is not None else ((along(o) < e0) == (end == 0)) for o in ends):
                continue
            level = [
                w for w in inside if abs(_edge_along(w, vertical, off, end) - edge) <= END_LEVEL * height(w)
            ]
            if level:
                w = min(level, key=lambda o: abs(along(o) - edge))
                w.end = end
                inside.remove(w)
                ends.append(w)
        if len(inside) > MAX_TICK_WORDS:
            idx = np.unique(np.round(np.linspace(0, len(inside) - 1, MAX_TICK_WORDS)).astype(int))
            inside = [inside[i] for i in idx]
    return ends, inside


#: how close (share of its height) a label's edge must be to a bar's end for the label to name that end
END_LEVEL = 0.3


def _edge_along(w: _Word, vertical: bool, off: int, end: int) -> float:
    """The word's near edge to the bar's ``end`` along the bar (its top or bottom, left or right), in picture px."""
    x, y, ww, hh = w.box
    a0, size = (y, hh) if vertical else (x, ww)
    return a0 + off + (size if end == 1 else 0)


UNIT_SIDE = 1024  # unit glyphs are looked for on a copy at most this long (UI text stays >= ~6 px)
#: UI text is drawn white or black: strokes at least this light (light text) or at most this dark (dark text),
#: 0-255, keep letters apart from a textured scene they touch
UNIT_WHITE = 215
UNIT_BLACK = 40
#: tallest unit letter, share of the picture's height (cameras print °C / °F at 2-6 %; a scene's shapes that
#: look like a ring and an F are larger)
UNIT_MAX_H = 0.12


def printed_units(image: np.ndarray) -> set[str]:
    """The temperature units printed in the picture: "C" and/or "F" for each "°C" / "°F" found.

    Found without OCR, from the glyphs' shapes: a degree sign (a small ring with a hole, its top level with
    the letter's, 0.2-0.8 of its height) directly before a letter that ends its word, and the letter told
    apart by its outline: both have a full-width top stroke; F a straight stem over its whole height, a
    middle bar and a bottom that stops at the stem, C a bottom stroke as wide as its top and its right side
    open at mid-height. Light and dark text, on the plain strokes and on the saturated ones only (white UI text
    over a textured scene). A unit letter ends its word, so the F of "FLIR" is not one.
    """
    return {u for u, *_rest in unit_marks(image)}


#: a unit sign found (letter, (x, y, w, h) of ring and letter, letter height, light text)
UnitMark = tuple[str, tuple[int, int, int, int], int, bool]


def unit_marks(image: np.ndarray) -> list[UnitMark]:
    """Every "°C" / "°F" printed in the picture: (letter, (x, y, w, h) of ring and letter, letter height,
    light text) in the picture's pixels (found on a copy at most ``UNIT_SIDE`` long, see ``printed_units``).

    Asked twice about one picture (the scale's unit, the read-outs), it is searched once. A picture of the
    same size as one whose signs were found is first looked at only where they were (see ``_marks_again``).
    """
    rgb = as_rgb_float(image)
    return glyphs.PER_IMAGE.get_or(rgb, "unit_marks", lambda: _unit_marks(rgb))


def _unit_marks(rgb: np.ndarray) -> list[UnitMark]:
    key = ("units", rgb.shape[:2])
    known = glyphs.LAYOUTS.get(key)
    if known:  # "no sign" is never taken over: a camera may print its read-out on this picture only
        again = _marks_again(rgb, known)  # type: ignore[arg-type]
        glyphs.LAYOUTS.count(again is not None)
        if again is not None:
            return again
    img = to_u8(rgb)
    scale = _unit_scale(img.shape[:2])
    if scale < 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    marks = [
        (u, _scaled_box(box, 1 / scale), int(round(h / scale)), light)
        for u, box, h, light in _unit_glyphs(img)
    ]
    glyphs.LAYOUTS.put(key, marks)
    return marks


def _unit_scale(shape: tuple[int, int]) -> float:
    return min(1.0, UNIT_SIDE / max(shape))


def _scaled_box(box: tuple[int, int, int, int], f: float) -> tuple[int, int, int, int]:
    if f == 1.0:
        return box
    x, y, w, h = (int(round(v * f)) for v in box)
    return x, y, w, h


def _marks_again(rgb: np.ndarray, known: list[UnitMark]) -> list[UnitMark] | None:
    """``known`` when every one of those signs is found again at its place on this picture, else None.

    Each is looked for in a patch around its box, with the kernel and the size limits of a search over the
    whole picture (the top-/black-hat there is the same as the whole picture's when the patch reaches a
    kernel beyond the sign), so it is found there as the whole search would find it. Signs elsewhere are
    not looked for: a camera prints its units at fixed places.
    """
    H, W = rgb.shape[:2]
    scale = _unit_scale((H, W))
    small = (int(round(H * scale)), int(round(W * scale)))
    k = _unit_kernel(small)
    for u, box, _h, light in known:
        x, y, w, h = _scaled_box(box, scale)
        pad = k + 2  # the hats reach k - 1 px; two more for the downscaled copy's rounding
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(small[1], x + w + pad), min(small[0], y + h + pad)
        patch = to_u8(
            rgb[int(y0 / scale) : int(np.ceil(y1 / scale)), int(x0 / scale) : int(np.ceil(x1 / scale))]
        )
        if scale < 1.0:
            patch = cv2.resize(patch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        found = _unit_glyphs(patch, k=k, size=small, polarities=(light,))
        if not any(
            fu == u and fl == light and abs(fx + x0 - x) <= 1 and abs(fy + y0 - y) <= 1
            for fu, (fx, fy, _fw, _fh), _fh2, fl in found
        ):
            return None
    return known


def _unit_kernel(shape: tuple[int, int]) -> int:
    """Top-hat kernel of the unit-sign search: about a character of UI text on a picture of ``shape``."""
    return int(np.clip(min(shape) / 16, 9, 41)) | 1


def _unit_glyphs(
    img: np.ndarray,
    k: int | None = None,
    size: tuple[int, int] | None = None,
    polarities: tuple[bool, ...] = (True, False),
) -> list[UnitMark]:
    """(letter, (x, y, w, h) of ring and letter, letter height, light) for every "°C" / "°F" in uint8 RGB.

    ``k`` and ``size`` (H, W): the kernel and the picture size that set the letter sizes looked for, when
    ``img`` is a patch of a larger picture; ``polarities``: light text, dark text or both.
    """
    lo, hi = np.ascontiguousarray(chan_min(img)), np.ascontiguousarray(chan_max(img))
    H, W = lo.shape if size is None else size
    k = _unit_kernel((H, W)) if k is None else k
    ker = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    out = []
    masks = []
    for light, ch in ((True, lo), (False, hi)):
        if light not in polarities:
            continue
        hat = cv2.morphologyEx(ch, cv2.MORPH_TOPHAT if light else cv2.MORPH_BLACKHAT, ker)
        ink = (hat > INK_HAT).astype(np.uint8)
        masks.append((light, ink))
        # UI text is drawn white (black): over a textured scene only the saturated strokes keep letters apart
        saturated = (ch >= UNIT_WHITE) if light else (ch <= UNIT_BLACK)
        masks.append((light, ink & saturated.astype(np.uint8)))
    for light, ink in masks:
        n, lab, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        x, y, w, h, a = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
        ring = (h >= 3) & (h <= 0.08 * H + 3) & (w >= 0.6 * h) & (w <= 1.6 * h) & (a <= 0.85 * w * h)
        ring[0] = False
        # UI text: at most UNIT_MAX_H of the picture's height, and whole (a shape the frame cuts is scene)
        inside = (x > 0) & (y > 0) & (x + w < W) & (y + h < H) if size is None else np.ones(len(x), bool)
        letter = (h >= 6) & (h <= UNIT_MAX_H * H) & (w >= 0.45 * h) & (w <= 1.2 * h) & inside
        letter[0] = False
        li = np.flatnonzero(letter)
        for r in np.flatnonzero(ring):
            # the letter: right of the ring, tops level, the ring 0.2-0.65 of its height
            cand = li[
                (x[li] >= x[r] + w[r] - 1)
                & (x[li] <= x[r] + w[r] + 0.6 * h[li])
                & (np.abs(y[li] - y[r]) <= 0.25 * h[li] + 1)
                & (h[r] >= 0.2 * h[li])
                & (h[r] <= 0.8 * h[li])
            ]
            if not len(cand):
                continue
            c = cand[np.argmin(x[cand])]
            # the ring has a hole
            sub = (lab[y[r] : y[r] + h[r], x[r] : x[r] + w[r]] == r).astype(np.uint8)
            ff = cv2.copyMakeBorder(sub, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)  # np.pad(sub, 1), a copy
            cv2.floodFill(ff, None, (0, 0), 1)
            if ff.min() == 1:
                continue
            # nothing letter-sized right after the letter (a unit ends its word: not the F of "FLIR")
            nxt = li[
                (x[li] > x[c] + w[c] - 1)
                & (x[li] <= x[c] + w[c] + 0.35 * h[c])
                & (np.abs(y[li] - y[c]) <= 0.25 * h[c])
                & (np.abs(h[li] - h[c]) <= 0.3 * h[c])
            ]
            if len(nxt):
                continue
            g = lab[y[c] : y[c] + h[c], x[c] : x[c] + w[c]] == c
            L = _classify_unit(g)
            if L:
                out.append(
                    (
                        L,
                        (int(x[r]), int(min(y[r], y[c])), int(x[c] + w[c] - x[r]), int(h[c])),
                        int(h[c]),
                        light,
                    )
                )
    return out


def _classify_unit(g: np.ndarray) -> str:
    """'C', 'F' or '' from a letter's binary glyph (True = ink)."""
    hh, ww = g.shape
    if ww < 3 or hh < 5:
        return ""
    t = max(1, int(round(0.25 * hh)))
    fill = g.sum(axis=1) / ww  # share of each row inked
    top_bar = fill[:t].max() >= 0.6  # one full-width stroke along the top
    bottom_bar = fill[-t:].max() >= 0.5
    bottom_right = np.flatnonzero(g[-t:].any(axis=0))
    bottom_stops = len(bottom_right) > 0 and (bottom_right.max() + 1) / ww <= 0.5
    stem = g[:, : max(1, int(round(0.3 * ww)))].any(axis=1).mean()
    mid = g[int(0.3 * hh) : int(0.7 * hh) + 1]
    mid_bar = (mid.sum(axis=1) / ww).max() >= 0.4
    right_open = 1.0 - mid[:, int(0.7 * ww) :].any(axis=1).mean()
    if top_bar and bottom_stops and mid_bar and stem >= 0.9:
        return "F"
    if top_bar and bottom_bar and right_open >= 0.66 and stem >= 0.6 and not mid_bar:  # an E has a mid bar
        return "C"
    if _round_c(g):
        return "C"
    return ""


def _round_c(g: np.ndarray) -> bool:
    """A round C (a sans font's: its ends curl in towards mid-height, so its right side is open only over the
    middle, and no stroke runs full-width along its top): a left side inked over most rows but no straight
    stem (its leftmost column inked over under 80 % of them, where E and F have one), both ends reaching into
    its right third, and no ink in the right half of the rows strictly within 0.4-0.6 of its height (where
    G and O have some)."""
    hh, ww = g.shape
    if ww < 4 or hh < 7:
        return False
    left = g[:, : max(1, int(round(0.3 * ww)))].any(axis=1).mean()
    straight = g[:, 0].mean() >= 0.8
    t = max(1, int(round(0.3 * hh)))
    right = slice(int(0.67 * ww), None)
    ends = g[:t, right].any() and g[-t:, right].any()
    band = g[int(np.floor(0.4 * hh)) + 1 : int(np.ceil(0.6 * hh)), ww // 2 :]
    return bool(left >= 0.6 and not straight and ends and band.size > 0 and not band.any())


def read_scale(image: np.ndarray, bar: ColorBar) -> tuple[ScaleReading | None, str]:
    """Temperatures at the bar's ends from the printed numbers, or (None, reason).

    On the next picture of a camera layout only the labels that read as numbers on its last picture are
    looked for, where they were (``_label_words``); when they do not give a scale now, the whole window is
    searched and read again, so a failure is never the layout's.
    """
    reading, why, from_layout = _read_scale(image, bar, use_layout=True)
    if reading is None and from_layout:
        reading, why, _ = _read_scale(image, bar, use_layout=False)
    return reading, why


def _read_scale(image: np.ndarray, bar: ColorBar, use_layout: bool) -> tuple[ScaleReading | None, str, bool]:
    """``read_scale``, and whether the label words came from the layout of earlier pictures."""
    if not tesseract_available():
        return None, "tesseract not installed: cannot read the colour bar's numbers", False
    rgb = as_rgb_float(image)
    win = _window(bar, rgb.shape[:2])
    wx0, wy0, wx1, wy1, e0, e1 = win
    crop = (rgb[wy0:wy1, wx0:wx1] * 255.0 + 0.5).astype(np.uint8)
    lo, hi = np.ascontiguousarray(chan_min(crop)), np.ascontiguousarray(chan_max(crop))
    vertical = bar.orientation == "vertical"
    length = e1 - e0
    # hat kernel: wider than a stroke, about a character; labels scale with the bar length
    k = int(np.clip(length / 25, 9, 41)) | 1
    bx0, by0, bx1, by1 = bar.box
    mid = ((bx0 + bx1) / 2 - wx0) if vertical else ((by0 + by1) / 2 - wy0)
    key = _layout_key(bar, win, rgb.shape[:2])
    ends, inside, from_layout = _label_words(
        lo, hi, k, (vertical, mid), bar, win, key if use_layout else None
    )
    if not ends and not inside:
        return None, "no numbers printed at the colour bar", from_layout
    # end values are read at three sizes: a misread digit rarely repeats, so disagreement means unread
    labels = _Labels(lo, hi, ends, inside)
    off = wy0 if vertical else wx0

    def before_start(w: _Word) -> bool:
        if w.end is not None:  # a label beside the bar, level with an end (see ``_select``)
            return w.end == 0
        return ((w.cy if vertical else w.cx) + off) < e0

    try:
        # what decides the reading: per end the words up to the nearest that can be its number (the ones
        # further out are read only when that one is not, below), and every tick label; all of them when
        # every tile goes to tesseract (the cache off: the reference reading, one mosaic as always)
        first = ends
        if glyphs.enabled():
            first = [
                w
                for b in (True, False)
                for w in labels.up_to_number([o for o in ends if before_start(o) == b])
            ]
        labels.read(first + inside)
    except Exception as exc:  # tesseract crashes or times out: fall back, never fail the caller
        return None, f"tesseract failed: {str(exc).strip()[:80]}", from_layout
    ticks: list[tuple[float, float]] = []
    for w in inside:
        v = _value(w.text)
        if v is not None and w.conf >= TICK_CONF:
            pos = ((w.cy if vertical else w.cx) + off - e0) / max(1, length)
            ticks.append((float(np.clip(pos, 0.0, 1.0)), v))
    end_pts: list[tuple[float, float]] = []
    unread: list[str] = []
    single: list[tuple[float, float]] = []  # end points named by a one-digit label
    axis = mid + (wx0 if vertical else wy0)

    def on_axis(w: _Word) -> bool:
        """Level with the bar's centre line (within about the label's height), where cameras print end labels."""
        cross = (w.cx + wx0) if vertical else (w.cy + wy0)
        return abs(cross - axis) <= (w.box[2] if vertical else w.box[3])

    for before, pos in ((True, 0.0), (False, 1.0)):
        side = [w for w in ends if before_start(w) == before]
        try:
            # a shape with fewer than two digit-sized blobs (a box edge, an icon) is not the end's number,
            # unless its one digit was read alike and confidently at every size
            w = labels.first_number(side)
            if w is None:
                continue
            # the nearest number-shaped word names the end (the next one out is other UI, a spot reading); when
            # it does not read as a number and stands off the bar's axis it may be scene: a word on the axis
            # that reads as a number names the end then (cameras print end labels there or right beside it)
            if (_value(w.text) is None or w.conf < END_CONF) and not on_axis(w):
                side_words = labels.numbers(side)
                axial = [
                    o for o in side_words if on_axis(o) and _value(o.text) is not None and o.conf >= END_CONF
                ]
                w = axial[0] if axial else w
        except Exception as exc:  # tesseract crashes or times out: fall back, never fail the caller
            return None, f"tesseract failed: {str(exc).strip()[:80]}", from_layout
        v = _value(w.text)
        name = ("top" if vertical else "left") if before else ("bottom" if vertical else "right")
        if v is None or w.conf < END_CONF:
            unread.append(f"{name} end label unreadable{f' ({w.text!r})' if w.text else ''}")
            continue
        end_pts.append((pos, v))
        if labels.n_glyphs(w) == 1:
            single.append((pos, v))
    if single and len(end_pts) < 2:  # a one-digit end label counts only with the other end read too
        end_pts = [pt for pt in end_pts if pt not in single]
        unread.append("one-digit end label without the other end")
    if not ticks and not end_pts:
        n_words = len(ends) + len(inside)
        why = f"; {'; '.join(unread)}" if unread else ""
        return (
            None,
            f"colour-bar labels not readable as numbers ({n_words} label-like marks tried{why})",
            from_layout,
        )
    reading, why = _fit(ticks, end_pts, vertical, unread)
    if reading is None:
        return None, why, from_layout
    _remember_labels(key, [w for w in ends + inside if labels.read_as_number(w)], win)
    # the labels' own unit signs say what the scale is in; without any, the signs anywhere in the picture
    used = [w for w in ends + inside if labels.read_as_number(w)]
    units = labels.units(used) or printed_units(rgb)
    return (*_in_celsius(reading, units), from_layout)


class _Labels:
    """The label words of one bar, read when first needed, all that are needed at once in one OCR call.

    End labels are read at the three ``_END_PX`` sizes, tick labels at ``_DIGIT_PX``, each view of a word
    (itself and its two largest other-polarity views) checked against its glyphs; the views' readings are
    voted per view and the most number-like view gives the word's ``text``, ``conf``, ``box`` and ``light``.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, ends: list[_Word], inside: list[_Word]) -> None:
        self._lo, self._hi = lo, hi
        self._sizes = {id(w): _END_PX for w in ends} | {id(w): (_DIGIT_PX,) for w in inside}
        self._views: dict[int, list[tuple[_Word, int, _View]]] = {}
        self._done: set[int] = set()
        #: words read as one digit alike at every size, each time confidently
        self._solid: set[int] = set()
        for w in ends + inside:  # the two largest other-polarity views of each word are read too
            w.alts = sorted(w.alts, key=lambda o: -o.box[2] * o.box[3])[:2]

    def _tiles(self, w: _Word) -> list[tuple[_Word, int, _View]]:
        if id(w) not in self._views:
            self._views[id(w)] = [
                (v, z, _view_tile(self._lo, self._hi, v, z)) for v in (w, *w.alts) for z in self._sizes[id(w)]
            ]
        return self._views[id(w)]

    def n_glyphs(self, w: _Word) -> int:
        """Most digit-sized blobs seen in any of the word's tiles (no OCR needed)."""
        return max(view[1] for _v, _z, view in self._tiles(w))

    def passes(self, w: _Word) -> bool:
        """Can be an end's number: two digit-sized blobs or more, or one read alike and surely (read first)."""
        n = self.n_glyphs(w)
        return n >= 2 or (n == 1 and id(w) in self._solid)

    def up_to_number(self, side: list[_Word]) -> list[_Word]:
        """The words of ``side`` (nearest first) up to the first of two digit-sized blobs or more; the ones
        without any blob cannot be numbers and are left out."""
        out = []
        for w in side:
            n = self.n_glyphs(w)
            if n >= 1:
                out.append(w)
            if n >= 2:
                break
        return out

    def first_number(self, side: list[_Word]) -> _Word | None:
        """The nearest word of ``side`` that can be its end's number (reading words as needed)."""
        for w in side:
            if self.n_glyphs(w) >= 1:
                self.read([w])
                if self.passes(w):
                    return w
        return None

    def numbers(self, side: list[_Word]) -> list[_Word]:
        """Every word of ``side`` that can be its end's number, all read."""
        self.read([w for w in side if self.n_glyphs(w) >= 1])
        return [w for w in side if self.passes(w)]

    def units(self, words: list[_Word]) -> set[str]:
        """The unit signs printed right after the numbers of ``words`` (read ones), in any of their tiles."""
        return {
            view[3] for w in words if id(w) in self._views for _v, _z, view in self._views[id(w)] if view[3]
        }

    def read_as_number(self, w: _Word) -> bool:
        """Whether the word was read, as a number."""
        return id(w) in self._done and _value(w.text) is not None

    def read(self, words: list[_Word]) -> None:
        """Read the words not read yet, in one OCR call."""
        todo = list({id(w): w for w in words if id(w) not in self._done}.values())
        jobs = [(w, v, z, view) for w in todo for v, z, view in self._tiles(w)]
        if not jobs:
            return
        texts = _ocr([view[0] for *_x, view in jobs])
        reads: dict[int, list[tuple[str, float]]] = {}
        for (_w, v, z, (tile, _n, counts, _unit)), (text, conf) in zip(jobs, texts, strict=True):
            reads.setdefault(id(v), []).append(
                (_checked(text, tile, strict=z in _END_PX, counts=counts), conf)
            )
        for w in todo:
            self._settle(w, reads)
            self._done.add(id(w))

    def _settle(self, w: _Word, reads: dict[int, list[tuple[str, float]]]) -> None:
        """The word's text from its views' voted readings (the most number-like view wins)."""
        cands = [(v, *_vote(reads[id(v)])) for v in (w, *w.alts)]
        v, w.text, w.conf = max(cands, key=lambda c: (_value(c[1]) is not None, "." in c[1], c[2]))
        got = reads[id(v)]
        if (
            len(got) == len(_END_PX)
            and re.fullmatch(r"\d", w.text)
            and all(t == w.text and c >= SINGLE_DIGIT_CONF for t, c in got)
            and v.box[2] <= LONE_DIGIT_WIDTH * v.box[3]
        ):
            self._solid.add(id(w))
        w.box, w.light = v.box, v.light
        # the dash seen before the view that was read (too thin for its binarised tile): a dash in another
        # view is of another ink than the digits (scene texture beside plain text over the scene)
        if v.minus and re.fullmatch(r"\d+(?:\.\d+)?", w.text):
            w.text = "-" + w.text


def _layout_key(bar: ColorBar, win: tuple[int, int, int, int, int, int], shape: tuple[int, int]) -> tuple:
    """A camera layout: picture size, the bar's side and ends, to a few pixels (the far ends of its box
    wander with the label boxes drawn beside it)."""
    vertical = bar.orientation == "vertical"
    across = (bar.box[0] + bar.box[2]) // 2 if vertical else (bar.box[1] + bar.box[3]) // 2
    return (
        "labels",
        shape,
        bar.orientation,
        across // LAYOUT_GRID,
        win[4] // LAYOUT_GRID,
        win[5] // LAYOUT_GRID,
    )


def _label_words(
    lo: np.ndarray,
    hi: np.ndarray,
    k: int,
    axis: tuple[bool, float],
    bar: ColorBar,
    win: tuple[int, int, int, int, int, int],
    key: tuple | None,
) -> tuple[list[_Word], list[_Word], bool]:
    """The bar's label words (``find_words`` then ``_select``), and whether they came from the layout ``key``.

    On the next picture of a layout (``key``; None: no layout) only the words around the boxes of the labels
    that read as numbers on its last picture are found (``_words_again``); the whole window is searched when
    one of them is not found there again.
    """
    known = glyphs.LAYOUTS.get(key) if key is not None else None
    boxes, failed = known if known else ([], 0)  # type: ignore[misc]
    if boxes and failed < LAYOUT_TRIES:
        wx0, wy0 = win[0], win[1]
        again = _words_again(lo, hi, k, axis, [(x - wx0, y - wy0, w, h) for x, y, w, h in boxes])
        glyphs.LAYOUTS.count(again is not None)
        if again is not None:
            glyphs.LAYOUTS.put(key, (boxes, 0))
            return (*_select(again, bar, win), True)
        glyphs.LAYOUTS.put(key, (boxes, failed + 1))
    return (*_select(find_words(lo, hi, k, axis), bar, win), False)


def _remember_labels(key: tuple, words: list[_Word], win: tuple[int, int, int, int, int, int]) -> None:
    """Keep the boxes (picture pixels) of the labels that read as numbers, for the layout's next picture."""
    known = glyphs.LAYOUTS.get(key)
    failed = known[1] if known else 0  # type: ignore[index]
    wx0, wy0 = win[0], win[1]
    glyphs.LAYOUTS.put(key, ([(x + wx0, y + wy0, w, h) for x, y, w, h in (o.box for o in words)], failed))


#: px grid on which a bar's place and ends name its layout
LAYOUT_GRID = 16
#: a layout whose labels were not found again this many times running is searched whole straight away (a
#: noisy scene beside the labels groups differently in a patch than in the whole window)
LAYOUT_TRIES = 2


#: how far (share of its height) a label may have grown since the last picture of its layout: a digit more
LABEL_GROWTH = 1.0


def _words_again(
    lo: np.ndarray, hi: np.ndarray, k: int, axis: tuple[bool, float], boxes: list[tuple[int, int, int, int]]
) -> list[_Word] | None:
    """The words around ``boxes`` (x, y, w, h in window pixels, the labels of the last picture of a layout),
    found as ``find_words`` finds them in the whole window; None when one of them has no word there now, or
    its word reaches beyond the room it may have grown into.

    Each label's room (its box grown by ``LABEL_GROWTH`` of its height) is searched with two kernels of
    context around it, where the stroke hats are those of the whole window; rooms whose searches would
    overlap are searched together.
    """
    H, W = lo.shape
    rooms = []
    for x, y, w, h in boxes:
        g = int(np.ceil(LABEL_GROWTH * h))
        rooms.append((max(0, x - g), max(0, y - g), min(W, x + w + g), min(H, y + h + g)))
    m = 2 * k
    found: dict[tuple[tuple[int, int, int, int], bool], _Word] = {}
    for cx0, cy0, cx1, cy1 in _merged(rooms, 2 * m):
        x0, y0, x1, y1 = max(0, cx0 - m), max(0, cy0 - m), min(W, cx1 + m), min(H, cy1 + m)
        vertical, mid = axis
        sub = (vertical, mid - (x0 if vertical else y0))
        for word in find_words(lo[y0:y1, x0:x1], hi[y0:y1, x0:x1], k, sub):
            _shift(word, x0, y0)
            found.setdefault((word.box, word.light), word)
    words = list(found.values())
    for (x, y, w, h), room in zip(boxes, rooms, strict=True):
        near = [o for o in words if _overlap((x, y, w, h), o.box) > 0]
        if not near or not all(_within(o.box, room) for o in near):
            return None
    return [o for o in words if any(_within(o.box, room) for room in rooms)]


def _merged(rects: list[tuple[int, int, int, int]], gap: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (x0, y0, x1, y1) merged into their bounding boxes where they come within ``gap``."""
    out = [list(r) for r in rects]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] - gap < b[2] and b[0] - gap < a[2] and a[1] - gap < b[3] and b[1] - gap < a[3]:
                    out[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return [tuple(r) for r in out]  # type: ignore[misc]


def _shift(word: _Word, dx: int, dy: int) -> None:
    """Move a word (and its other-polarity views) by (dx, dy)."""
    for o in (word, *word.alts):
        x, y, w, h = o.box
        o.box = (x + dx, y + dy, w, h)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))


def _within(box: tuple[int, int, int, int], rect: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    return rect[0] <= x and rect[1] <= y and x + w <= rect[2] and y + h <= rect[3]


def _in_celsius(reading: ScaleReading, units: set[str]) -> tuple[ScaleReading | None, str]:
    """The reading in °C: converted when the picture prints °F (only), refused when it prints both units."""
    if units == {"C", "F"}:
        return None, "the picture prints both °C and °F: the scale's unit is ambiguous; not trusted"
    if "F" not in units:
        return reading, ""

    def c(f: float) -> float:
        return (f - 32.0) / 1.8

    return (
        ScaleReading(
            start=c(reading.start),
            stop=c(reading.stop),
            n_labels=reading.n_labels,
            labels=tuple((p, c(v)) for p, v in reading.labels),
            printed_unit="F",
        ),
        "",
    )


def _fit(
    ticks: list[tuple[float, float]],
    end_pts: list[tuple[float, float]],
    vertical: bool,
    notes: list[str] | tuple[str, ...] = (),
) -> tuple[ScaleReading | None, str]:
    """A linear scale through the labels, with the plausibility checks that catch misreads.

    ``notes`` (labels that could not be read) are added to the reason when no scale is trusted.
    """
    extra = f"; {'; '.join(notes)}" if notes else ""
    if len(end_pts) == 2 and len(ticks) < 3:  # two end labels beat one or two stray numbers in the scene
        ticks = []
    best: tuple[tuple[int, int], float, float, list[tuple[float, float]]] | None = None
    # a tick mark before a label reads as a minus sign ("-79"): try the values as read and unsigned
    for signed in (True, False):
        pts = [(p, v if signed else abs(v)) for p, v in ticks + end_pts]
        if len(pts) < 2:
            continue
        tol = 0.35 / max(2, len(pts))
        fit = _fit_ends(pts, tol)
        if fit is None:
            continue
        start, stop, inl = fit
        used = [pt for pt, ok in zip(pts, inl, strict=True) if ok]
        score = (int(inl.sum()), int(signed))
        if best is None or score > best[0]:
            best = (score, start, stop, used)
    n_read = len(ticks) + len(end_pts)
    if best is None:
        if n_read < 2:
            return None, f"only {n_read} colour-bar label read, 2 needed{extra}"
        return None, f"colour-bar numbers do not fit a linear scale ({n_read} read){extra}"
    (n, _signed), start, stop, used = best
    lo_t, hi_t = min(start, stop), max(start, stop)
    # every label the line went through must sit where the line puts its value (labels stand within a few
    # px of their tick): a line bent between misread labels is no scale
    slope = stop - start
    off = max(abs(v - (start + slope * p)) / max(abs(slope), 1e-9) for p, v in used)
    if off > MAX_LABEL_OFF:
        return None, f"colour-bar labels off a straight scale by {off:.0%} of the bar; not trusted{extra}"
    n_ends = sum(1 for pt in used if pt in end_pts)
    if n_ends == 0 and n < 3:  # two tick labels: their positions are a few px off, the ends extrapolated
        return None, f"only {n} tick labels agree ({lo_t:.1f}..{hi_t:.1f} °C), 3 needed; not trusted{extra}"
    if len(end_pts) == 2 and n_ends < 2 and len(ticks) >= 3:
        ends_txt = "..".join(f"{v:g}" for _p, v in end_pts)
        return None, f"colour-bar end labels ({ends_txt}) disagree with its tick labels; not trusted"
    # cameras put the hot end at the top (vertical) or right (horizontal); two labels read the other way
    # round are far more likely a misread than a reversed scale
    if n < 3 and (start < stop) == vertical:
        return (
            None,
            f"colour-bar end labels contradict hot-at-top/right ({start:.1f}..{stop:.1f}); not trusted",
        )
    if lo_t < T_RANGE[0] or hi_t > T_RANGE[1] or hi_t - lo_t < MIN_SPAN:
        return None, f"implausible scale read from the colour bar ({lo_t:.1f}..{hi_t:.1f} °C); not trusted"
    if n < 3 and hi_t - lo_t > MAX_TWO_LABEL_SPAN:  # two labels only
        return None, f"implausible scale from 2 labels ({lo_t:.1f}..{hi_t:.1f} °C); not trusted"
    return ScaleReading(start=start, stop=stop, n_labels=n, labels=tuple(used)), ""


#: a read-out's number stands within this many of its digits' heights before the unit sign (a camera may put
#: the unit in a box of its own: "Punkt [6.2] [°C]")
READOUT_GAP = 3.0


def number_before(
    image: np.ndarray, unit_box: tuple[int, int, int, int], letter_h: int
) -> tuple[str, float] | None:
    """The number printed just before a unit sign (``unit_box``: x, y, w, h of "°C"), read like a bar's end
    label (three sizes that must agree, glyph checks, a minus sign seen before it); (text, confidence) or None
    when nothing number-shaped stands there. The text is "" when it could not be read."""
    rgb = as_rgb_float(image)
    H, W = rgb.shape[:2]
    ux, uy, _uw, uh = unit_box
    reach = int(READOUT_GAP * 4 * letter_h)
    x0, y0, y1 = max(0, ux - reach), max(0, uy - letter_h), min(H, uy + uh + 2 * letter_h)
    if ux - x0 < letter_h or y1 - y0 < letter_h:
        return None
    crop = (rgb[y0:y1, x0:ux] * 255.0 + 0.5).astype(np.uint8)
    lo, hi = np.ascontiguousarray(chan_min(crop)), np.ascontiguousarray(chan_max(crop))
    k = int(np.clip(letter_h, 9, 41)) | 1
    line = uy + uh / 2 - y0
    words = [
        w
        for w in find_words(lo, hi, k, (False, line))
        if w.box[3] >= max(6, 0.6 * letter_h)
        and w.box[2] >= 0.5 * w.box[3]
        and abs(w.cy - line) <= 0.5 * w.box[3]
        and (ux - x0) - (w.box[0] + w.box[2]) <= READOUT_GAP * w.box[3]
    ]
    if not words:
        return None
    word = max(words, key=lambda w: w.box[0] + w.box[2])  # the nearest before the unit
    return _read_end_like(lo, hi, word)


def _read_end_like(lo: np.ndarray, hi: np.ndarray, word: _Word) -> tuple[str, float]:
    """One word read the way end labels are: at three sizes, each checked against its glyphs, voted; the
    more number-like of it and its two largest other-polarity views; a minus sign seen before it kept."""
    views = [word, *sorted(word.alts, key=lambda o: -o.box[2] * o.box[3])[:2]]
    jobs = [(v, z) for v in views for z in _END_PX]
    tiles, n_big, counts, _units = zip(*(_view_tile(lo, hi, v, z) for v, z in jobs), strict=True)
    texts = _ocr(list(tiles))
    reads: dict[int, list[tuple[str, float]]] = {}
    for (v, _z), tile, c, (text, conf) in zip(jobs, tiles, counts, texts, strict=True):
        reads.setdefault(id(v), []).append((_checked(text, tile, strict=True, counts=c), conf))
    cands = [(v, *_vote(reads[id(v)])) for v in views]
    v, text, conf = max(cands, key=lambda c: (_value(c[1]) is not None, "." in c[1], c[2]))
    if max(n_big) < 2 or _value(text) is None:  # one digit-sized blob: an icon or a lone digit, not trusted
        return "", -1.0
    if v.minus and re.fullmatch(r"\d+(?:\.\d+)?", text):  # seen before the view read (see ``_settle``)
        text = "-" + text
    return text, conf


def label_window(bar: ColorBar, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in image pixels where the bar's labels are looked for: text there is the scale's."""
    return _window(bar, shape)[:4]
