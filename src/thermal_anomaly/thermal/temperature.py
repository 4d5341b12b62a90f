"""One entry point from a picture to temperatures: radiometric file, colour bar (+ its numbers), or a palette."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..postprocess import label_boxes
from ..records import TemperatureInfo
from .colorbar import ColorBar, flipped
from .ocr import read_scale
from .palette import (
    ImageColours,
    chan_max,
    chan_min,
    colour_positions,
    distinct_colors,
    fit_palette,
    lookup,
    lut_from_anchors,
    palette_lut,
    to_u8,
)
from .planck import signal_linear_celsius
from .radiometric import RadiometricParams, read


@dataclass
class TemperatureMap:
    """Per-pixel temperature. ``values`` are °C when ``unit == "C"``, else relative 0 (cold) .. 1 (hot).

    ``valid`` is False where the pixel is not a temperature (camera overlay, colour off the palette).
    ``range`` is (min, max) °C of the scale when known. ``reason`` says why the result is only relative.
    ``params`` are the object parameters a radiometric file was read with (emissivity, ...), ``camera`` its
    model; ``note`` says why a radiometric file's raw data were not used (the map is then the picture's).
    """

    values: np.ndarray
    unit: str
    valid: np.ndarray
    source: str
    reason: str = ""
    range: tuple[float, float] | None = None
    params: dict | None = None
    camera: str | None = None
    note: str = ""
    #: "F" when the picture's scale was printed in °F (its values here are converted to °C)
    converted_from: str = ""
    #: position on the scale (0 cold .. 1 hot) of every pixel, overlays included, and where a colour was
    #: decoded at all; the learned detector's heat evidence is derived from these, so the detector and the
    #: report read the same scale the same way round
    position: np.ndarray | None = field(default=None, repr=False)
    decodable: np.ndarray | None = field(default=None, repr=False)

    def describe(self, digits: int | None = None) -> TemperatureInfo:
        """What the numbers are, for a report: unit, source, range (rounded to ``digits``), reason, and the
        extras the map carries (object parameters, camera, notes)."""
        rng = None
        if self.range is not None:
            rng = [float(v) if digits is None else round(float(v), digits) for v in self.range]
        return TemperatureInfo(
            unit=self.unit,
            source=self.source,
            range=rng,
            reason=self.reason,
            params=self.params or None,
            camera=self.camera,
            note=self.note,
            converted_from=self.converted_from,
        )


def _bar_lut(bar: ColorBar, n: int = 256) -> np.ndarray:
    return lut_from_anchors(bar.colors, n)


#: decoded position from which a pixel counts as the hot end of the scale (white next to it is "above")
HOT_END = 0.8
#: off-palette colours this dark (channel max) are below the scale, this light (channel min) above it: how
#: cameras paint temperatures outside the scale, with room for JPEG noise around pure black and white
BELOW_HI = 0.12
ABOVE_LO = 0.85
#: share of the palette pixels around a white component that must be at the hot end for it to be a
#: saturated spot (its hottest colours around it) rather than a cable or label on the scene
HOT_RING_SHARE = 0.5


#: how far beyond a white component its test looks: the 5×5 ring of :func:`_ringed_by_hot_end` (2 px) and
#: the 3×3 touch and core (1 px), so the test run on the box around the white plus this margin is exact
RING_REACH = 3
#: the ring around a white component whose colours say whether it is a saturated spot (px)
RING_RADIUS = 2


def out_of_range(
    rgb: np.ndarray,
    pos: np.ndarray,
    bad: np.ndarray,
    lut: np.ndarray | None = None,
    *,
    copy: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Cameras paint temperatures below the scale black and above it white; those are scene, at the ends.

    Only colours the palette did not explain are changed, so palettes that contain black or white keep them.
    White counts as "above the scale" only where it touches the hot end of the scale: a saturated spot grows
    out of its hottest colours, while white text, measurement marks and sensor specks sit on cold scene and
    would otherwise be the hottest things in the image. With the palette's ``lut`` (N×3, cold first), the
    touch may be through the rim the optics and JPEG blur between the two: off-palette colours on the line
    from a hot-end colour to white (pale pinks, salmon) join the white and are above the scale too, when the
    white has a solid core (three pixels thick).

    Only the off-palette pixels are looked at, and the component tests run on the box around the white and
    its blends, so a 3000 px photo costs what its off-palette pixels cost. ``copy=False``: float32 ``pos`` may
    be changed in place (a caller's own array; a 6 MP copy is ~15 ms). A picture that is exactly its bytes'
    colours gets the same tests once per colour instead (:func:`_positions_per_colour`).
    """
    below = np.zeros(bad.shape, bool)
    white = np.zeros(bad.shape, bool)
    light = np.zeros(bad.shape, bool)
    if bad.any():
        off = rgb[bad]
        lo, hi = chan_min(off), chan_max(off)
        below[bad] = hi < BELOW_HI
        white[bad] = lo > ABOVE_LO
        light[bad] = lo > BLEND_MIN_LO
    above = white
    if white.any():
        if lut is not None:
            above = white | _hot_blend(rgb, light, lut)
        box = _box_around(above, RING_REACH)
        spots = _saturated(white[box], above[box], pos[box], bad[box], blends=lut is not None)
        above = np.zeros(bad.shape, bool)
        above[box] = spots
    pos = pos.astype(np.float32, copy=copy)  # by default a copy: the caller's positions stay as decoded
    pos[below] = 0.0
    pos[above] = 1.0
    return pos, bad & ~(below | above)


