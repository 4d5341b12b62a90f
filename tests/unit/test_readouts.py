"""The camera's spot read-out against the decoded map at its marker (``thermal.readouts``).

Real FLIR pictures (``flir_data``, read in place; skipped when absent): a camera whose display is not linear
(14_-_Kujawy_wiatrak: "-23.2 °C" at the crosshair, decoded ~-20 °C there) becomes relative with the reason; a
camera whose read-out agrees (10_-_IR_Fussbodenheizung: "21.1 °C") keeps its °C. Synthetic crosshairs and maps
pin down the marker finder and the tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal import readouts
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.ocr import tesseract_available
from thermal_anomaly.thermal.palette import as_rgb_float
from thermal_anomaly.thermal.temperature import TemperatureMap, decode_colours

needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract not installed")


def _picture(flir_data, name: str) -> np.ndarray:
    return as_rgb_float(read_image(flir_data / "pictures" / f"{name}.png"))


@needs_tesseract
def test_readout_contradicting_the_decoded_map_makes_it_relative(flir_data):
    temp = ThermalAnalysis.from_file(flir_data / "pictures" / "14_-_Kujawy_wiatrak.png").temperature
    assert temp.unit == "relative"
    assert temp.range is None
    assert "camera read-out -23.2 °C at the spot marker" in temp.reason
    assert "not map temperature linearly" in temp.reason
    assert temp.position is not None and np.nanmax(temp.values) <= 1.0  # relative 0..1, as other relatives


@needs_tesseract
def test_agreeing_readout_keeps_celsius(flir_data):
    rgb = _picture(flir_data, "10_-_IR_Fussbodenheizung")
    a = ThermalAnalysis(rgb)
    found = readouts.find_readouts(rgb, a.bar)
    assert [(r.text, r.unit) for r in found] == [("21.1", "C")]
    temp = a.temperature
    assert temp.unit == "C" and temp.reason == ""
    assert temp.range == pytest.approx((17.0, 25.0), abs=0.05)


@needs_tesseract
def test_fahrenheit_readout_is_converted(flir_data):
    rgb = _picture(flir_data, "15_-_Linear_load")
    found = readouts.find_readouts(rgb, ThermalAnalysis(rgb).bar)
    assert [(r.text, r.unit) for r in found] == [("187", "F")]
    assert found[0].celsius == pytest.approx((187 - 32) / 1.8)


def test_crosshair_with_a_gap_found_anywhere(flir_data):
    rgb = _picture(flir_data, "14_-_Kujawy_wiatrak")
    (m,) = readouts.find_markers(rgb)
    h, w = rgb.shape[:2]
    assert abs(m.x - w / 2) <= 1.5 and abs(m.y - h / 2) <= 1.5  # this camera draws it at the centre
    # the same marker drawn elsewhere on a smooth scene: found there (no place is assumed)
    img = np.dstack([np.tile(np.linspace(0.2, 0.6, 200, dtype=np.float32), (150, 1))] * 3)
    cx, cy, arm, gap = 61, 97, 12, 3
    img[cy - 1 : cy + 1, cx - gap - arm : cx - gap] = 0.0
    img[cy - 1 : cy + 1, cx + gap : cx + gap + arm] = 0.0
    img[cy - gap - arm : cy - gap, cx - 1 : cx + 1] = 0.0
    img[cy + gap : cy + gap + arm, cx - 1 : cx + 1] = 0.0
    (m,) = readouts.find_markers(img)
    assert abs(m.x - (cx - 0.5)) <= 1.0 and abs(m.y - (cy - 0.5)) <= 1.0


def test_letters_and_box_corners_are_no_marker():
    img = np.full((120, 160, 3), 0.4, np.float32)
    img[20:22, 10:60] = 1.0  # a T: a bar with a stem below only
    img[20:50, 34:36] = 1.0
    img[70:72, 80:120] = 1.0  # an L-shaped box corner
    img[70:110, 80:82] = 1.0
    assert readouts.find_markers(img) == []


def _map(value: float, lo: float = 0.0, hi: float = 40.0) -> TemperatureMap:
    values = np.full((30, 30), value, np.float32)
    ok = np.ones_like(values, bool)
    return TemperatureMap(values, "C", ok, "colorbar+ocr", "", (lo, hi), position=values / hi, decodable=ok)


def _readout(text: str, unit: str = "C") -> readouts.Readout:
    v = float(text)
    return readouts.Readout(text, unit, (v - 32) / 1.8 if unit == "F" else v, (0, 0, 5, 5))


@pytest.mark.parametrize(
    ("decoded", "text", "agrees"),
    [
        (20.0, "21.9", True),  # within 5 % of the 40 °C span
        (20.0, "22.5", False),
        (40.0, "55.0", True),  # beyond the printed scale: the picture clips at its hot end
        (24.1, "-24.1", True),  # a "~" or "*" before the number read as a minus
        (10.0, "-23.2", False),
    ],
)
def test_tolerance_clipping_and_sign(decoded, text, agrees):
    temp = _map(decoded)
    values = temp.values.ravel()
    assert (readouts.disagreement(temp, _readout(text), values) is None) == agrees


def test_ocr_failure_means_no_check(flir_data, monkeypatch):
    rgb = _picture(flir_data, "14_-_Kujawy_wiatrak")
    a = ThermalAnalysis(rgb)
    temp = decode_colours(a.rgb, a.overlay, a.bar, a.scale)

    def broken(*_a, **_k):
        raise OSError("tesseract engine stopped")

    monkeypatch.setattr(readouts.ocr, "number_before", broken)
    assert readouts.checked(rgb, a.bar, temp) is temp
