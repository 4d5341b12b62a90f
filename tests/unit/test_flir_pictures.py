"""Colour bars of real FLIR pictures (no metadata) read back to °C, checked against the cameras' raw data.

Layout families: a bottom bar with integer end labels beside it and a °F read-out, a right bar with integer
end labels in boxes, a right bar with boxed labels and minus signs, a right bar whose decimal labels are in
boxes. The data are read in place (``flir_data``), the tests skip when they are absent.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.ocr import (
    ScaleReading,
    _in_celsius,
    _with_punctuation,
    find_words,
    printed_units,
    read_scale,
    tesseract_available,
)
from thermal_anomaly.thermal.palette import as_rgb_float

needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract not installed")


def _reading(flir_data, name: str) -> tuple[ScaleReading | None, str]:
    rgb = as_rgb_float(read_image(flir_data / "pictures" / f"{name}.png"))
    bar = find_colorbar(rgb)
    assert bar is not None
    return read_scale(rgb, bar)


@needs_tesseract
@pytest.mark.parametrize(
    ("name", "top_or_left", "bottom_or_right", "unit"),
    [
        ("01_-_200_deg_neutral", 90.0, 161.0, "F"),  # bottom bar, "90 [bar] 161", 136 °F read-out
        ("10_-_IR_Fussbodenheizung", 25.0, 17.0, "C"),  # right bar, integer labels in boxes
        ("14_-_Kujawy_wiatrak", -0.2, -40.0, "C"),  # boxed labels, 1-px minus signs
        ("FLIR8565", 26.4, 22.3, "C"),  # boxed decimals whose dot splits the digits
        # bottom bar, "9 [bar] 33" °F: a lone digit left; right, a scene shape above the end is nearer than "33"
        ("05_-_Aqua_Tower_thermal_image", 9.0, 33.0, "F"),
    ],
)
def test_printed_scale_read_in_celsius(flir_data, name, top_or_left, bottom_or_right, unit):
    reading, why = _reading(flir_data, name)
    assert reading is not None, why
    assert reading.printed_unit == unit

    def c(v: float) -> float:
        return (v - 32.0) / 1.8 if unit == "F" else v

    assert reading.start == pytest.approx(c(top_or_left), abs=0.05)
    assert reading.stop == pytest.approx(c(bottom_or_right), abs=0.05)


@needs_tesseract
@pytest.mark.parametrize("name", ["15_-_Linear_load", "05_-_Aqua_Tower_thermal_image"])
def test_fahrenheit_picture_decodes_to_raw_celsius(flir_data, name):
    """The °F picture's decoded map matches the raw data's °C within 1 °C (median, inside the scale)."""
    flyr = pytest.importorskip("flyr")
    import cv2

    from thermal_anomaly.thermal.temperature import temperature_map

    img = read_image(flir_data / "pictures" / f"{name}.png")
    tm = temperature_map(img)
    assert tm.unit == "C", tm.reason
    raw = np.asarray(flyr.unpack(str(flir_data / "radiometric" / f"{name}.jpg")).celsius, np.float32)
    truth = cv2.resize(raw, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    lo, hi = tm.range
    m = tm.valid & (truth >= lo) & (truth <= hi)
    assert m.sum() > 10000
    assert np.median(np.abs(tm.values[m] - truth[m])) <= 1.0


def test_printed_units_from_glyph_shapes(flir_data):
    assert printed_units(read_image(flir_data / "pictures" / "01_-_200_deg_neutral.png")) == {"F"}
    assert printed_units(read_image(flir_data / "pictures" / "FLIR_T640.png")) == {"F"}
    assert printed_units(read_image(flir_data / "pictures" / "10_-_IR_Fussbodenheizung.png")) == {"C"}
    assert printed_units(read_image(flir_data / "pictures" / "FLIR.png")) == set()  # no read-out at all


def test_both_units_printed_is_not_trusted():
    r = ScaleReading(start=100.0, stop=50.0, n_labels=2, labels=((0.0, 100.0), (1.0, 50.0)))
    assert _in_celsius(r, {"C"}) == (r, "")
    got, why = _in_celsius(r, {"F"})
    assert got is not None and got.printed_unit == "F"
    assert got.start == pytest.approx(37.78, abs=0.01) and got.labels[1][1] == pytest.approx(10.0)
    got, why = _in_celsius(r, {"C", "F"})
    assert got is None and "both" in why


def test_punctuation_joins_dot_and_flags_minus_but_not_tick_columns():
    # "26" and "4" with a 2-px dot between them on the baseline: one word "26.4"
    words = _with_punctuation([[10, 10, 26, 20], [30, 10, 36, 20]], np.array([[27, 18, 2, 2]]))
    assert words == [[10, 10, 36, 20, 0]]
    # a dash before one word is a minus sign
    words = _with_punctuation([[10, 10, 30, 22]], np.array([[4, 15, 5, 1]]))
    assert words[0][4] == 1
    # the same dash before every label of a column is a tick mark
    boxes = [[10, y, 30, y + 12] for y in (0, 40, 80, 120)]
    dashes = np.array([[4, y + 5, 5, 1] for y in (0, 40, 80, 120)])
    assert all(b[4] == 0 for b in _with_punctuation(boxes, dashes))


def _label_with_dash(dash_rgb: tuple[int, int, int]) -> list:
    """White "23.2" over a dark blue scene, a 2-px dash of ``dash_rgb`` at mid-height just before it; the
    light (white text) views of the words ``find_words`` finds there."""
    img = np.zeros((40, 120, 3), np.uint8)
    img[:] = (20, 40, 160)
    cv2.putText(img, "23.2", (30, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    img[19:21, 18:26] = dash_rgb
    lo, hi = np.ascontiguousarray(img.min(axis=2)), np.ascontiguousarray(img.max(axis=2))
    return [v for w in find_words(lo, hi, 15, (False, 20.0)) for v in (w, *w.alts) if v.light]


def test_minus_sign_is_of_its_numbers_ink():
    # white digits, white dash: "-23.2"
    (word,) = _label_with_dash((255, 255, 255))
    assert word.minus
    # the same dash in yellow (scene texture beside plain white text over the scene) is no minus sign: it had
    # turned a drawn "23.2 °C" bar end into -23.2 °C
    (word,) = _label_with_dash((250, 220, 40))
    assert not word.minus
    # the rule itself: the dash's strongest ink against the word's
    box, dash = [[10, 10, 30, 22]], np.array([[4, 15, 5, 1]])
    assert _with_punctuation(box, dash, None, (np.array([250.0]), np.array([240.0])))[0][4] == 1
    assert _with_punctuation(box, dash, None, (np.array([60.0]), np.array([240.0])))[0][4] == 0


def test_bar_flush_with_the_frame_edge_is_found(flir_data):
    """17's bar runs along the picture's right edge (no pixels beyond it) between two dark end boxes."""
    rgb = as_rgb_float(read_image(flir_data / "pictures" / "17_-_Solar_halo_thermal.png"))
    bar = find_colorbar(rgb)
    assert bar is not None and bar.orientation == "vertical"
    assert bar.box[2] == rgb.shape[1]  # flush with the right edge
    assert bar.extent[1] - bar.extent[0] >= 0.55 * rgb.shape[0]


@needs_tesseract
def test_flush_bar_scale_read(flir_data):
    reading, why = _reading(flir_data, "17_-_Solar_halo_thermal")
    assert reading is not None, why
    assert reading.start == pytest.approx(0.0, abs=0.5)
    assert reading.stop == pytest.approx(-32.0, abs=0.5)


def _iron_scene(h: int = 240, w: int = 320) -> np.ndarray:
    from thermal_anomaly.thermal.palette import palette_lut

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = np.clip(0.5 + 0.3 * np.sin(xx / 37.0) * np.cos(yy / 29.0) + 0.1 * np.sin(yy / 11.0), 0, 1)
    lut = palette_lut("iron")
    return (lut[np.round(f * (len(lut) - 1)).astype(int)] * 255).astype(np.uint8)


def test_flush_bar_synthetic_and_scene_edges():
    """A drawn bar flush with the frame's edge is found; scene running out at the frame's edge is no bar."""
    from thermal_anomaly.thermal.palette import palette_lut

    scene = _iron_scene()
    assert find_colorbar(scene) is None
    lut = palette_lut("iron")
    img = scene.copy()
    y0, y1 = 45, 200
    ramp = lut[np.round(np.linspace(1.0, 0.0, y1 - y0) * (len(lut) - 1)).astype(int)]
    img[y0:y1, 311] = 0  # the bar's outline
    img[y0:y1, 312:] = (ramp[:, None, :] * 255).astype(np.uint8)
    bar = find_colorbar(img)
    assert bar is not None and bar.orientation == "vertical"
    assert bar.box[2] == img.shape[1] and abs(bar.extent[0] - y0) <= 3 and abs(bar.extent[1] - y1) <= 3
    # the same bar drawn with a margin of scene beyond it (and so its end value printed above it, the evidence
    # left to it) is found as before, not the margin strip
    wide = np.concatenate([img, np.repeat(scene[:, -12:], 1, axis=1)], axis=1)
    wide[y0:y1, 320] = 0
    cv2.putText(wide, "38", (304, y0 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    bar = find_colorbar(wide)
    assert bar is not None and bar.box[2] <= 321


@needs_tesseract
def test_end_label_on_textured_picture_in_picture_is_read(flir_data):
    """05's "33" is printed in 1-px strokes on a grey picture-in-picture whose texture touches them: the
    digits stand out far more than the texture and are taken apart from it."""
    from thermal_anomaly.thermal.ocr import _normalised, _ocr, _select, _window, _words
    from thermal_anomaly.thermal.palette import chan_max, chan_min

    rgb = as_rgb_float(read_image(flir_data / "pictures" / "05_-_Aqua_Tower_thermal_image.png"))
    bar = find_colorbar(rgb)
    assert bar is not None and bar.orientation == "horizontal"
    win = _window(bar, rgb.shape[:2])
    wx0, wy0, wx1, wy1, e0, e1 = win
    crop = (rgb[wy0:wy1, wx0:wx1] * 255.0 + 0.5).astype(np.uint8)
    lo, hi = chan_min(crop), chan_max(crop)
    k = int(np.clip((e1 - e0) / 25, 9, 41)) | 1
    ends, _inside = _select(_words(lo, hi, k, (False, (bar.box[1] + bar.box[3]) / 2 - wy0)), bar, win)
    right = [w for w in ends if w.cx + wx0 > e1]
    texts = [t for t, _c in _ocr([_normalised(lo, hi, w, 38) for w in right])]
    assert "33" in texts
