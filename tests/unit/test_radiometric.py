"""Radiometric input: FLIR JPEG raw data (against flyr), overrides, fallbacks, DJI, and the temperature files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.export import save_temperature, temperature_json
from thermal_anomaly.thermal.palette import palette_lut
from thermal_anomaly.thermal.radiometric import RadiometricParams, read, render_celsius
from thermal_anomaly.thermal.temperature import TemperatureMap, temperature_map

K = 273.15


def _flir_files(flir_data: Path) -> list[Path]:
    files = sorted((flir_data / "radiometric").glob("*.jpg"))
    assert len(files) == 14
    return files


def _app_split(data: bytes) -> tuple[list[bytes], bytes]:
    """A JPEG's segments before the scan (each with marker and length) and the rest of the file."""
    segs, i = [], 2
    while data[i + 1] != 0xDA:
        size = int.from_bytes(data[i + 2 : i + 4], "big")
        segs.append(data[i : i + 2 + size])
        i += 2 + size
    return segs, data[i:]


def _app(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_flir_jpeg_matches_flyr_with_the_files_own_parameters(flir_data):
    flyr = pytest.importorskip("flyr")
    for path in _flir_files(flir_data):
        raw, why = read(path)
        assert raw is not None and why == "", path.name
        thermo = flyr.unpack(str(path))
        ref = thermo.celsius
        assert raw.celsius.dtype == np.float32 and raw.celsius.shape == ref.shape
        assert np.median(np.abs(raw.celsius - ref)) < 0.1, path.name
        assert np.nanmax(np.abs(raw.celsius - ref)) < 0.1, path.name
        md = thermo.metadata
        assert raw.params["emissivity"] == pytest.approx(md["emissivity"], abs=1e-6)
        assert raw.params["distance"] == pytest.approx(md["object_distance"], abs=1e-6)
        assert raw.params["humidity"] == pytest.approx(md["relative_humidity"], abs=1e-6)
        assert raw.params["reflected_temp"] == pytest.approx(
            md["reflected_apparent_temperature"] - K, abs=1e-3
        )
        assert raw.params["atmospheric_temp"] == pytest.approx(md["atmospheric_temperature"] - K, abs=1e-3)
    e40, _ = read(flir_data / "radiometric" / "FLIR_E40.jpg")
    assert e40.camera == "FLIR E40"
    # this file's own parameters are not the defaults, so a reader that ignored them would fail above
    assert e40.params["emissivity"] == pytest.approx(0.95) and e40.params["distance"] == pytest.approx(2.0)
    assert e40.params["atmospheric_temp"] == pytest.approx(13.99, abs=0.01)


def test_lower_emissivity_makes_a_scene_warmer_than_its_surroundings_hotter(flir_data):
    path = flir_data / "radiometric" / "FLIR_T640.jpg"  # 25..98 °C, reflected 20 °C
    base, _ = read(path)
    low, why = read(path, RadiometricParams(emissivity=0.7))
    assert why == "" and low.params["emissivity"] == pytest.approx(0.7)
    warm = base.celsius > base.params["reflected_temp"] + 2
    assert warm.mean() > 0.5
    assert (low.celsius[warm] > base.celsius[warm]).all()
    hot = base.celsius > 60  # the further above the reflected temperature, the bigger the correction
    assert np.median((low.celsius - base.celsius)[hot]) > np.median((low.celsius - base.celsius)[warm & ~hot])
    # a warmer reflected surrounding explains more of the radiance: the object is cooler
    refl, _ = read(path, RadiometricParams(reflected_temp=40.0))
    assert refl.params["reflected_temp"] == pytest.approx(40.0)
    assert np.median(refl.celsius - base.celsius) < -0.05


def test_overrides_equal_flyrs_own_recomputation(flir_data):
    flyr = pytest.importorskip("flyr")
    path = flir_data / "radiometric" / "14_-_Kujawy_wiatrak.jpg"
    p = RadiometricParams(
        emissivity=0.8, reflected_temp=5.0, distance=30.0, humidity=0.2, atmospheric_temp=10.0
    )
    ours, _ = read(path, p)
    ref = flyr.unpack(str(path)).adjust_metadata(
        emissivity=0.8,
        reflected_apparent_temperature=5.0 + K,
        object_distance=30.0,
        relative_humidity=0.2,
        atmospheric_temperature=10.0 + K,
    )
    ok = np.isfinite(ours.celsius)
    assert ok.mean() > 0.9
    assert np.abs(ours.celsius[ok] - ref.celsius[ok]).max() < 0.01
    assert ours.params["distance"] == 30.0 and ours.params["humidity"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    "bad",
    [
        {"emissivity": 0.0},
        {"emissivity": 1.2},
        {"humidity": 50.0},
        {"distance": -1.0},
        {"reflected_temp": -300},
    ],
)
def test_params_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        RadiometricParams(**bad)


def test_temperature_map_of_a_flir_jpeg_is_its_raw_data(flir_data):
    path = flir_data / "radiometric" / "FLIR_AX8.jpg"
    image = read_image(path)
    tm = temperature_map(image, path)
    assert tm.source == "radiometric" and tm.unit == "C" and tm.note == ""
    assert tm.values.shape == (60, 80) != image.shape[:2]  # the sensor's size, not the picture's
    assert tm.params["emissivity"] == pytest.approx(0.95) and tm.camera == "FLIR AX8"
    assert tm.valid.all() and tm.range == (float(tm.values.min()), float(tm.values.max()))


def test_flir_jpeg_with_truncated_raw_data_falls_back_to_the_picture(flir_data, tmp_path):
    src = (flir_data / "radiometric" / "FLIR_T640.jpg").read_bytes()
    segs, rest = _app_split(src)
    flir = [s for s in segs if s[4:9] == b"FLIR\x00"]
    assert len(flir) > 3
    # keep the first FLIR segments only: the raw-data record is cut short, the picture stays a valid JPEG
    keep = [s for s in segs if s[4:9] != b"FLIR\x00"] + flir[:2]
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(b"\xff\xd8" + b"".join(keep) + rest)
    raw, why = read(cut)
    assert raw is None and "radiometric data unreadable" in why and "decoded from the picture" in why
    image = read_image(cut)
    tm = temperature_map(image, cut)
    assert tm.source != "radiometric" and tm.values.shape == image.shape[:2]
    assert tm.note == why
    # a file cut anywhere never raises: the reader says why, or sees no FLIR data at all
    for frac in (0.02, 0.1, 0.3, 0.6):
        part = tmp_path / f"part{frac}.jpg"
        part.write_bytes(src[: int(len(src) * frac)])
        raw, why = read(part)
        assert raw is None and (why == "" or "unreadable" in why)


def _jpeg(make: str | None) -> bytes:
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[:, :, 0] = np.linspace(0, 255, 32, dtype=np.uint8)
    exif = Image.Exif()
    if make:
        exif[271] = make
        exif[272] = "ZH20T"
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _with_app3(data: bytes) -> bytes:
    """DJI R-JPEGs keep the raw 16-bit counts in APP3 segments right after the EXIF block."""
    segs, rest = _app_split(data)
    counts = np.full((8, 8), 3000, "<u2").tobytes()
    return b"\xff\xd8" + b"".join(segs) + _app(0xE3, counts) + _app(0xE3, counts) + rest


def test_dji_rjpeg_says_it_needs_djis_sdk_and_falls_back(tmp_path):
    dji = tmp_path / "DJI_0001_R.JPG"
    dji.write_bytes(_with_app3(_jpeg("DJI")))
    raw, why = read(dji)
    assert raw is None and "DJI" in why and "Thermal SDK" in why and "decoded from the picture" in why
    tm = temperature_map(read_image(dji), dji)
    assert tm.source != "radiometric" and tm.note == why
    # an ordinary DJI photo (no APP3 raw data) and another maker's file with APP3 are plain pictures
    photo = tmp_path / "DJI_0002.JPG"
    photo.write_bytes(_jpeg("DJI"))
    other = tmp_path / "other.jpg"
    other.write_bytes(_with_app3(_jpeg("Canon")))
    assert read(photo) == (None, "") and read(other) == (None, "")


def test_float_and_centikelvin_tiffs_are_read_as_before(tmp_path):
    temp = np.linspace(10, 60, 30 * 40, dtype=np.float32).reshape(30, 40)
    Image.fromarray(temp).save(tmp_path / "t.tif")
    Image.fromarray(np.round((temp + K) * 100).astype(np.uint16)).save(tmp_path / "ck.tif")
    for name in ("t.tif", "ck.tif"):
        raw, why = read(tmp_path / name)
        assert why == "" and raw.format == "tiff" and raw.params == {}
        assert np.abs(raw.celsius - temp).max() < 0.01
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(grey)
    assert read(grey) == (None, "")


def test_render_celsius_is_the_iron_palette_over_the_scenes_range():
    t = np.array([[10.0, 20.0], [30.0, np.nan]], np.float32)
    rgb = render_celsius(t)
    lut = palette_lut("iron")
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    np.testing.assert_allclose(rgb[0, 0], lut[0])
    np.testing.assert_allclose(rgb[1, 0], lut[-1])
    # the middle temperature sits below the middle colour: colours are spread evenly in signal, as a camera
    # spreads them (the signal grows faster than linearly with temperature)
    mid = int(np.argmin(np.abs(lut - rgb[0, 1]).sum(1)))
    assert 0.40 * (len(lut) - 1) < mid < 0.49 * (len(lut) - 1)
    np.testing.assert_allclose(rgb[1, 1], lut[0])  # not a temperature: the cold end
    # auto-range: a shifted scene looks nearly the same (the signal's curvature changes a little with it)
    assert np.abs(render_celsius(t + 50) - rgb).max() < 0.05


def test_temperature_tiff_reads_back_bit_for_bit_with_nan_where_invalid(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(30, 8, (17, 23)).astype(np.float32)
    valid = rng.random((17, 23)) > 0.2
    params = {"emissivity": 0.9, "reflected_temp": 20.0}
    tm = TemperatureMap(values, "C", valid, "radiometric", "", (1.5, 55.0), params=params, camera="FLIR E40")
    tiff, doc = save_temperature(tmp_path / "out", "sub/a.jpg", tm, "/data/sub/a.jpg")
    assert tiff == tmp_path / "out" / "sub" / "a.jpg.temperature.tiff"
    assert doc == tmp_path / "out" / "sub" / "a.jpg.temperature.json"
    with Image.open(tiff) as im:
        assert im.mode == "F" and im.size == (23, 17)
        back = np.asarray(im)
    assert back.dtype == np.float32
    assert np.array_equal(np.isnan(back), ~valid)
    assert back[valid].tobytes() == values[valid].tobytes()
    meta = json.loads(doc.read_text())
    assert meta == {
        "image": "/data/sub/a.jpg",
        "unit": "C",
        "source": "radiometric",
        "range": [1.5, 55.0],
        "reason": "",
        "size": [17, 23],
        "params": params,
        "camera": "FLIR E40",
    }
    assert not list((tmp_path / "out" / "sub").glob(".*"))  # no temporary files left


def test_temperature_json_of_a_relative_fallback_carries_reason_and_note():
    tm = TemperatureMap(
        np.zeros((4, 5), np.float32),
        "relative",
        np.ones((4, 5), bool),
        "palette:iron",
        "no colour bar found: palette guessed",
        note="FLIR radiometric data unreadable (x): decoded from the picture",
    )
    doc = temperature_json(tm, "a.jpg")
    assert doc["unit"] == "relative" and doc["range"] is None and doc["size"] == [4, 5]
    assert doc["reason"].startswith("no colour bar") and doc["note"].startswith("FLIR radiometric")
    assert "params" not in doc and "camera" not in doc
