"""One analysis per image: decoded once, the same scale for the detector and the report, raw data for FLIR JPEGs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly import create_detector
from thermal_anomaly.io import read_image
from thermal_anomaly.pipeline import Inspector
from thermal_anomaly.thermal import analysis as analysis_mod
from thermal_anomaly.thermal import temperature as temperature_mod
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.render import relative_temperature
from thermal_anomaly.thermal.temperature import signal_linear_celsius, temperature_map

T1 = "T1/normal/T1_normal_00{}.jpg"


@pytest.fixture(scope="module")
def t1_detector(dev_data):
    images = [read_image(dev_data / T1.format(i)) for i in (1, 2, 3)]
    return create_detector("patchcore").fit(images, groups=["T1"] * 3, progress=False)


def _count_calls(monkeypatch, module, name: str) -> list[int]:
    calls = [0]
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.slow
def test_predict_decodes_colours_and_reads_the_scale_once_per_image(
    dev_data, t1_detector, monkeypatch, tmp_path
):
    decodes = _count_calls(monkeypatch, analysis_mod, "decode_colours")
    readings = _count_calls(monkeypatch, temperature_mod, "read_scale")
    files = [dev_data / "T1/faulty/T1_faulty_001.jpg", dev_data / "T6/faulty/T6_faulty_001.jpg"]
    report = Inspector(t1_detector).predict(files, tmp_path, progress=False, pictures=False)
    assert len(report.results) == 2
    assert decodes[0] == 2  # the detector's heat evidence and the report's °C came from one decoding
    assert readings[0] == 2
    for r in report.results:
        assert r.temperature.unit == "C"


def test_detector_heat_evidence_is_the_report_scale_sampled(dev_data):
    a = ThermalAnalysis(read_image(dev_data / "T6/faulty/T6_faulty_001.jpg"))
    temp = a.temperature
    assert temp.unit == "C" and temp.range is not None
    pos, valid = a.relative(a.overlay)
    assert max(pos.shape) == analysis_mod.DECODE_SIDE
    # every valid evidence pixel is the °C map's pixel at the same place, on the same scale, same way round
    lo, hi = temp.range
    size = pos.shape[::-1]
    # the °C are the scale positions through the camera's signal-linear scale, hotter = higher position
    assert np.allclose(temp.values, signal_linear_celsius(temp.position, lo, hi), atol=1e-3)
    expected = cv2.resize(temp.position, size, interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(pos[valid], expected[valid])
    order = np.argsort(pos[valid])
    celsius = cv2.resize(temp.values, size, interpolation=cv2.INTER_NEAREST)[valid][order]
    assert np.all(np.diff(celsius) >= -1e-3)
    small_overlay = cv2.resize(a.overlay.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    assert small_overlay.any() and not valid[small_overlay].any()  # overlays are no evidence
    # the module-level helper gives the same for a picture
    pos2, valid2 = relative_temperature(a.rgb, a.overlay)
    assert np.array_equal(valid2, valid) and np.allclose(pos2[valid], pos[valid])


@pytest.mark.slow
def test_scores_are_the_same_from_an_analysis_or_from_pixels(dev_data, t1_detector):
    img = read_image(dev_data / "T1/faulty/T1_faulty_002.jpg")
    by_pixels = t1_detector.score([img], groups=["T1"])
    by_analysis = t1_detector.score([ThermalAnalysis(img)], groups=["T1"])
    assert by_pixels.pred_score[0] == pytest.approx(by_analysis.pred_score[0], rel=1e-6)
    assert np.allclose(by_pixels.anomaly_map[0], by_analysis.anomaly_map[0], atol=1e-6)


@pytest.mark.slow
def test_flir_jpeg_is_analysed_from_its_raw_data(flir_data, dev_data, t1_detector, tmp_path):
    import flyr

    path = flir_data / "radiometric" / "FLIR_T640.jpg"
    a = ThermalAnalysis.from_file(path)
    truth = flyr.unpack(str(path)).celsius
    assert a.radiometric and a.shape == truth.shape  # the sensor's size, not the picture's
    assert a.temperature.source == "radiometric"
    assert np.median(np.abs(a.temperature.values - truth)) < 0.1
    assert not a.overlay.any() and a.bar is None
    # the picture the detector sees is the field in the iron palette: hotter = brighter
    hot, cold = (
        np.unravel_index(np.argmax(truth), truth.shape),
        np.unravel_index(np.argmin(truth), truth.shape),
    )
    assert a.rgb[hot].sum() > a.rgb[cold].sum() + 1.0
    report = Inspector(t1_detector).predict([path], tmp_path, progress=False, pictures=False, save_maps=True)
    res = report.results[0]
    assert res.temperature.source == "radiometric"
    assert res.temperature.params["emissivity"] == pytest.approx(0.95)
    assert np.load(tmp_path / "FLIR_T640.jpg.anomaly_map.npy").shape == truth.shape
    from PIL import Image

    with Image.open(tmp_path / "FLIR_T640.jpg.temperature.tiff") as im:
        tiff = np.asarray(im)
    assert tiff.shape == truth.shape and np.nanmax(tiff) == pytest.approx(float(truth.max()), abs=0.01)


def test_temperature_map_of_a_picture_is_the_analysis_map(dev_data):
    img = read_image(dev_data / "T2/normal/T2_normal_001.png")
    a, b = temperature_map(img), ThermalAnalysis(img).temperature
    assert a.unit == b.unit and a.source == b.source
    assert np.array_equal(a.valid, b.valid) and np.array_equal(a.values, b.values)


def test_a_fahrenheit_scale_says_so_in_the_report(flir_data):
    from thermal_anomaly.report import temperature_block

    temp = ThermalAnalysis(read_image(flir_data / "pictures" / "15_-_Linear_load.png")).temperature
    block = temperature_block(temp).to_json()  # as the JSON says it
    assert block["unit"] == "C" and block["converted_from"] == "F"
    assert 25 < block["range"][0] < 40 and 60 < block["range"][1] < 90  # 88..171 °F printed