#: bits of :func:`_colour_kinds`, and ``_OFF`` (off the palette) of :func:`_positions_per_colour`
_BELOW, _WHITE, _BLEND, _OFF = np.uint8(1), np.uint8(2), np.uint8(4), np.uint8(8)


def _colour_kinds(colours: ImageColours, bad_colours: np.ndarray, lut: np.ndarray | None) -> np.ndarray:
    """(U,) uint8 bits per distinct colour of ``colours`` off the palette (``bad_colours``): ``_BELOW`` (dark,
    below the scale), ``_WHITE`` (light, above it) and, with a ``lut`` and some white in the picture,
    ``_BLEND`` (a mix of a hot-end colour and white, :func:`_blends`).

    Every distinct colour is a pixel's, so white per colour is white in the picture; one gather of these
    bits then gives the per-pixel masks (each mask gathered on its own cost ~8-12 ms on a 6 MP photo)."""
    off = np.asarray(bad_colours, bool)
    lo, hi = chan_min(colours.cols), chan_max(colours.cols)
    kind = (off & (hi < BELOW_HI)).view(np.uint8) * _BELOW
    kind |= (off & (lo > ABOVE_LO)).view(np.uint8) * _WHITE
    light = off & (lo > BLEND_MIN_LO)
    if lut is not None and (kind & _WHITE).any() and light.any():
        # the candidate colours in the picture's colour order (what ``colours.subset`` gives): the same rows,
        # the same test as on their pixels
        blend = np.zeros(len(colours.cols), bool)
        blend[light] = _blends(colours.cols[light], lut)
        kind |= blend.view(np.uint8) * _BLEND
    return kind


def _box_around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Slices of the bounding box of a non-empty ``mask``, grown by ``margin`` and clipped to the image."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(0, rows[0] - margin), min(h, rows[-1] + margin + 1)),
        slice(max(0, cols[0] - margin), min(w, cols[-1] + margin + 1)),
    )


