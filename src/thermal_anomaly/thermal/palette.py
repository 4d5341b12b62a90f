"""Thermal palettes: named colour maps as LUTs and colours back to a position on the palette (cold=0, hot=1)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

import cv2
import numpy as np

from ..io import to_uint8

_T = TypeVar("_T")

#: Longest side of the working copy: overlay and bar detection run at this size so a 3077×1920 photo costs
#: the same as a 640×640 one.
WORK_SIDE = 640

#: byte -> the float [0, 1] it stands for, as ``as_rgb_float`` converts it (``x / 255`` in float32)
U8_TO_FLOAT = np.arange(256, dtype=np.float32) / 255.0


def as_rgb_float(image: np.ndarray) -> np.ndarray:
    """H×W×3 float32 RGB in [0, 1] from grey, RGB, RGBA, uint8, uint16 or float input."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {img.shape}")
    if img.shape[2] == 4:
        img = img[..., :3]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.dtype == np.uint8:
        if not img.size:
            return img.astype(np.float32)
        return cv2.LUT(np.ascontiguousarray(img), U8_TO_FLOAT)  # exactly img.astype(float32) / 255
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    out = img.astype(np.float32, copy=False)
    # float input in 0..255 (some loaders) is rescaled; a strided sample keeps this check cheap
    if out.size and float(np.nanmax(out[::7, ::7])) > 1.0 + 1e-3:
        out = out / 255.0
        return np.clip(out, 0.0, 1.0)
    return out


def chan_max(a: np.ndarray) -> np.ndarray:
    """Per-pixel max over the last (colour) axis; far faster than ``a.max(axis=-1)`` on H×W×3."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def chan_min(a: np.ndarray) -> np.ndarray:
    """Per-pixel min over the last (colour) axis."""
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


def work_copy(
    rgb: np.ndarray, side: int = WORK_SIDE, interpolation: int = cv2.INTER_AREA
) -> tuple[np.ndarray, float]:
    """Downscale (never upscale) so the longest side is at most ``side``; return the copy and its scale.
    ``cv2.INTER_NEAREST`` samples the picture instead of averaging it: every colour stays one of its own."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return np.ascontiguousarray(rgb, dtype=np.float32), 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=interpolation), scale


_SCOPE = threading.local()


def _identity(image: np.ndarray) -> tuple:
    """Arrays with the same buffer, shape, strides and dtype hold the same pixels (views of one image)."""
    a = np.asarray(image)
    return (a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str)


@contextmanager
def image_scope(image: np.ndarray, cache: dict | None = None) -> Iterator[None]:
    """Within the block, work derived from ``image`` (work copies, the colour-bar search, the colour bar) is
    done once and shared by overlay masking, colour decoding and rendering, which each look for it anew.

    Nothing outlives the block, so an image changed in place afterwards is never served stale results, unless
    the caller passes its own ``cache`` (a dict it keeps, then drops): an analysis that owns its picture and
    never changes it shares work between parts it computes at different times. Thread-local, so concurrent
    scopes in other threads do not mix. Re-entering the scope of the image already in scope keeps its results
    (a prediction shares them between the detector and temperature decoding).
    """
    prev = getattr(_SCOPE, "entry", None)
    if prev is not None and prev[0] == _identity(image):
        yield
        return
    # the reference keeps the buffer (and its address) alive
    _SCOPE.entry = (_identity(image), {} if cache is None else cache, image)
    try:
        yield
    finally:
        _SCOPE.entry = prev


def in_image_scope(image: np.ndarray) -> bool:
    """True inside ``image_scope(image)`` (or of a view of it with the same layout)."""
    entry = getattr(_SCOPE, "entry", None)
    return entry is not None and entry[0] == _identity(image)


