"""Saturated hot cores that the overlay search took for camera text are scene again: real pictures and a
labelled saturated spot in, the hot core out of the overlay and decoded at the top of the scale; camera
text, logos and measurement boxes, also over hot regions, stay overlay."""

from __future__ import annotations

import numpy as np

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis


def _given(a: ThermalAnalysis) -> np.ndarray:
    raw, _bar = a._ui
    return raw & ~a.overlay


def test_floor_heating_pipe_is_heat_not_text(flir_data):
    """FLIR's picture of a heated floor: the pipe's white core was masked as a camera stroke."""
    a = ThermalAnalysis(read_image(flir_data / "pictures" / "10_-_IR_Fussbodenheizung.png"))
    given = _given(a)
    assert given.sum() > 100
    temp = a.temperature
    # the given-back pixels read as temperatures near the top of the printed scale
    lo, hi = temp.range
    vals = temp.values[given & temp.valid]
    assert len(vals) > 0.8 * given.sum()
    assert np.median(vals) >= lo + 0.8 * (hi - lo), (np.median(vals), lo, hi)
    # the camera's labels, logo and bar are still overlay: the given-back pixels lie in the scene's middle
    ys, xs = np.nonzero(given)
    h, w = given.shape
    assert 0.1 * h < ys.min() and ys.max() < 0.9 * h and xs.max() < 0.8 * w


def test_measurement_boxes_over_a_hot_tank_stay_overlay(dev_data):
    """T1's white box corners and lines drawn across a hot region are UI: their ring is hot, but only
    partly, and they are thin."""
    for name in ("T1_faulty_005.jpg", "T1_faulty_020.jpg", "T1_faulty_033.jpg", "T1_normal_001.jpg"):
        a = ThermalAnalysis(read_image(dev_data / "T1" / name.split("_")[1] / name))
        assert not _given(a).any(), name


def test_saturated_spot_under_the_cameras_label_is_heat(dev_data):
    """T9's hot joint is a white saturated blob with the camera's temperature label above it and its
    crosshair drawn on it, all of which the overlay search masked: the blob's white body (at least the part
    the crosshair does not cut off from its hot rim) is scene again, at the top of the scale."""
    a = ThermalAnalysis(read_image(dev_data / "T9" / "faulty" / "T9_faulty_001.jpg"))
    given = _given(a)
    assert given.sum() > 500
    temp = a.temperature
    assert temp.valid[given].mean() > 0.9
    assert np.median(temp.position[given]) >= 0.95
    # all of it in one place: the blob (the label sits on it), not scattered over the picture's text
    ys, xs = np.nonzero(given)
    assert np.ptp(ys) < 0.1 * given.shape[0] and np.ptp(xs) < 0.1 * given.shape[1]
    # the blob's white and its rim (the overlay's own rim, given back with it): all at the hot end
    assert np.mean(temp.position[given] >= 0.8) > 0.9


def test_a_scale_that_cannot_be_read_leaves_the_overlay_as_found(dev_data, monkeypatch):
    """The give-back needs the palette; when reading the scale fails, the overlays are still there for the
    detector (the failure is reported where temperatures are used)."""
    import thermal_anomaly.thermal.analysis as analysis

    def broken(*_args, **_kwargs):
        raise RuntimeError("tesseract failed")

    monkeypatch.setattr(analysis, "picture_scale", broken)
    a = ThermalAnalysis(read_image(dev_data / "T9" / "faulty" / "T9_faulty_001.jpg"))
    raw, _bar = a._ui
    assert raw.any() and np.array_equal(a.overlay, raw)
