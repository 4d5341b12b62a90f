"""Registration to a baseline and the point-by-point comparison, on real dev images re-shot synthetically."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.baseline.comparison import compare
from thermal_anomaly.baseline.registration import (
    Registration,
    corner_error,
    implausible,
    register,
    reshoot,
)
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.palette import palette_lut


def _motion(shape: tuple[int, int], shift=(0.08, -0.05), degrees=5.0, scale=1.06) -> np.ndarray:
    """Baseline px → re-shot px: rotation and zoom about the centre, then a shift (share of the side)."""
    h, w = shape
    a = np.deg2rad(degrees)
    centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    rot = np.array(
        [[scale * np.cos(a), -scale * np.sin(a), 0], [scale * np.sin(a), scale * np.cos(a), 0], [0, 0, 1]]
    )
    move = np.array([[1, 0, shift[0] * w], [0, 1, shift[1] * h], [0, 0, 1]])
    return move @ centre @ rot @ np.linalg.inv(centre)


@pytest.fixture(scope="module")
def t1(dev_data) -> ThermalAnalysis:
    """FLIR picture with a burned-in display (logo, bar, read-out, crosshair) and a read °C scale."""
    return ThermalAnalysis.from_file(dev_data / "T1" / "normal" / "T1_normal_002.jpg")


@pytest.fixture(scope="module")
def t1_shot(t1) -> tuple[ThermalAnalysis, np.ndarray]:
    truth = _motion(t1.shape)
    return ThermalAnalysis(reshoot(t1, truth, palette_lut("iron"))), truth


@pytest.fixture(scope="module")
def t1_registration(t1, t1_shot) -> Registration:
    return register(t1_shot[0], t1)


def test_known_warp_and_palette_change_recovered_within_2px(t1, t1_shot, t1_registration):
    shot, truth = t1_shot
    assert shot.temperature.unit == "C"  # the repainted bar still reads as °C
    reg = t1_registration
    assert reg.aligned, reg.reason
    assert reg.inliers >= 50 and reg.inlier_ratio > 0.3
    err = corner_error(reg, np.linalg.inv(truth))
    assert err.max() <= 2.0, err


def test_known_warp_of_a_small_lab_picture(dev_data):
    base = ThermalAnalysis.from_file(dev_data / "T4" / "normal" / "T4_normal_001.png")
    truth = _motion(base.shape, shift=(-0.1, 0.06), degrees=-7.0, scale=0.92)
    reg = register(ThermalAnalysis(reshoot(base, truth, palette_lut("lava"))), base)
    assert reg.aligned, reg.reason
    assert corner_error(reg, np.linalg.inv(truth)).max() <= 2.0


def test_different_transformers_are_not_aligned(dev_data, t1):
    other = ThermalAnalysis.from_file(dev_data / "T8" / "normal" / "T8_normal_001.jpg")
    for a, b in ((other, t1), (t1, other)):
        reg = register(a, b)
        assert not reg.aligned
        assert reg.homography is None
        assert reg.reason
    cmp = compare(other, t1, reg)
    assert not cmp.ok and cmp.reason.startswith("not aligned")


def test_implausible_homographies_are_named():
    shape = (480, 640)
    assert "scale" in implausible(np.diag([3.0, 3.0, 1.0]), shape)
    assert "shear" in implausible(np.array([[1.0, 0.8, 0], [0, 1, 0], [0, 0, 1]]), shape)
    centre = np.array([[1.0, 0, 320], [0, 1, 240], [0, 0, 1]])
    tilt = centre @ np.array([[1.0, 0, 0], [0, 1, 0], [0.001, 0, 1]]) @ np.linalg.inv(centre)
    assert "perspective" in implausible(tilt, shape)
    assert implausible(np.eye(3), shape) == ""


def test_own_warped_copy_has_no_difference(t1, t1_shot, t1_registration):
    shot, _ = t1_shot
    cmp = compare(shot, t1, t1_registration)
    assert cmp.ok, cmp.reason
    assert cmp.unit == "C"
    assert abs(cmp.offset) < 0.3
    d = cmp.difference[np.isfinite(cmp.difference)]
    assert cmp.compared > 0.5
    assert np.median(np.abs(d)) < 0.3
    assert all(r.max_rise < 4 for r in cmp.regions), [r.to_dict() for r in cmp.regions]


def test_added_blob_is_found_with_its_rise(t1, t1_shot, t1_registration):
    shot, _ = t1_shot
    warmer = ThermalAnalysis(shot.rgb)
    temp = warmer.temperature
    h, w = shot.shape
    cy, cx = int(h * 0.6), int(w * 0.55)
    yy, xx = np.mgrid[0:h, 0:w]
    blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= 12**2
    temp.values = temp.values + 3.0  # a warmer day: taken out by the median correction
    temp.values[blob & temp.valid] += 10.0
    cmp = compare(warmer, t1, t1_registration)
    assert cmp.ok, cmp.reason
    assert abs(cmp.offset - 3.0) < 0.3
    hits = [r for r in cmp.regions if r.box[0] <= cx < r.box[2] and r.box[1] <= cy < r.box[3]]
    assert len(hits) == 1
    r = hits[0]
    assert 9.0 <= r.max_rise <= 11.5
    assert 8.0 <= r.mean_rise <= 10.5
    assert r.severity == "probable deficiency"
    assert r is cmp.regions[0]
    assert np.pi * 12**2 * 0.6 <= r.area <= np.pi * 14**2


def test_units_must_agree(t1, t1_shot, t1_registration):
    shot, _ = t1_shot
    relative = ThermalAnalysis(shot.rgb)
    relative.temperature.unit = "relative"
    cmp = compare(relative, t1, t1_registration)
    assert not cmp.ok and "units differ" in cmp.reason


def test_real_pairs_of_one_transformer_align(dev_data, t1):
    """Two real re-shots: a lab transformer under another load (T4), and T1's blurry view a step aside."""
    base = ThermalAnalysis.from_file(dev_data / "T4" / "normal" / "T4_normal_001.png")
    insp = ThermalAnalysis.from_file(dev_data / "T4" / "faulty" / "T4_faulty_001.png")
    reg = register(insp, base)
    assert reg.aligned, reg.reason
    assert reg.inliers >= 50 and reg.correlation > 0.9
    cmp = compare(insp, base, reg)
    assert cmp.ok and cmp.unit == "C" and cmp.regions  # the faulty shot's windings run warmer
    other = ThermalAnalysis.from_file(dev_data / "T1" / "normal" / "T1_normal_001.jpg")
    reg = register(t1, other)
    assert reg.aligned, reg.reason
    shift = reg.homography @ np.array([320.0, 320.0, 1.0])
    assert np.linalg.norm(shift[:2] / shift[2] - 320) > 20  # a real step aside, not the static display