def shared(image: np.ndarray, key: Any, compute: Callable[[], _T]) -> _T:
    """``compute()`` once per ``key`` for the image of the enclosing ``image_scope``; outside one, every time."""
    if not in_image_scope(image):
        return compute()
    cache = _SCOPE.entry[1]
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def channel_range(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``chan_min(a)``, ``chan_max(a)``), computed once per array within an ``image_scope``: the overlay
    search and the UI-fill test of a picture at most ``WORK_SIDE`` long look at the same pixels. Read them,
    do not change them."""
    entry = getattr(_SCOPE, "entry", None)
    if entry is None:
        return chan_min(a), chan_max(a)
    key = ("channel_range", _identity(a))
    if key not in entry[1]:
        # ``a`` is kept with its result, so its address cannot be reused by another array in the scope
        entry[1][key] = (a, chan_min(a), chan_max(a))
    _a, lo, hi = entry[1][key]
    return lo, hi


def sampled_copy(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """``work_copy(rgb, WORK_SIDE, cv2.INTER_NEAREST)``, made once per ``image_scope``: the UI-fill and the
    hot-core tests both judge on it (read it, do not change it)."""
    return shared(rgb, ("sampled", WORK_SIDE), lambda: work_copy(rgb, WORK_SIDE, cv2.INTER_NEAREST))


def labels_in(lab: np.ndarray, ids: np.ndarray, n: int | None = None) -> np.ndarray:
    """``np.isin(lab, ids)`` for non-negative integer labels (``n``: one more than the highest label, when
    known) through a lookup table: one gather instead of a sort."""
    ids = np.asarray(ids, np.intp).ravel()
    if n is None:
        top = int(lab.max()) if lab.size else 0
        n = max(top, int(ids.max()) if ids.size else 0) + 1
    table = np.zeros(n, bool)
    table[ids] = True
    return lookup(table, lab)


def lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for an integer ``index`` array (labels, colour numbers): the same values, dtype and
    shape, through ``np.take``, whose gather is ~1.5-2x faster than fancy indexing's over a whole picture
    (a 640×640 int32 label map into a bool table: ~1.0 -> ~0.55 ms; a 410k-entry colour-number gather
    ~0.95 -> ~0.8 ms)."""
    return np.take(table, index, axis=0)


def mask_u8(mask: np.ndarray) -> np.ndarray:
    """A 0/1 mask as uint8 for OpenCV: a bool mask's own bytes (no copy of a 6 MP mask), else a copy."""
    return mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)


def upsize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape`` (H, W), up or down."""
    if mask.shape == tuple(shape):
        return mask if mask.dtype == bool else mask != 0
    return cv2.resize(mask_u8(mask), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def component_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x, y, w, h) of the 8-connected components of a uint8/bool mask, in no set order.

    From the outer contours (each component has exactly one, spanning its extent): ~10x faster than
    labelling and measuring every pixel when only the boxes of a few components are needed.
    """
    m = (
        np.ascontiguousarray(mask).view(np.uint8)
        if mask.dtype == bool
        else np.ascontiguousarray(mask, np.uint8)
    )
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    # RETR_CCOMP: outer boundaries (of components, also those inside holes) have no parent, holes do
    return [cv2.boundingRect(c) for c, h in zip(contours, hierarchy[0], strict=True) if h[3] < 0]


# ---------------------------------------------------------------------------------------------------------
# Named palettes, as anchor colours from cold to hot: approximations of the common camera palettes, then the
# vendor's own tables where we have them.
_ANCHORS: dict[str, list[tuple[float, float, float]]] = {
    "iron": [
        (0.0, 0.0, 0.0),
        (0.12, 0.0, 0.45),
        (0.5, 0.0, 0.6),
        (0.8, 0.1, 0.4),
        (0.95, 0.35, 0.05),
        (1.0, 0.65, 0.0),
        (1.0, 0.9, 0.25),
        (1.0, 1.0, 1.0),
    ],
    "rainbow": [
        (0.0, 0.0, 0.5),
        (0.0, 0.0, 1.0),
        (0.0, 0.5, 1.0),
        (0.0, 1.0, 1.0),
        (0.5, 1.0, 0.5),
        (1.0, 1.0, 0.0),
        (1.0, 0.5, 0.0),
        (1.0, 0.0, 0.0),
        (0.5, 0.0, 0.0),
    ],
    "rainbow_hc": [
        (0.05, 0.0, 0.25),
        (0.0, 0.1, 0.8),
        (0.0, 0.6, 1.0),
        (0.0, 0.85, 0.5),
        (0.4, 0.9, 0.0),
        (1.0, 1.0, 0.0),
        (1.0, 0.55, 0.0),
        (1.0, 0.0, 0.1),
        (1.0, 0.3, 0.7),
        (1.0, 1.0, 1.0),
    ],
    "arctic": [
        (0.05, 0.05, 0.3),
        (0.1, 0.3, 0.8),
        (0.4, 0.7, 1.0),
        (0.85, 0.85, 0.9),
        (0.95, 0.6, 0.2),
        (1.0, 0.85, 0.1),
        (1.0, 1.0, 0.75),
    ],
    "lava": [
        (0.0, 0.0, 0.0),
        (0.05, 0.2, 0.35),
        (0.3, 0.2, 0.45),
        (0.75, 0.1, 0.2),
        (0.95, 0.35, 0.0),
        (1.0, 0.75, 0.1),
        (1.0, 1.0, 0.7),
        (1.0, 1.0, 1.0),
    ],
    "white_hot": [(0.0, 0.0, 0.0), (1.0, 1.0, 1.0)],
    "black_hot": [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0)],
}


