"""A digit reader that learns a camera's font from tesseract's readings, so a batch pays tesseract once.

A camera prints its scale labels in one font at one size, so after tesseract has read a few labels, the next
image's labels are the same shapes again. Each label tile (black on white, binarised, from ``ocr._normalised``)
is split into glyphs: ink blobs that overlap in x form one glyph (a digit broken by binarisation stays one).
Each glyph is drawn into a fixed cell spanning the line of text (the digits' top to their baseline, aspect
kept), so a '.' stays a small blob at the baseline and a '-' a bar at mid-height, blurred by ``BLUR`` and
compared by normalised correlation. The blur is what lets one picture's digits match the next picture's: the
same digit binarised from another JPEG moves its edges by a pixel (a 1 px different line top or digit height
rescales the cell by ~3 %, a stroke is a pixel thicker), which costs raw binary cells up to 0.1-0.15 of
correlation, as much as tells the narrow fonts' '5' from '6' (0.90); blurred, the same digit scores >= 0.99 in
95 % of the dev set's cases and different digits of one font at most 0.94 (T1's 5 and 6).

Learning: when tesseract's reading of a tile is confident, number-shaped, has one character per glyph, and
each character's shape fits its glyph (digits tall, '.' small at the baseline, '-' short and wide), each
glyph becomes a template of its character, tagged with the tile's font context (digit height, stroke width
relative to it) so different cameras' fonts never mix. ``ocr`` zooms every label to 30-46 px digits (end
labels at three sizes), so the digit height only tells tiles of another zoom apart (``SIZE_TOL``); the stroke
tells fonts apart. A tile that is one glyph read as a number of several digits (a bold font whose digits
touch once binarised) teaches that glyph as a ligature labelled with the whole number (a camera's tick labels
recur); a ligature is compared strip by strip (one vertical strip of its cell per digit, the least
correlation counts), as "60" and "50" correlate 0.955 as whole cells, diluted by the digit they share. A
glyph that looks like a template of another character disputes it: that template is dropped and the tile
teaches nothing.

Reading: a tile is read without tesseract only when every glyph matches a template of the same font context
clearly (correlation >= ``MATCH`` and ``MARGIN`` above the best template of any other character). Otherwise
``None``: the tile goes to tesseract, whose reading teaches the templates. Tesseract's fixed cost (~180 ms a
call) is only saved when every tile of an image is answered, so tiles with nothing to read are answered too:
a blank tile (no ink a digit could be) reads "", and so does one whose glyphs all match ``JUNK`` templates
(shapes tesseract read nothing in at least ``JUNK_SEEN`` times, counted over all junk templates a glyph
matches, as a shape binarised anew is stored as several templates: icons, '°C', box corners, specks; junk
templates match whatever the tile's stroke width, which is no font's there). The tiles of one OCR call are
compared with the templates in one product (``GlyphCache.read_many``). The cache is process-wide, thread-safe
and bounded; ``set_enabled(False)`` or ``THERMAL_ANOMALY_OCR_CACHE=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

CELL_H, CELL_W = 32, 32  # a glyph's cell: the line of text (with PAD above and below) drawn 32 px tall
BLUR = 1.0  # Gaussian blur of a cell, px: a 1 px jitter of the line or the stroke moves its ink, not off
PAD = 0.15  # share of the digits' height kept above and below the line in a cell
MATCH = 0.95  # least correlation with a template (blurred cells: different digits of one font <= 0.94)
MARGIN = 0.06  # least lead over the best template of any other character
LEARN_CONF = 85.0  # least tesseract confidence for a reading to teach templates
CLASH = 0.97  # a glyph this close to a template of another character: one of the two readings is wrong
JUNK_SEEN = 3  # tesseract must have read nothing in a shape this often before the cache answers "nothing"
DUPLICATE = 0.99  # a glyph this close to a stored template of its character only confirms it
SIZE_TOL = 1.7  # digit heights of one font context differ by at most this factor (ocr zooms to 30-46 px)
STROKE_TOL = 0.25  # stroke widths (relative to the digit height) of one font context differ by this share
LIGATURE_W = 0.35  # least width of each digit of a ligature (touching digits), share of the digit height
BLANK = 0.25  # a tile whose ink is all lower than this share of its height holds no digit (0 of 203 read)
MAX_TEMPLATES = 4000  # bound on the process-wide store (least recently used go first)
SPLITS_KEPT = 64  # splits of the last tiles read, for learning from tesseract's reading of the same tiles
JUNK = "~"  # label of shapes tesseract read nothing in (icons, unit signs, specks)
#: why a tile was left to tesseract (``GlyphCache.why``): what to improve for a batch to pay the OCR once
WHY = {
    "line": "no line of text (no glyph split)",
    "font": "no template of its font context yet",
    "match": "a glyph below MATCH to every template",
    "margin": "a glyph within MARGIN of two characters",
    "mixed": "digits beside junk shapes, or not number-shaped",
    "junk": "junk shapes read as nothing fewer than JUNK_SEEN times",
}


def _blur_matrix(size: int, sigma: float) -> np.ndarray:
    """M with M @ x the Gaussian blur (``sigma`` px) of x's columns of length ``size``, as cv2.GaussianBlur does
    it (its kernel width for float images, reflect-101 border)."""
    if sigma <= 0:
        return np.eye(size, dtype=np.float32)
    k = int(round(sigma * 8 + 1)) | 1
    r = k // 2
    src = np.arange(size)[:, None] + np.arange(-r, r + 1)[None, :]  # output row x kernel tap
    src = np.abs(src)
    src = np.where(src >= size, 2 * size - 2 - src, src)
    m = np.zeros((size, size), np.float64)
    np.add.at(
        m,
        (np.repeat(np.arange(size), k), src.ravel()),
        np.tile(cv2.getGaussianKernel(k, sigma).ravel(), size),
    )
    return m.astype(np.float32)


_BLUR_H, _BLUR_W = _blur_matrix(CELL_H, BLUR), _blur_matrix(CELL_W, BLUR)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_T = TypeVar("_T")


@dataclass
class _Glyph:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in tile pixels
    cell: np.ndarray  # CELL_H*CELL_W float32, zero mean, unit norm


@dataclass
class _Split:
    glyphs: list[_Glyph]
    band: int  # height of the digits (top of the tall glyphs to their baseline), px
    top: int
    stroke: float  # stroke width / band


#: a tile's ink (uint8 0/1) and its 8-connected components (count, labels, stats)
_Components = tuple[np.ndarray, int, np.ndarray, np.ndarray]


def _components(tile: np.ndarray) -> _Components:
    """The tile's ink and its components, found once for the blank test and the split."""
    ink = (tile < 128).astype(np.uint8)
    n, lab, st, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return ink, n, lab, st


