"""The camera's own spot read-out, against the decoded temperature at its marker: "never a wrong °C".

A picture's colours are decoded to °C through its colour bar on the assumption that the camera spread the
scale's temperatures evenly over the palette. Some cameras do not (plateau / histogram-equalised display):
the printed scale is then read right but the middle of it is several °C off, and nothing in the colours says
so. Many cameras also print what their spot meter measured ("Sp1 23.4 °C", "Punkt -23.2 °C", "136 °F") and
draw the spot as a thin crosshair. That read-out is a true temperature of one place in the picture: where the
decoded map disagrees with it by more than the decoding can be off, the map is not the camera's temperatures
and is reported as relative, with the reason.

Found from the image alone, for any camera: a read-out is a number directly before a "°C" / "°F" glyph
(``ocr._unit_glyphs``, shapes only), outside the colour bar's labels, read like the bar's end labels (three
sizes that must agree, glyph checks, the learned glyph cache); a marker is four thin straight arms, level and
plumb, of like length, meeting (or leaving the same gap) at one point. No read-out, no marker, or more than one
of either: no check, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import ocr
from .palette import chan_max, chan_min, to_u8, work_copy
from .temperature import TemperatureMap

if TYPE_CHECKING:
    from .colorbar import ColorBar

#: markers are looked for on a copy at most this long (as the unit signs are: ``ocr.UNIT_SIDE``)
MARKER_SIDE = 1024
#: least contrast (top-/black-hat, 0-255) of a marker's stroke: the same ink threshold as printed text
MARKER_HAT = 40
#: least length of a marker's arm, share of the picture's shorter side (FLIR's cross: 7-10 %; a
#: circle with four short ticks is no crosshair)
ARM_MIN = 0.04
#: widest stroke of a marker's arm, share of the shorter side (+ 2 px: lines are drawn 1-3 px wide)
ARM_THICK = 0.01
#: widest gap at the marker's centre (between the arms' inner ends), as a multiple of the shortest arm
GAP_MAX = 1.5
#: the four arms are of like length: the shortest at least this share of the longest
ARM_LIKE = 0.5
#: how far (px) the centre of the arms' outer ends may lie from the centre of their inner ends
SYMMETRY_PX = 2.0


@dataclass(frozen=True)
class Marker:
    """A spot marker: its centre (x, y) in image pixels, the arms' length and the gap at the centre (px)."""

    x: float
    y: float
    arm: int
    gap: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) around the arms


def _line_masks(ink: np.ndarray, length: int, thick: int) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) straight runs of ``ink`` at least ``length`` long and at most ``thick`` wide.

    Thin is judged locally (no run across the line longer than ``thick``), so a line that touches a big
    shape elsewhere stays a line.
    """
    out = []
    for along, across in (((length, 1), (1, thick + 1)), ((1, length), (thick + 1, 1))):
        run = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along))
        wide = cv2.morphologyEx(run, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        out.append((run > 0) & (wide == 0))
    return out[0], out[1]


def _arm(line: np.ndarray, start: int, step: int, max_gap: int) -> tuple[int, int]:
    """(gap, length) of the run along the 1-D bool ``line`` from ``start`` in direction ``step``: pixels
    skipped before the first ink (at most ``max_gap``) and the ink run's length then; (0, 0) when none."""
    n = len(line)
    i, gap = start, 0
    while 0 <= i < n and not line[i]:
        i += step
        gap += 1
        if gap > max_gap:
            return 0, 0
    length = 0
    while 0 <= i < n and line[i]:
        i += step
        length += 1
    return gap, length


def _arms_at(hor: np.ndarray, ver: np.ndarray, x: int, y: int, max_gap: int) -> list[tuple[int, int]] | None:
    """(gap, length) of the left, right, up and down arms around (x, y), or None when one is missing.

    Each arm is looked for on the row (column) through the point and its two neighbours: a line drawn
    between pixel rows is two pixels thick.
    """
    out = []
    for rows, row, at in ((hor, y, x), (ver.T, x, y)):  # vertical arms: the transposed mask's rows
        line = np.logical_or.reduce(rows[max(0, row - 1) : row + 2])
        for step in (-1, 1):
            gap, length = _arm(line, at + step, step, max_gap)
            if length == 0:
                return None
            out.append((gap, length))
    return out


