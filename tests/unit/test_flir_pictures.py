"""Colour bars of real FLIR pictures (no metadata) read back to °C, checked against the cameras' raw data.

Layout families: a bottom bar with integer end labels beside it and a °F read-out, a right bar with integer
end labels in boxes, a right bar with boxed labels and minus signs, a right bar whose decimal labels are in
boxes. The data are read in place (``flir_data``), the tests skip when they are absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.ocr import (
    ScaleReading,
    _in_celsius,
    _with_punctuation,
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
def test_fahrenheit_picture_decodes_to_raw_celsius(flir_data):
    """The °F picture's decoded map matches the raw data's °C within 1 °C (median, inside the scale)."""
    flyr = pytest.importorskip("flyr")
    import cv2

    from thermal_anomaly.thermal.temperature import temperature_map

    name = "15_-_Linear_load"
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