def _split(tile: np.ndarray, cc: _Components | None = None) -> _Split | None:
    """The tile's glyphs left to right in their line cells, or None when it holds no line of text."""
    ink, n, lab, st = _components(tile) if cc is None else cc
    comps = [i for i in range(1, n) if st[i, 4] >= 3]  # 1-2 px specks are binarisation noise
    if not comps:
        return None
    comps.sort(key=lambda i: st[i, 0])
    groups: list[list[int]] = []
    spans: list[list[int]] = []
    for i in comps:
        x0, x1 = int(st[i, 0]), int(st[i, 0] + st[i, 2])
        if spans:
            a, b = spans[-1]
            if min(b, x1) - max(a, x0) >= 0.5 * min(b - a, x1 - x0):  # overlapping in x: one glyph
                groups[-1].append(i)
                spans[-1] = [a, max(b, x1)]
                continue
        groups.append([i])
        spans.append([x0, x1])
    boxes = []
    for g in groups:
        x0 = int(min(st[i, 0] for i in g))
        y0 = int(min(st[i, 1] for i in g))
        x1 = int(max(st[i, 0] + st[i, 2] for i in g))
        y1 = int(max(st[i, 1] + st[i, 3] for i in g))
        boxes.append((x0, y0, x1, y1))
    hs = np.array([b[3] - b[1] for b in boxes])
    tall = hs >= 0.6 * hs.max()
    top = int(np.median([b[1] for b, t in zip(boxes, tall, strict=True) if t]))
    base = int(np.median([b[3] for b, t in zip(boxes, tall, strict=True) if t]))
    band = base - top
    if band < 8:
        return None
    dist = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    stroke = 2.0 * float(np.median(dist[ridge])) / band if ridge.any() else 0.0
    # a cell: the line (top - pad .. base + pad) and as wide as tall, centred on the glyph, drawn CELL_H tall
    pad = int(round(PAD * band))
    side = band + 2 * pad
    margin = side
    big = cv2.copyMakeBorder(lab, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    crops = []
    for g, (x0, _y0, x1, _y1) in zip(groups, boxes, strict=True):
        cx0 = margin + (x0 + x1) // 2 - side // 2
        cy0 = margin + top - pad
        member = np.zeros(n, bool)
        member[g] = True
        crop = member[big[cy0 : cy0 + side, cx0 : cx0 + side]].astype(np.float32)
        crops.append(cv2.resize(crop, (CELL_W, CELL_H), interpolation=cv2.INTER_AREA))
    # blurred all at once, the separable Gaussian as two small matrix products
    cells = (_BLUR_H @ np.stack(crops) @ _BLUR_W.T).reshape(len(crops), -1)
    cells -= cells.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(cells, axis=1, keepdims=True)
    if not norms.all():
        return None
    cells = (cells / norms).astype(np.float32)
    glyphs = [_Glyph(box, cell) for box, cell in zip(boxes, cells, strict=True)]
    return _Split(glyphs, band, top, stroke)


def _blank(tile: np.ndarray, cc: _Components | None = None) -> bool:
    """No ink blob taller than ``BLANK`` of the tile: nothing a digit can be (tesseract reads nothing there).

    Tiles are scaled so that the word fills ~2/3 of their height, so a digit is >= ~1/3 of it.
    """
    st = (_components(tile) if cc is None else cc)[3][1:]
    return not (st[:, 4] >= 3).any() or int(st[st[:, 4] >= 3, 3].max()) < BLANK * tile.shape[0]


def _shape_fits(ch: str, box: tuple[int, int, int, int], band: int, top: int) -> bool:
    """Whether a glyph's box can be the character tesseract put at its place (digits tall, '.' low, '-' mid)."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    base = top + band
    if ch.isdigit():  # one digit, or touching digits (a ligature): as wide as that many digits at least
        tall = h >= 0.75 * band and abs(y1 - base) <= 0.15 * band
        return tall and (len(ch) == 1 or w >= LIGATURE_W * len(ch) * band)
    if ch == ".":
        return h <= 0.35 * band and w <= 0.45 * band and abs(y1 - base) <= 0.15 * band
    if ch == "-":
        mid = (y0 + y1) / 2
        return h <= 0.35 * band and w >= 1.2 * h and top + 0.2 * band <= mid <= base - 0.2 * band
    return False


def _strips(cells: np.ndarray, k: int) -> list[np.ndarray]:
    """Each cell's ``k`` vertical strips, each zero mean and unit norm (rows)."""
    a = cells.reshape(len(cells), CELL_H, CELL_W)
    out = []
    for i in range(k):
        s = a[:, :, i * CELL_W // k : (i + 1) * CELL_W // k].reshape(len(cells), -1)
        s = s - s.mean(axis=1, keepdims=True)
        out.append(s / np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-12))
    return out


def _strip_min(cells: np.ndarray, tmpls: np.ndarray, k: int) -> np.ndarray:
    """Least correlation over ``k`` vertical strips of each cell (rows) with each template's (columns; ligatures
    of k digits): a whole-cell correlation of "60" with "50" is diluted by the digit they share (0.955), a
    strip's is not."""
    return np.min([a @ b.T for a, b in zip(_strips(cells, k), _strips(tmpls, k), strict=True)], axis=0)


class GlyphCache:
    """Process-wide glyph templates learned from tesseract; reads a tile only when every glyph is certain."""

    def __init__(self, max_templates: int = MAX_TEMPLATES) -> None:
        self._lock = threading.Lock()
        self._max = max_templates
        self._cells = np.zeros((0, CELL_H * CELL_W), np.float32)
        self._chars: list[str] = []
        self._kind = np.zeros(0, np.int8)  # 0 junk, else the label's length (> 1: ligature of so many digits)
        self._ids = np.zeros(0, np.int32)  # the label's number in _id_of: ints compare cheaper than strings
        self._id_of: dict[str, int] = {}
        self._ctx = np.zeros((0, 2), np.float64)  # band px, stroke share
        self._conf = np.zeros(0, np.float64)  # tesseract confidence of the reading that taught it
        self._used = np.zeros(0, np.int64)  # clock tick of its last use (for eviction)
        self._seen = np.zeros(0, np.int64)  # readings that taught or confirmed it
        self._clock = 0
        self._splits: OrderedDict[int, tuple[np.ndarray, _Split | None]] = OrderedDict()
        self.n_template = 0  # tiles read from templates
        self.n_tesseract = 0  # tiles left to tesseract
        self.why: Counter[str] = Counter()  # why tiles were left to tesseract (``WHY``), for measuring

    def clear(self) -> None:
        """Forget every template and the counts."""
        with self._lock:
            self.__init__(self._max)

    def __len__(self) -> int:
        return len(self._chars)

    def _compatible(self, sp: _Split) -> np.ndarray:
        size = np.abs(np.log(self._ctx[:, 0] / sp.band)) <= np.log(SIZE_TOL)
        stroke = np.abs(self._ctx[:, 1] - sp.stroke) <= STROKE_TOL * np.maximum(self._ctx[:, 1], 1e-6)
        # junk is no font: an icon or speck binarised with thicker strokes is the same junk (its cell shows it)
        stroke |= self._kind == 0
        return size & stroke

    def _scores(self, sp: _Split, idx: np.ndarray, full: np.ndarray | None = None) -> np.ndarray:
        """Correlation of each glyph (rows) with templates ``idx`` (columns), from ``full`` (its glyphs against
        all templates) when given; a ligature's is the least of its whole cell's and its digits' strips' (those
        only where the whole cell is near enough to matter)."""
        cells = np.stack([g.cell for g in sp.glyphs])
        scores = full[:, idx] if full is not None else cells @ self._cells[idx].T
        kind = self._kind[idx]
        near = (kind > 1) & (scores.max(axis=0) >= MATCH - MARGIN)
        for k in np.unique(kind[near]):
            cols = np.flatnonzero(near & (kind == k))
            scores[:, cols] = np.minimum(scores[:, cols], _strip_min(cells, self._cells[idx[cols]], int(k)))
        return scores

    def _classify(
        self, sp: _Split, sel: np.ndarray, full: np.ndarray | None = None
    ) -> tuple[list[tuple[str, int, int]] | None, str]:
        """(label, template index, sightings) of each glyph among templates ``sel``, or None when one is unsure;
        and why not (a ``WHY`` key). Sightings: how often tesseract read the glyph's shape as its label, summed
        over the label's templates it matches (one shape seen in slightly different binarisations is stored as
        several templates, each seen a few times)."""
        if not sel.any():
            return None, "font"
        idx = np.flatnonzero(sel)
        scores = self._scores(sp, idx, full)  # glyphs x templates
        lab = self._ids[idx]  # label ids: comparing ints, not strings, keeps a read cheap
        rows = np.arange(len(scores))
        j = scores.argmax(axis=1)
        mine = lab[None, :] == lab[j][:, None]  # glyphs x templates of each glyph's best label
        best = scores[rows, j]
        second = np.where(mine, -1.0, scores).max(axis=1)
        seen = (self._seen[idx][None, :] * (mine & (scores >= MATCH))).sum(axis=1)
        out = []
        for g in rows:
            if best[g] < MATCH:
                return None, "match"
            if best[g] - second[g] < MARGIN:
                return None, "margin"
            out.append((self._chars[idx[j[g]]], int(idx[j[g]]), int(seen[g])))
        return out, ""

    def read(self, tile: np.ndarray) -> tuple[str, float] | None:
        """(text, confidence) when every glyph of the tile matches one character's templates clearly, else None.

        ("", -1) (tesseract's "nothing read") for a blank tile or one whose glyphs all match shapes tesseract
        read nothing in; a tile mixing digits and such shapes is left to tesseract.
        """
        return self.read_many([tile])[0]

    def read_many(self, tiles: list[np.ndarray]) -> list[tuple[str, float] | None]:
        """``read`` of each tile; the glyphs of all tiles are compared with the templates in one product, which
        reads the template store once instead of once per tile (most of a read's cost)."""
        out: list[tuple[str, float] | None] = [None] * len(tiles)
        todo: list[tuple[int, _Split | None]] = []
        for i, tile in enumerate(tiles):
            cc = _components(tile)
            if _blank(tile, cc):
                with self._lock:
                    self.n_template += 1
                out[i] = ("", -1.0)
            else:
                todo.append((i, _split(tile, cc)))
        if not todo:
            return out
        with self._lock:
            for i, sp in todo:
                self._splits[id(tiles[i])] = (tiles[i], sp)  # the tile holds its id while remembered
            while len(self._splits) > SPLITS_KEPT:
                self._splits.popitem(last=False)
            sps = [sp for _i, sp in todo if sp is not None]
            full = None
            if sps and self._chars:
                sels = [self._compatible(sp) for sp in sps]
                cols = np.flatnonzero(np.logical_or.reduce(sels))  # templates some tile can match
                cells = np.concatenate([np.stack([g.cell for g in sp.glyphs]) for sp in sps])
                full = np.zeros((len(cells), len(self._chars)), np.float32)
                full[:, cols] = cells @ self._cells[cols].T
            row, k = 0, 0
            for i, sp in todo:
                rows = sel = None
                if sp is not None and full is not None:
                    rows, sel = full[row : row + len(sp.glyphs)], sels[k]
                    row, k = row + len(sp.glyphs), k + 1
                out[i] = self._answer(sp, rows, sel)
        return out

    def _answer(
        self, sp: _Split | None, full: np.ndarray | None, sel: np.ndarray | None
    ) -> tuple[str, float] | None:
        """``read``'s answer for a tile's split (lock held); ``full``: its glyphs against the templates ``sel``
        (its font context's) and others."""
        got, why = (
            (None, "line" if sp is None else "font")
            if sp is None or full is None or sel is None
            else self._classify(sp, sel, full)
        )
        chars = [c for c, _i, _n in got] if got else []
        text = "" if set(chars) == {JUNK} else "".join(chars)
        if not got or (text and not _NUMBER.fullmatch(text)):  # JUNK beside digits fails the match
            self.n_tesseract += 1
            self.why[why or "mixed"] += 1
            return None
        self._clock += 1
        used = [i for _c, i, _n in got]
        self._used[used] = self._clock
        # "nothing here" only for shapes seen so often
        if not text and min(n for _c, _i, n in got) < JUNK_SEEN:
            self.n_tesseract += 1
            self.why["junk"] += 1
            return None
        self.n_template += 1
        # as trustworthy as the least confident tesseract reading that taught one of its glyphs
        return (text, float(self._conf[used].min())) if text else ("", -1.0)

    def learn(self, tile: np.ndarray, text: str, conf: float) -> bool:
        """Store the tile's glyphs as templates of tesseract's reading ``text``; False when it teaches nothing.

        A number read confidently teaches one template per glyph; a tile read as nothing teaches its glyphs as
        ``JUNK`` (shapes that are no character), unless one looks like a known character.
        """
        junk = text == "" and conf < 0
        if not junk and (conf < LEARN_CONF or not _NUMBER.fullmatch(text)):
            return False
        with self._lock:
            kept = self._splits.pop(id(tile), None)
        # the split ``read`` made of this very tile when it could not answer it (tesseract then read it)
        sp = kept[1] if kept is not None and kept[0] is tile else _split(tile)
        if sp is None:
            return False
        labels = [JUNK] * len(sp.glyphs) if junk else list(text)
        if len(sp.glyphs) == 1 and len(text) > 1 and text.isdigit():
            labels = [text]  # digits that touch (a bold font, binarised): one ligature, its number its label
        if len(labels) != len(sp.glyphs):
            return False
        if not junk and not all(
            _shape_fits(c, g.box, sp.band, sp.top) for c, g in zip(labels, sp.glyphs, strict=True)
        ):
            return False
        with self._lock:
            new: list[tuple[str, _Glyph]] = []
            sel = self._compatible(sp) if self._chars else np.zeros(0, bool)
            idx = np.flatnonzero(sel)
            scores = self._scores(sp, idx)
            chars = np.array([self._chars[i] for i in idx], dtype=object)
            drop: list[int] = []
            for ch, g, row in zip(labels, sp.glyphs, scores, strict=True):
                clash = (row >= CLASH) & (chars != ch)
                if junk and (clash & (chars != JUNK)).any():
                    continue  # a shape read as a character elsewhere: not junk for sure
                if clash.any():
                    # the same shape taught as two characters: tesseract misread one; trust neither
                    drop += idx[clash].tolist()
                    if not (chars[clash] == JUNK).all():
                        self._drop(drop)
                        return False
                same = (chars == ch) & (row >= DUPLICATE)
                if same.any():
                    self._conf[idx[same]] = np.maximum(self._conf[idx[same]], conf)
                    self._seen[idx[same]] += 1
                else:
                    new.append((ch, g))
            if drop:
                self._drop(drop)
            if new:
                self._clock += 1
                self._cells = np.concatenate([self._cells, np.stack([g.cell for _c, g in new])])
                self._chars += [c for c, _g in new]
                kinds = [0 if c == JUNK else len(c) for c, _g in new]
                self._kind = np.concatenate([self._kind, np.array(kinds, np.int8)])
                ids = [self._id_of.setdefault(c, len(self._id_of)) for c, _g in new]
                self._ids = np.concatenate([self._ids, np.array(ids, np.int32)])
                self._ctx = np.concatenate([self._ctx, np.tile([[sp.band, sp.stroke]], (len(new), 1))])
                self._conf = np.concatenate([self._conf, np.full(len(new), conf)])
                self._used = np.concatenate([self._used, np.full(len(new), self._clock, np.int64)])
                self._seen = np.concatenate([self._seen, np.ones(len(new), np.int64)])
                if len(self._chars) > self._max:
                    self._drop(np.argsort(self._used, kind="stable")[: len(self._chars) - self._max].tolist())
            return True

    def _drop(self, which: list[int]) -> None:
        keep = np.ones(len(self._chars), bool)
        keep[which] = False
        self._cells, self._ctx = self._cells[keep], self._ctx[keep]
        self._conf, self._used, self._seen = self._conf[keep], self._used[keep], self._seen[keep]
        self._chars = [c for c, k in zip(self._chars, keep, strict=True) if k]
        self._kind, self._ids = self._kind[keep], self._ids[keep]


CACHE = GlyphCache()
_enabled: bool | None = None


def set_enabled(on: bool | None) -> None:
    """Turn the cache on or off for this process (None: follow ``THERMAL_ANOMALY_OCR_CACHE``)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    """Whether tiles are read from learned templates (default on; ``THERMAL_ANOMALY_OCR_CACHE=0`` turns it off)."""
    if _enabled is not None:
        return _enabled
    return os.environ.get("THERMAL_ANOMALY_OCR_CACHE", "1").strip().lower() not in ("0", "off", "false", "no")


class TileMemo:
    """Tesseract's answer for tiles it has read, keyed by the tile's exact pixels (bounded, least recently
    used forgotten first).

    A camera draws the same label, icon or read-out fragment pixel for pixel in every picture of a batch; its
    answer is the one tesseract gave the first time, whatever it was (a lock icon read as "4" stays "4", and
    the scale reading rejects it as before). This is what makes a batch from one camera pay the OCR once for
    its fixed marks; the glyph templates cover the numbers that change.
    """

    def __init__(self, max_items: int = 4096) -> None:
        self._lock = threading.Lock()
        self._max = max_items
        self._items: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self.hits = 0

    @staticmethod
    def _key(tile: np.ndarray) -> bytes:
        t = np.ascontiguousarray(tile, np.uint8)
        return hashlib.blake2b(t.tobytes(), digest_size=16, person=struct.pack("<II", *t.shape)).digest()

    def get(self, tile: np.ndarray) -> tuple[str, float] | None:
        key = self._key(tile)
        with self._lock:
            got = self._items.get(key)
            if got is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return got

    def put(self, tile: np.ndarray, reading: tuple[str, float]) -> None:
        key = self._key(tile)
        with self._lock:
            self._items[key] = reading
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = 0


MEMO = TileMemo()


class LayoutMemo:
    """What was found where on the last pictures of each camera layout (bounded, least recently used
    forgotten first): the boxes of a bar's labels, the unit signs. A camera draws its UI at the same
    places in every picture, so the next picture of the layout only checks them there instead of searching
    the whole picture; whoever uses an entry verifies it on the new picture and searches anew when it fails.
    """

    def __init__(self, max_items: int = 64) -> None:
        self._lock = threading.Lock()
        self._max = max_items
        self._items: OrderedDict[object, object] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: object) -> object | None:
        if not enabled():
            return None
        with self._lock:
            got = self._items.get(key)
            if got is not None:
                self._items.move_to_end(key)
            return got

    def put(self, key: object, value: object) -> None:
        if not enabled():
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def count(self, hit: bool) -> None:
        """Record whether an entry was verified on a new picture (a hit) or searched anew."""
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


#: label boxes per bar layout and unit signs per picture layout (see ``ocr``)
LAYOUTS = LayoutMemo()
#: a label's binarised tiles per exact pixels of its crop: a camera's fixed marks (icons, units, box corners)
#: beside the labels are cut out and binarised once per batch, not once per picture
VIEWS = LayoutMemo(max_items=4096)


class ImageMemo:
    """Results computed on one picture, kept for the next question about the same picture (the scale reading
    and the read-out check both need its unit signs). Keyed by the array's buffer and layout and a sample of
    its pixels; holds the array, so its address is not reused while remembered."""

    def __init__(self, max_items: int = 4) -> None:
        self._lock = threading.Lock()
        self._max = max_items
        self._items: OrderedDict[tuple, tuple[np.ndarray, object]] = OrderedDict()

    @staticmethod
    def _key(image: np.ndarray, what: str) -> tuple:
        a = np.asarray(image)
        sample = np.ascontiguousarray(a[:: max(1, a.shape[0] // 61), :: max(1, a.shape[1] // 67)])
        digest = hashlib.blake2b(sample.tobytes(), digest_size=16).digest()
        return (what, a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str, digest)

    def get_or(self, image: np.ndarray, what: str, compute: Callable[[], _T]) -> _T:
        """``compute()`` for ``image``, or what it gave the last time for the same pixels."""
        key = self._key(image, what)
        with self._lock:
            got = self._items.get(key)
        if got is not None:
            return got[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._items[key] = (image, value)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value


PER_IMAGE = ImageMemo()


def read(tiles: list[np.ndarray]) -> list[tuple[str, float] | None]:
    """Each tile's (text, confidence) from an identical tile read before or from the templates, or None where
    tesseract must read it."""
    if not enabled():
        return [None] * len(tiles)
    out = [MEMO.get(t) for t in tiles]
    todo = [i for i, got in enumerate(out) if got is None]
    for i, got in zip(todo, CACHE.read_many([tiles[i] for i in todo]), strict=True):
        out[i] = got
    return out


def learn(tiles: list[np.ndarray], readings: list[tuple[str, float]]) -> None:
    """Remember tesseract's readings of ``tiles`` and teach the templates the confident ones."""
    if enabled():
        for tile, (text, conf) in zip(tiles, readings, strict=True):
            MEMO.put(tile, (text, conf))
            CACHE.learn(tile, text, conf)


def clear() -> None:
    """Forget every remembered tile, template and layout (a new batch learns its cameras anew)."""
    MEMO.clear()
    CACHE.clear()
    LAYOUTS.clear()
    VIEWS.clear()