def _vendor_anchors() -> dict[str, np.ndarray]:
    """FLIR's own palettes (:mod:`.flir_palettes`, read from its cameras' files), as anchor colours: where a
    picture comes from a FLIR camera, they explain its colours to within JPEG noise, where the approximations
    above can lie 10-20 ΔE off (FLIR's rainbow against ``rainbow_hc``)."""
    from .flir_palettes import TABLES

    return {
        name: np.frombuffer(bytes.fromhex(hexes), np.uint8).reshape(-1, 3).astype(np.float32) / 255.0
        for name, hexes in TABLES.items()
    }


_ANCHORS.update({name: anchors.tolist() for name, anchors in _vendor_anchors().items()})

PALETTES: tuple[str, ...] = tuple(_ANCHORS)


def lut_from_anchors(anchors: np.ndarray, n: int = 256) -> np.ndarray:
    """Piecewise-linear N×3 float32 LUT through equally spaced anchor colours (cold first)."""
    anchors = np.asarray(anchors, np.float32)
    t = np.linspace(0.0, 1.0, len(anchors))
    s = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(s, t, anchors[:, c]) for c in range(3)], axis=1).astype(np.float32)


def palette_lut(name: str, n: int = 256) -> np.ndarray:
    """The named palette as an N×3 float32 RGB LUT in [0, 1], cold first."""
    try:
        return lut_from_anchors(np.array(_ANCHORS[name]), n)
    except KeyError:
        raise ValueError(f"unknown palette {name!r}; known: {', '.join(PALETTES)}") from None


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100) of float RGB in [0, 1], any leading shape."""
    flat = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 1, 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).reshape(np.shape(rgb))


#: threads for the nearest-palette-colour query (~95k distinct colours in a 640 px JPEG; exact either way)
KD_WORKERS = 2
#: ΔE (CIE76) above which a colour is not on the palette: text, logos, boxes, UI greys.
MAX_DELTA_E = 14.0


def as_rgb_u8(image: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB (rounded) from any input ``as_rgb_float`` accepts; uint8 RGB passes through."""
    img = np.asarray(image)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return img
    return to_u8(as_rgb_float(img))