def _stroke_kernel(side: int) -> tuple[int, int, np.ndarray]:
    """(least arm length, widest stroke, hat kernel) for a picture whose shorter side is ``side`` px."""
    length = max(4, int(round(ARM_MIN * side)))
    thick = int(round(ARM_THICK * side)) + 2
    k = (2 * thick + 3) | 1
    return length, thick, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))


def _ink(rgb8: np.ndarray, kernel: np.ndarray) -> list[np.ndarray]:
    """Thin light strokes and thin dark strokes (uint8 0/1), as printed text is found (``ocr.INK_HAT``)."""
    light = cv2.morphologyEx(chan_min(rgb8), cv2.MORPH_TOPHAT, kernel)
    dark = cv2.morphologyEx(chan_max(rgb8), cv2.MORPH_BLACKHAT, kernel)
    return [(light > MARKER_HAT).astype(np.uint8), (dark > MARKER_HAT).astype(np.uint8)]


def find_markers(rgb: np.ndarray, exclude: tuple[int, int, int, int] | None = None) -> list[Marker]:
    """Thin crosshairs drawn on the picture (float RGB): four straight arms around one point, in image
    pixels. ``exclude`` (x0, y0, x1, y1) is where none is looked for (the colour bar and its labels).

    Looked for on a copy at most ``MARKER_SIDE`` long (a 3077 px photo's cross is drawn thick enough).
    """
    small, scale = work_copy(rgb, MARKER_SIDE)
    rgb8 = to_u8(small)
    _, _, kernel = _stroke_kernel(min(rgb8.shape[:2]))
    found: list[Marker] = []
    for ink in _ink(rgb8, kernel):
        if exclude is not None:
            x0, y0, x1, y1 = (int(round(v * scale)) for v in exclude)
            ink[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 0
        found += crosshairs_in(ink)[0]
    return [_scaled(m, 1.0 / scale) for m in _distinct(found)]


def crosshairs_in(ink: np.ndarray) -> tuple[list[Marker], np.ndarray]:
    """Crosshairs in a uint8 0/1 ink mask (any colour of stroke), in its pixels, and the mask of their arms.

    The finder behind ``find_markers``, for callers with their own ink (``thermal.markers``: coloured
    markers, masked as camera UI).
    """
    length, thick, _ = _stroke_kernel(min(ink.shape[:2]))
    hor, ver = _line_masks(ink, length, thick)
    found = _crossings(hor, ver, length)
    arms = np.zeros(ink.shape[:2], bool)
    for m in found:
        x0, y0, x1, y1 = m.box
        sl = slice(max(0, y0), max(0, y1)), slice(max(0, x0), max(0, x1))
        arms[sl] |= hor[sl] | ver[sl]
    return found, arms


def _scaled(m: Marker, f: float) -> Marker:
    """The marker in a picture ``f`` times larger."""
    if f == 1.0:
        return m
    box = tuple(int(round(v * f)) for v in m.box)
    return Marker(m.x * f, m.y * f, int(round(m.arm * f)), int(round(m.gap * f)), box)  # type: ignore[arg-type]


def _runs(mask: np.ndarray, reach: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Ink of ``mask`` (or of its two neighbouring lines) within ``reach`` px before and after each pixel
    along ``axis`` (1: left/right, 0: up/down)."""
    # a line drawn between pixel rows covers two
    m = cv2.dilate(mask.astype(np.uint8), np.ones((3, 1) if axis == 1 else (1, 3), np.uint8))
    # window sums (exact, in int32) over pixel .. pixel+-reach, less the pixel itself
    size = (reach + 1, 1) if axis == 1 else (1, reach + 1)
    before_at = (reach, 0) if axis == 1 else (0, reach)
    before, after = (
        cv2.boxFilter(m, cv2.CV_32S, size, anchor=a, normalize=False, borderType=cv2.BORDER_CONSTANT) - m
        for a in (before_at, (0, 0))
    )
    return before, after


def _crossings(hor: np.ndarray, ver: np.ndarray, length: int) -> list[Marker]:
    """Markers where four arms of at least ``length`` px meet: first the points with that much line on all
    four sides (a cumulative count, cheap over the whole picture), then each such place measured."""
    reach = int((1 + GAP_MAX) * length)
    left, right = _runs(hor, reach, 1)
    up, down = _runs(ver, reach, 0)
    # at a cross's centre the least of the four counts peaks: measure there, once per candidate place
    score = np.minimum(np.minimum(left, right), np.minimum(up, down))
    cand = score >= length
    if not cand.any():
        return []
    n, lab, stats, _ = cv2.connectedComponentsWithStats(cand.view(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x0, y0, w, h = (int(v) for v in stats[i, :4])  # within the component's box only
        ys, xs = np.nonzero(lab[y0 : y0 + h, x0 : x0 + w] == i)
        ys, xs = ys + y0, xs + x0
        best = score[ys, xs] == score[ys, xs].max()
        m = _marker_at(hor, ver, int(round(xs[best].mean())), int(round(ys[best].mean())), length)
        if m is not None:
            out.append(m)
    return out


def _marker_at(hor: np.ndarray, ver: np.ndarray, x: int, y: int, length: int) -> Marker | None:
    """The marker through (x, y) when four like arms meet there, symmetric about one centre, else None."""
    arms = _arms_at(hor, ver, x, y, max_gap=int(GAP_MAX * 4 * length))
    if arms is None:
        return None
    (gl, ll), (gr, lr), (gu, lu), (gd, ld) = arms
    lens = [ll, lr, lu, ld]
    if min(lens) < length or min(lens) < ARM_LIKE * max(lens):
        return None
    # outer ends and inner ends of opposite arms must share one centre (a cross is symmetric)
    x0, x1, y0, y1 = x - gl - ll, x + gr + lr, y - gu - lu, y + gd + ld
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if abs(cx - (x + (gr - gl) / 2)) > SYMMETRY_PX or abs(cy - (y + (gd - gu) / 2)) > SYMMETRY_PX:
        return None
    gap_x, gap_y = gl + gr + 1, gu + gd + 1
    if abs(gap_x - gap_y) > max(2, 0.3 * max(gap_x, gap_y)) or max(gap_x, gap_y) > GAP_MAX * min(lens):
        return None
    return Marker(
        float(cx), float(cy), int(np.median(lens)), int(max(gap_x, gap_y)), (x0, y0, x1 + 1, y1 + 1)
    )


def _distinct(markers: list[Marker]) -> list[Marker]:
    """One marker per place (light and dark outlines of one cross are found twice)."""
    out: list[Marker] = []
    for m in sorted(markers, key=lambda m: -m.arm):
        if all(abs(m.x - o.x) > o.arm / 2 or abs(m.y - o.y) > o.arm / 2 for o in out):
            out.append(m)
    return out


@dataclass(frozen=True)
class Readout:
    """A temperature the camera printed: its text (``"-23.2"``), unit (``"C"``/``"F"``), value in °C, and
    the box (x, y, w, h) of its unit sign."""

    text: str
    unit: str
    celsius: float
    box: tuple[int, int, int, int]


def find_readouts(rgb: np.ndarray, bar: ColorBar | None) -> list[Readout]:
    """Numbers printed directly before a "°C"/"°F" sign, outside the colour bar's labels (float RGB)."""
    if not ocr.tesseract_available():
        return []
    window = None if bar is None else ocr.label_window(bar, rgb.shape[:2])
    out: list[Readout] = []
    seen: set[tuple[int, int, int, int]] = set()
    for unit, box, letter_h, _light in ocr.unit_marks(rgb):
        if any(_inside(box, (x, y, x + w, y + h)) for x, y, w, h in seen):
            continue  # the same sign found on two ink masks
        seen.add(box)
        if window is not None and _inside(box, window):
            continue
        try:
            got = ocr.number_before(rgb, box, letter_h)
        except Exception:  # noqa: BLE001 - tesseract crashed or timed out: no read-out, no check
            continue
        if got is None or not got[0] or got[1] < ocr.END_CONF:
            continue
        value = float(got[0])
        out.append(Readout(got[0], unit, (value - 32.0) / 1.8 if unit == "F" else value, box))
    return out


def _inside(box: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> bool:
    """Whether the centre of ``box`` (x, y, w, h) lies in ``window`` (x0, y0, x1, y1)."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return window[0] <= cx < window[2] and window[1] <= cy < window[3]


#: least disagreement (°C) that counts: a read-out is printed to 0.1 °C and its spot lies within a pixel or
#: two of the marker's centre
TOL_MIN = 1.0
#: the decoding's own uncertainty, share of the printed span: the bar sampled at a few hundred pixels (<= 1 %),
#: JPEG colour noise (1-2 %), colours spread evenly in the detector's signal rather than in °C (<= 3 % over a
#: wide scale, see ``thermal.planck``); beyond this much the picture does not map temperature linearly
TOL_SPAN = 0.05
#: the spot's neighbourhood: a disc this many px (or the marker's central gap) around the centre; its 10th-90th
#: percentiles bound what the camera may have measured there, where the scene changes within a pixel or two
SPOT_RADIUS = 3
SPOT_LOW, SPOT_HIGH = 10, 90
#: how cameras draw a marker: black (channel max at most) and white (channel min at least), 0..1
STROKE_DARK, STROKE_LIGHT = 0.2, 0.8
#: fewest decoded pixels in the neighbourhood for a comparison
SPOT_MIN_PX = 5


def spot_values(temp: TemperatureMap, marker: Marker, rgb: np.ndarray) -> np.ndarray:
    """Decoded °C around the marker's centre, without the marker's own strokes: the disc of
    ``SPOT_RADIUS`` (or the central gap), grown up to twice that until it holds ``SPOT_MIN_PX`` pixels."""
    base = max(SPOT_RADIUS, marker.gap / 2)
    values = np.zeros(0, np.float32)
    for r in (base, 1.5 * base, 2 * base):
        values = _disc_values(temp, marker, rgb, r)
        if len(values) >= SPOT_MIN_PX:
            break
    return values


def _disc_values(temp: TemperatureMap, marker: Marker, rgb: np.ndarray, r: float) -> np.ndarray:
    """Valid decoded values within ``r`` px of the marker's centre, off its black and white strokes."""
    h, w = temp.values.shape
    x0, x1 = max(0, int(marker.x - r - 1)), min(w, int(marker.x + r + 2))
    y0, y1 = max(0, int(marker.y - r - 1)), min(h, int(marker.y + r + 2))
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disc = np.hypot(xx - marker.x, yy - marker.y) <= r
    # the marker's strokes (its ring, the arms' inner ends) are drawn black and white, blurred a pixel into
    # the scene around them
    patch = rgb[y0:y1, x0:x1]
    stroke = (chan_max(patch) <= STROKE_DARK) | (chan_min(patch) >= STROKE_LIGHT)
    ink = cv2.dilate(stroke.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    keep = disc & ~ink & temp.valid[y0:y1, x0:x1]
    return temp.values[y0:y1, x0:x1][keep]


def disagreement(temp: TemperatureMap, readout: Readout, values: np.ndarray) -> float | None:
    """How far (°C) the read-out lies outside what the decoded neighbourhood allows, or None when it agrees.

    The printed scale clips: a read-out beyond it is compared as the scale's end. A mark before the number
    may be a minus sign, a "~" or a "*": a negative read-out agrees when its unsigned value does.
    """
    lo, hi = temp.range  # type: ignore[misc]
    tol = max(TOL_MIN, TOL_SPAN * (hi - lo))
    low, high = np.percentile(values, [SPOT_LOW, SPOT_HIGH])
    worst = np.inf
    for v in {readout.celsius, _unsigned(readout)}:
        c = float(np.clip(v, lo, hi))
        off = max(low - c, c - high, 0.0)
        worst = min(worst, off)
    return None if worst <= tol else float(np.median(values))


def _unsigned(r: Readout) -> float:
    value = abs(float(r.text))
    return (value - 32.0) / 1.8 if r.unit == "F" else value


def checked(rgb: np.ndarray, bar: ColorBar | None, temp: TemperatureMap) -> TemperatureMap:
    """``temp`` as decoded, or relative with the reason when the camera's spot read-out contradicts it.

    Only a °C map is checked, and only where exactly one read-out and one marker are found.
    """
    if temp.unit != "C" or temp.range is None or temp.position is None:
        return temp
    found = find_readouts(rgb, bar)
    if len(found) != 1:
        return temp
    markers = find_markers(rgb, None if bar is None else ocr.label_window(bar, rgb.shape[:2]))
    if len(markers) != 1:
        return temp
    values = spot_values(temp, markers[0], rgb)
    if len(values) < SPOT_MIN_PX:
        return temp
    decoded = disagreement(temp, found[0], values)
    if decoded is None:
        return temp
    r = found[0]
    printed = f"{r.text} °{r.unit}" + (f" ({r.celsius:.1f} °C)" if r.unit == "F" else "")
    reason = (
        f"camera read-out {printed} at the spot marker, decoded {decoded:.1f} °C there: the picture does not "
        f"map temperature linearly onto its scale ({temp.range[0]:.1f}..{temp.range[1]:.1f} °C)"
    )
    return TemperatureMap(
        temp.position,
        "relative",
        temp.valid,
        "colorbar",
        reason,
        position=temp.position,
        decodable=temp.decodable,
        note=temp.note,
    )