def _saturated(
    white: np.ndarray, above: np.ndarray, pos: np.ndarray, bad: np.ndarray, *, blends: bool
) -> np.ndarray:
    """The components of ``above`` (white, and its blends with the hot end when ``blends``) that are
    saturated spots: touching the hot end of the scale and, with blends, holding a solid white core and
    ringed by the hot end."""
    # dilating a 0/1 mask gives a 0/1 mask: read as bool without another pass
    hot_end = cv2.dilate((~bad & (pos >= HOT_END)).view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    seeds = hot_end & above
    if not seeds.any():  # no component touches the hot end
        return np.zeros(above.shape, bool)
    # the labels alone (OpenCV's statistics pass costs ~5x the labelling); the boxes of the few components
    # that need one are read off the labels when asked for
    n, lab = cv2.connectedComponents(above.view(np.uint8), connectivity=8)
    # the seeds as flat indices: one array, not a row and a column one (a night photo's white margin and
    # time stamp touch the hot end along their whole edge: ~25 -> ~10 ms on a 6 MP picture)
    at = np.flatnonzero(seeds)
    seed_labels = lab.reshape(-1)[at]
    stats = _FilledBoxes(above, lab, n, (at, seed_labels))
    touching = np.zeros(n, bool)
    touching[seed_labels] = True
    if blends and touching.any():
        # a saturated spot has a solid white core; the blend colours also paint text (a camera's salmon
        # max-marker label), whose strokes are too thin to hold one
        core = cv2.erode(white.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
        touching &= _holding(lab, core, touching, stats)
        for k in np.flatnonzero(touching):
            touching[k] = _ringed_by_hot_end(lab, k, stats[k], bad, pos)
    touching[0] = False
    return _members(lab, stats, touching)


#: up to this many components are each looked for in their own box (see :func:`_holding`)
MAX_BOXED = 32


def _holding(lab: np.ndarray, mask: np.ndarray, chosen: np.ndarray, stats: _LabelBoxes) -> np.ndarray:
    """Which ``chosen`` components of ``lab`` hold a pixel of ``mask`` (bool per label; False for the rest).

    A few chosen ones are each looked at in their own box (``stats[k]``): the labels of every mask pixel
    (a photo's white margin is one large solid component) cost ~10 ms on a 6 MP picture."""
    ks = np.flatnonzero(chosen)
    out = np.zeros(len(chosen), bool)
    if len(ks) > MAX_BOXED:
        out[lab[mask]] = True
        return out & chosen
    for k in ks:
        x, y, w, h = stats[k][:4]
        box = (slice(y, y + h), slice(x, x + w))
        out[k] = bool(np.any(mask[box] & (lab[box] == k)))
    return out


class _LabelBoxes:
    """``stats[k][:4]`` of ``cv2.connectedComponentsWithStats`` (x, y, w, h of component ``k``) for a label
    image, from :func:`~thermal_anomaly.postprocess.label_boxes` on first use (often no box is needed)."""

    def __init__(self, lab: np.ndarray, n: int | None = None) -> None:
        self._lab = lab
        self._n = n
        self._boxes: np.ndarray | None = None

    def __getitem__(self, k: int) -> tuple[int, int, int, int]:
        if self._boxes is None:
            n = int(self._lab.max()) + 1 if self._n is None else self._n
            self._boxes = label_boxes(self._lab, n)
        x, y, w, h = (int(v) for v in self._boxes[k])
        return x, y, w, h


class _FilledBoxes(_LabelBoxes):
    """``_LabelBoxes`` of the components of a bool ``mask`` that hold a seed pixel, each from a flood fill
    from its first seed (the fill's bounding rectangle): a fill costs its component's pixels, where the
    boxes of every label (``find_objects``) cost a pass over the whole label image (~20 ms on a 6 MP box,
    for the one or two components asked about). ``seeds``: (flat indices into ``mask``, labels) of the seed
    pixels, in raster order."""

    def __init__(
        self, mask: np.ndarray, lab: np.ndarray, n: int, seeds: tuple[np.ndarray, np.ndarray]
    ) -> None:
        super().__init__(lab, n)
        self._mask = mask
        self._seeds = seeds
        self._canvas: np.ndarray | None = None
        self._filled: dict[int, tuple[int, int, int, int]] = {}

    def __getitem__(self, k: int) -> tuple[int, int, int, int]:
        k = int(k)
        if k not in self._filled:
            flat, labels = self._seeds
            at = np.flatnonzero(labels == k)
            if not len(at):  # no seed in it: from the label image
                return super().__getitem__(k)
            if self._canvas is None:
                self._canvas = self._mask.astype(np.uint8)  # a copy: filled components turn 2
            sy, sx = divmod(int(flat[at[0]]), self._mask.shape[1])
            _area, _img, _m, rect = cv2.floodFill(self._canvas, None, (sx, sy), 2, 0, 0, 8)
            self._filled[k] = tuple(int(v) for v in rect)  # type: ignore[assignment]
        return self._filled[k]


def _members(lab: np.ndarray, stats: np.ndarray | _LabelBoxes, chosen: np.ndarray) -> np.ndarray:
    """``chosen[lab]`` (the pixels of the chosen components; ``chosen[0]`` False), each of a few chosen
    components looked for in its own box only (``stats[k][:4]``: x, y, w, h of component ``k``)."""
    ks = np.flatnonzero(chosen)
    if len(ks) > 32:
        return lookup(chosen, lab)
    out = np.zeros(lab.shape, bool)
    for k in ks:
        x, y, w, h = (int(v) for v in stats[k][:4])
        out[y : y + h, x : x + w] |= lab[y : y + h, x : x + w] == k
    return out


def _ringed_by_hot_end(
    lab: np.ndarray, k: int, stat: np.ndarray | tuple[int, ...], bad: np.ndarray, pos: np.ndarray
) -> bool:
    """Are most palette pixels just around component ``k`` of ``lab`` at the hot end of the scale?

    A saturated spot is surrounded by its hottest colours; a white cable or a label that merely meets one hot
    pixel (a marker's crosshair) is surrounded by the cold scene. The ring is the pixels within 2 px whose
    neighbouring component (the highest label in their 5×5 neighbourhood) is ``k``; it is
    measured on the component's box grown by twice that reach, which holds every ring pixel's neighbourhood.
    """
    x, y, w, h = (int(v) for v in stat[:4])
    reach = 2 * RING_RADIUS
    ys = slice(max(0, y - reach), min(lab.shape[0], y + h + reach))
    xs = slice(max(0, x - reach), min(lab.shape[1], x + w + reach))
    sub = lab[ys, xs]
    size = 2 * RING_RADIUS + 1
    grown = cv2.dilate(sub.astype(np.float32), np.ones((size, size), np.uint8))
    ring = (sub == 0) & (grown == k) & ~bad[ys, xs]
    hot = np.count_nonzero(ring & (pos[ys, xs] >= HOT_END))
    return hot >= HOT_RING_SHARE * max(np.count_nonzero(ring), 1)


#: how far (RGB, 0..1) a colour may lie from the line between a hot-end colour and white to count as a blend
BLEND_TOLERANCE = 0.08
#: a blend of a hot-end colour and white is at least this far towards white in every channel (channel min)
BLEND_MIN_LO = 0.25


def _hot_blend(rgb: np.ndarray, candidates: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """True where a ``candidates`` pixel is a mix of one of the palette's hot-end colours and white.

    Each distinct colour is tested once, against every hot-end colour at once."""
    out = np.zeros(candidates.shape, bool)
    if not candidates.any():
        return out
    c, inverse = distinct_colors(to_u8(rgb[candidates]))
    out[candidates] = _blends(c, lut)[inverse]
    return out


def _blends(c: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """(U,) whether each (U, 3) float32 colour ``c`` lies on the segment from one of the palette's hot-end
    colours to white (within ``BLEND_TOLERANCE``)."""
    hot = np.asarray(lut, np.float32)[int(HOT_END * (len(lut) - 1)) :]  # (K, 3)
    d = 1.0 - hot  # direction from each hot-end colour to white
    dd = np.maximum((d * d).sum(1), 1e-6)
    along = c @ d.T - (hot * d).sum(1)  # (c - h)·d for every colour and hot-end colour, (U, K)
    t = np.clip(along / dd, 0.0, 1.0)  # the projection, clipped to the hot->white segment
    dist2 = (c * c).sum(1)[:, None] - 2 * c @ hot.T + (hot * hot).sum(1) - 2 * t * along + t * t * dd
    return dist2.min(1) <= BLEND_TOLERANCE**2


def temperature_map(
    image: np.ndarray, path: str | os.PathLike | None = None, params: RadiometricParams | None = None
) -> TemperatureMap:
    """Decode ``image`` (H×W×3 RGB, any dtype) to temperatures; ``path`` lets radiometric files be read raw.

    Order of trust: a radiometric file (FLIR JPEG raw data with the file's object parameters, or ``params``'
    overrides; 16-bit/float TIFF), at the raw data's size, which for a FLIR JPEG is the sensor's, not the
    picture's; a colour bar whose printed numbers tesseract reads (°C); the colour bar alone (relative); the
    best-fitting named palette (relative). Black/white pixels off the bar's palette count as below/above the
    scale (clipped to its ends), as cameras draw them. Radiometric data that cannot be read (truncated,
    unknown layout, DJI) fall back to the picture, with the reason in ``note``.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3)
        The picture as RGB, uint8, uint16 or float in [0, 1].
    path : str or os.PathLike, optional
        The file ``image`` was read from; a radiometric file (FLIR JPEG, 16-bit or float TIFF) is then
        decoded from its raw data instead of its colours.
    params : RadiometricParams, optional
        Object parameters (emissivity, reflected temperature, distance, ...) that override a FLIR JPEG's
        own; ignored for pictures without raw data.

    Returns
    -------
    TemperatureMap
        ``values`` in °C when ``unit == "C"``, else relative 0 (cold) .. 1 (hot); ``valid`` is False on
        camera overlays and colours off the palette; ``source`` and ``reason`` say where the numbers
        came from and why they are only relative.

    See Also
    --------
    thermal_anomaly.thermal.analysis.ThermalAnalysis : the same decoding, with the overlays, the colour bar
        and the scale it found.

    Examples
    --------
    >>> from thermal_anomaly.io import read_image
    >>> from thermal_anomaly.thermal.temperature import temperature_map
    >>> tm = temperature_map(read_image("FLIR1234.jpg"), "FLIR1234.jpg")  # doctest: +SKIP
    >>> tm.unit, tm.source  # doctest: +SKIP
    ('C', 'radiometric')
    """
    from .analysis import ThermalAnalysis

    note = ""
    if path is not None:
        raw, note = read(path, params)
        if raw is not None:
            return ThermalAnalysis.from_radiometric(raw, path=path).temperature
    return ThermalAnalysis(image, path=path, note=note).temperature


#: ``PictureScale.source`` of a palette guessed from the colours, before its name
GUESSED_PREFIX = "palette:"


@dataclass(frozen=True)
class PictureScale:
    """How one picture's colours map to temperature: its palette (cold first), where that came from and, when
    the printed numbers were read, the °C at both ends."""

    lut: np.ndarray
    source: str  # "colorbar+ocr" | "colorbar" | "palette:NAME"
    reason: str = ""
    celsius: tuple[float, float] | None = None
    converted_from: str = ""

    @property
    def guessed(self) -> bool:
        """Whether the palette is the nearest named one, guessed from the colours (no bar): it then explains
        the picture's colours only roughly."""
        return self.source.startswith(GUESSED_PREFIX)


def picture_scale(rgb: np.ndarray, overlay: np.ndarray, bar: ColorBar | None) -> PictureScale:
    """The picture's colour ``bar`` (turned the way its printed numbers say, °C when they are read) or,
    without one, the best-fitting named palette (relative). ``overlay`` marks camera UI."""
    if bar is None:
        name, _err = fit_palette(rgb, overlay)
        return PictureScale(
            palette_lut(name), f"{GUESSED_PREFIX}{name}", "no colour bar found: palette guessed"
        )
    reading, why = read_scale(rgb, bar)
    if reading is None:
        return PictureScale(_bar_lut(bar), "colorbar", why)
    # reading.start is the top/left end; the bar's colours run cold -> hot from the bottom/left
    top_or_left_hot = reading.start > reading.stop
    if top_or_left_hot != (bar.orientation == "vertical"):  # OCR says the scale runs the other way
        bar = flipped(bar)
    return PictureScale(
        _bar_lut(bar),
        "colorbar+ocr",
        celsius=(min(reading.start, reading.stop), max(reading.start, reading.stop)),
        converted_from="" if reading.printed_unit == "C" else reading.printed_unit,
    )


def scale_positions(
    rgb: np.ndarray, scale: PictureScale, colours: ImageColours | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(position on the scale 0 cold .. 1 hot, colour is no temperature) per pixel; black/white off the
    palette count as below/above the scale (:func:`out_of_range`). ``colours``: the picture's
    :class:`~.palette.ImageColours` when already found (from its bytes)."""
    colours = ImageColours(rgb) if colours is None else colours
    pos_u, bad_u = colour_positions(colours, scale.lut)  # what colors_to_position spreads to the pixels
    if colours.exact:  # every pixel is one of its colours: each test once per colour
        return _positions_per_colour(colours, pos_u, bad_u, scale.lut)
    pos, bad = colours.per_pixel(pos_u), colours.per_pixel(bad_u)
    return out_of_range(rgb, pos, bad, scale.lut, copy=False)  # ``pos`` is ours alone


def _positions_per_colour(
    colours: ImageColours, pos_u: np.ndarray, bad_u: np.ndarray, lut: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`out_of_range` of a picture that is exactly its ``colours`` (per colour: ``pos_u`` on the
    palette, ``bad_u`` off it): every test of a pixel's own colour made per colour, then spread in two
    gathers (positions, and the test's bits with off-palette) instead of one per mask.

    A colour below the scale is off the palette, so its position is set per colour: the saturated-spot test
    reads positions of palette pixels only."""
    kind = _colour_kinds(colours, bad_u, lut)
    kind |= np.asarray(bad_u, bool).view(np.uint8) * _OFF
    pos = colours.per_pixel(np.where((kind & _BELOW) > 0, np.float32(0.0), pos_u))
    per_pixel = colours.per_pixel(kind)
    # no temperature: off the palette, unless below or above the scale (at its ends)
    bad = (per_pixel & (_OFF | _BELOW)) == _OFF
    if not (kind & _WHITE).any():
        return pos, bad
    white = (per_pixel & _WHITE) > 0
    above = white | ((per_pixel & _BLEND) > 0) if (kind & _BLEND).any() else white
    box = _box_around(above, RING_REACH)
    off = (per_pixel[box] & _OFF) > 0
    spots = _saturated(white[box], above[box], pos[box], off, blends=True)
    pos[box][spots] = 1.0
    bad[box] &= ~spots
    return pos, bad


def decode_colours(
    rgb: np.ndarray,
    overlay: np.ndarray,
    bar: ColorBar | None,
    scale: PictureScale | None = None,
    colours: ImageColours | None = None,
) -> TemperatureMap:
    """A picture's colours back to temperature through its ``scale`` (see :func:`picture_scale`).

    The map carries each pixel's ``position`` on the scale and where it was ``decodable``. ``colours``:
    the picture's distinct colours when already found (from its bytes).
    """
    scale = picture_scale(rgb, overlay, bar) if scale is None else scale
    pos, bad = scale_positions(rgb, scale, colours)
    valid = ~(overlay | bad)
    if scale.celsius is None:
        return TemperatureMap(
            pos, "relative", valid, scale.source, scale.reason, position=pos, decodable=~bad
        )
    t_cold, t_hot = scale.celsius
    values = signal_linear_celsius(pos, t_cold, t_hot)
    return TemperatureMap(
        values,
        "C",
        valid,
        scale.source,
        "",
        scale.celsius,
        converted_from=scale.converted_from,
        position=pos,
        decodable=~bad,
    )