def to_u8(rgb: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 (:func:`thermal_anomaly.io.to_uint8`), the colours decoding works on."""
    return to_uint8(rgb)


#: one slot per 24-bit colour (64 MB of address space, touched only where an image's colours fall), shared by
#: every decoding in the process under a lock: finding an image's distinct colours is then two scatters and
#: two gathers instead of a sort
_COLOUR_SLOTS: np.ndarray | None = None
_SLOTS_LOCK = threading.Lock()


def _colour_codes(pixels: np.ndarray) -> np.ndarray:
    """(M,) uint32 24-bit code of each (M, 3) uint8 colour: its three bytes as a little-endian number (red
    in the low byte, blue in the high one).

    Read in one pass: each pixel's bytes and the next pixel's first byte as one (unaligned) 32-bit number,
    its top byte cleared (~5 vs ~16 ms for a 6 MP photo by shifting and or-ing channels). Any bijection of
    the colours serves: distinct colours are numbered by where they occur, not by their codes."""
    flat = np.ascontiguousarray(pixels, np.uint8).reshape(-1)
    m = flat.size // 3
    code = np.empty(m, np.uint32)
    if m > 1:
        four = np.ndarray((m - 1,), dtype="<u4", buffer=flat, strides=(3,))
        np.bitwise_and(four, np.uint32(0xFFFFFF), out=code[:-1])
    if m:
        r, g, b = (int(v) for v in flat[-3:])
        code[-1] = r | g << 8 | b << 16
    return code


def _first_of_each(code: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values of ``code``, each entry's index among them) through ``slots`` (one per possible
    value): every entry writes its position into its value's slot, the entries that read their own position
    back are one per value, which then number the values in position order. Callers hold the lock guarding
    ``slots``.

    ``slots`` is read once: each entry's representative (the position it read back) is numbered through a
    running count over the entries, which stays in cache, instead of a second scatter and gather over the
    whole table (~12 -> ~9 ms for a 640 px JPEG's 410k pixels; the same values and numbering)."""
    index = np.arange(len(code), dtype=np.int32)
    slots[code] = index
    rep = slots[code]
    first = rep == index
    number = np.cumsum(first, dtype=np.int32)
    number -= 1
    return code[first], number[rep].astype(np.intp)


def distinct_colors(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colours of (M, 3) uint8 ``pixels`` as (U, 3) float32 in [0, 1], and each pixel's index
    among them, so per-colour work is done once per colour rather than once per pixel.

    Through a process-wide table with a slot per 24-bit colour: every pixel writes its index into its
    colour's slot, the pixels that read their own index back are the first of their colour (one per
    colour), which then number the colours. Linear in the pixels: ~3x faster than a radix sort on a 640 px
    picture, more on a 3000 px photo. Colours come in no particular order.
    """
    global _COLOUR_SLOTS
    code = _colour_codes(pixels)
    # a photo upscaled from its sensor repeats each colour along a row: the runs of one colour are found
    # first (one pass) and only their first entries go through the slots, when they are few enough to pay
    starts = _run_starts(code)
    runs = starts is not None and len(starts) <= RUNS_SHARE * len(code)
    with _SLOTS_LOCK:
        if _COLOUR_SLOTS is None:
            _COLOUR_SLOTS = np.empty(1 << 24, np.int32)
        uniq, inverse = _first_of_each(code[starts] if runs else code, _COLOUR_SLOTS)
    if runs:
        inverse = np.repeat(inverse, np.diff(starts, append=len(code)))
    return _code_colours(uniq), inverse


#: the run-length path of :func:`distinct_colors` is taken when there are at most this many runs per pixel
#: (a 3077 px photo with 7 % runs: ~57 -> ~19 ms; at 40-60 % both paths cost the same)
RUNS_SHARE = 0.3


def _run_starts(code: np.ndarray) -> np.ndarray | None:
    """Indices where a run of equal values starts (0 first), or None for fewer than two values.

    ``_first_of_each`` of the runs' first values gives the same distinct values in the same order as of all
    values (a value's last run holds its last entry), and each run's index is that of all its entries."""
    if len(code) < 2:
        return None
    return np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))


def _code_colours(uniq: np.ndarray) -> np.ndarray:
    """(U, 3) float32 colours in [0, 1] of 24-bit codes (``_colour_codes``: red in the low byte)."""
    return np.stack([uniq & 255, (uniq >> 8) & 255, (uniq >> 16) & 255], axis=1).astype(np.float32) / 255.0


class ImageColours:
    """A picture's distinct colours, found once and shared by every per-colour step of its decoding.

    ``cols`` (U, 3) float32 and ``inverse`` (H*W,) each pixel's colour, as :func:`distinct_colors` gives
    them; ``exact``: the float picture holds exactly its bytes' values (``cols[inverse]`` is the picture, as
    for every 8-bit file), so a per-pixel test of its colour can be made once per colour instead.
    """

    def __init__(self, image: np.ndarray) -> None:
        img = np.asarray(image)
        rgb8 = as_rgb_u8(img)
        self.shape = rgb8.shape[:2]
        self.cols, self.inverse = distinct_colors(rgb8.reshape(-1, 3))
        self._image, self._rgb8 = img, rgb8
        self._subset_slots: np.ndarray | None = None

    @cached_property
    def exact(self) -> bool:
        """The float picture is exactly its bytes' values: ``cols[inverse]`` is the picture."""
        img, rgb8 = self._image, self._rgb8
        if img.dtype == np.uint8 and img.shape == rgb8.shape:
            return True
        rgbf = as_rgb_float(img)
        return bool(np.array_equal(cv2.LUT(np.ascontiguousarray(rgb8), U8_TO_FLOAT), rgbf))

    def per_pixel(self, values: np.ndarray) -> np.ndarray:
        """H×W of a per-colour array (U,), each pixel's colour's value."""
        return lookup(values, self.inverse).reshape(self.shape)

    def subset(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What ``distinct_colors(to_u8(rgb[mask]))`` gives for an exact picture, colours in the same order,
        from the colour numbers already found: (colours, each masked pixel's index among them)."""
        ids = self.inverse[np.asarray(mask, bool).ravel()]
        if self._subset_slots is None:
            self._subset_slots = np.empty(len(self.cols), np.int32)
        uniq, inverse = _first_of_each(ids, self._subset_slots)
        # the full picture's colour numbers are a bijection of its codes, so the same entries are kept
        return self.cols[uniq], inverse


def colour_positions(
    colours: ImageColours, lut: np.ndarray, max_delta_e: float = MAX_DELTA_E, workers: int = KD_WORKERS
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct colour of ``colours``: (position on the palette, farther than ``max_delta_e``).
    ``workers``: the nearest-colour search's threads (1 for a few hundred colours: starting threads costs
    more than they save)."""
    from scipy.spatial import cKDTree

    lut = np.asarray(lut, np.float32)
    dist, idx = cKDTree(to_lab(lut)).query(to_lab(colours.cols), k=1, workers=workers)
    pos_u = (idx / max(1, len(lut) - 1)).astype(np.float32)
    return pos_u, dist > max_delta_e


def colors_to_position(
    image: np.ndarray,
    lut: np.ndarray,
    max_delta_e: float = MAX_DELTA_E,
    colours: ImageColours | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Position on the palette (0 = cold end, 1 = hot end) of every pixel, and a not-a-temperature mask.

    Nearest LUT colour in Lab, found once per distinct colour (:func:`distinct_colors`, and a KD-tree over
    the LUT), so the cost is one pass over the image plus a query per distinct colour. Pixels farther than
    ``max_delta_e`` from every LUT colour are marked True in the mask (their position is still the nearest).
    Exact per colour on purpose: a coarser colour cube (6 bits) was 3x faster but moved the heat-rise
    evidence enough to change PatchCore image scores by ~5 % (measured on the dev set). ``colours``: the
    image's :class:`ImageColours` when already found.
    """
    colours = ImageColours(image) if colours is None else colours
    pos_u, bad_u = colour_positions(colours, lut, max_delta_e)
    return colours.per_pixel(pos_u), colours.per_pixel(bad_u)


def palette_fit_error(image: np.ndarray, lut: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Median ΔE from the image's distinct (unmasked) colours to the LUT: how well the palette explains the image."""
    from scipy.spatial import cKDTree

    rgb = as_rgb_float(image)
    small, _ = work_copy(rgb, 256)
    pix = small.reshape(-1, 3)
    if mask is not None:
        m = upsize_mask(np.asarray(mask, bool), small.shape[:2]).ravel()
        if (~m).sum() > 50:
            pix = pix[~m]
    # distinct colours (5-bit) count once, so a large black background cannot decide the fit alone
    pix = np.unique((pix * 31.0 + 0.5).astype(np.uint8), axis=0).astype(np.float32) / 31.0
    dist, _ = cKDTree(to_lab(np.asarray(lut, np.float32))).query(to_lab(pix), k=1)
    return float(np.median(dist))


def fit_palette(image: np.ndarray, mask: np.ndarray | None = None) -> tuple[str, float]:
    """The named palette that best explains the image's colours: (name, median ΔE).

    Used when no colour bar is visible. Ties between a palette and its mirror (white/black hot) cannot be
    resolved from colours alone; the first listed wins.
    """
    errs = {name: palette_fit_error(image, palette_lut(name), mask) for name in PALETTES}
    best = min(errs, key=errs.__getitem__)
    return best, errs[best]
