"""Scale positions and °C through the detector's signal: a round trip, the curve's direction, real cameras."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.thermal.planck import PLANCK_B, signal_linear_celsius, signal_position


def test_positions_and_celsius_are_inverse_and_the_ends_are_the_printed_values():
    t = np.linspace(-40.0, 150.0, 200)
    pos = signal_position(t, -40.0, 150.0)
    assert pos[0] == 0.0 and pos[-1] == 1.0 and np.all(np.diff(pos) > 0)
    assert np.abs(signal_linear_celsius(pos, -40.0, 150.0) - t).max() < 1e-3


def test_the_middle_colour_is_warmer_than_the_middle_temperature_on_a_wide_scale():
    # the signal grows faster than linearly with temperature: half-way in signal is past half-way in °C
    mid = float(signal_linear_celsius(np.array([0.5]), 28.0, 58.0)[0])
    assert 43.0 + 0.5 < mid < 43.0 + 2.5
    # on a narrow scale the two agree
    assert float(signal_linear_celsius(np.array([0.5]), 22.0, 26.0)[0]) == pytest.approx(24.0, abs=0.05)
    assert 1300 < PLANCK_B < 1550  # the B the FLIR cameras of the radiometric data set store


def test_a_wide_scale_picture_decodes_to_its_raw_data(flir_data):
    import cv2
    import flyr

    from thermal_anomaly.io import read_image
    from thermal_anomaly.thermal.temperature import temperature_map

    tm = temperature_map(read_image(flir_data / "pictures" / "15_-_Linear_load.png"))
    assert tm.unit == "C" and tm.converted_from == "F"
    raw = flyr.unpack(str(flir_data / "radiometric" / "15_-_Linear_load.jpg")).celsius
    truth = cv2.resize(raw, tm.values.shape[::-1])
    lo, hi = tm.range
    inside = tm.valid & (truth >= lo) & (truth <= hi)
    assert np.median(np.abs(tm.values - truth)[inside]) < 0.45  # 0.53 °C read evenly in temperature
