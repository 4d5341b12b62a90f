"""FLIR's own palettes (read from its cameras' files) decode a bare FLIR frame that the hand-made
approximations could not: real files and pictures in, palette names and decoded shares out."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.flir_palettes import TABLES
from thermal_anomaly.thermal.palette import PALETTES, fit_palette, palette_lut


def _table(name: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(TABLES[name]), np.uint8).reshape(-1, 3)


def test_tables_are_the_palettes_the_cameras_store(flir_data):
    flyr = pytest.importorskip("flyr")
    for name, fname in (("flir_iron", "FLIR_E40.jpg"), ("flir_rainbow_hc", "FLIR_AX8.jpg")):
        stored = np.asarray(flyr.unpack(str(flir_data / "radiometric" / fname)).palette.rgbs, np.uint8)
        assert np.array_equal(stored, _table(name)), name
    # the same vendor palette in another camera model's file (FLIR E-series and a fixed-mount FLIR)
    other = np.asarray(flyr.unpack(str(flir_data / "radiometric" / "11_-_IR_moving_car.jpg")).palette.rgbs)
    assert np.array_equal(other, _table("flir_iron"))


def test_lut_runs_cold_to_hot_through_the_table():
    lut = palette_lut("flir_iron")
    table = _table("flir_iron").astype(np.float32) / 255.0
    assert set(TABLES) <= set(PALETTES)
    np.testing.assert_allclose(lut[0], table[0], atol=1e-6)
    np.testing.assert_allclose(lut[-1], table[-1], atol=1e-6)
    # iron: dark cold end, near-white hot end
    assert lut[0].sum() < 0.3 and lut[-1].min() > 0.9


def test_bare_flir_frame_is_read_through_the_cameras_rainbow(dev_data):
    """A FLIR rainbow frame with its bar and overlays cropped away: the guess is FLIR's own rainbow, and the
    fault's colours are decoded (through the old nearest approximation, rainbow_hc, most were not)."""
    img = read_image(dev_data / "T1" / "faulty" / "T1_faulty_020.jpg")
    bare = np.ascontiguousarray(img[140:560, 60:560])  # inside the bar, the read-outs and the logo
    analysis = ThermalAnalysis(bare)
    assert analysis.bar is None
    assert analysis.scale.source == "palette:flir_rainbow"
    assert fit_palette(analysis.rgb, analysis.overlay)[0] == "flir_rainbow"
    assert float(np.asarray(analysis.temperature.valid).mean()) > 0.8
