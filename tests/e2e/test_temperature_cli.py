"""`thermal-anomaly temperature` end to end: real FLIR radiometric JPEGs, a picture, a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTRACT = {"image", "unit", "source", "range", "reason", "size"}


def _tiff(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "F"
        return np.asarray(im)


@pytest.fixture()
def inputs(flir_data, tmp_path) -> Path:
    """A folder with two FLIR JPEGs (one in a subfolder), a metadata-free picture and a non-image."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "FLIR_E40.jpg").symlink_to(flir_data / "radiometric" / "FLIR_E40.jpg")
    (root / "sub" / "FLIR_AX8.jpg").symlink_to(flir_data / "radiometric" / "FLIR_AX8.jpg")
    (root / "FLIR_E40.png").symlink_to(flir_data / "pictures" / "FLIR_E40.png")
    (root / "notes.jpg").write_text("not a picture")
    return root


def test_temperature_writes_tiff_and_json_per_image_and_fails_only_the_bad_file(inputs, tmp_path):
    out = tmp_path / "out"
    res = run_cli("temperature", "--out", str(out), str(inputs))
    assert res.returncode == 1, res.stderr
    assert "notes.jpg" in res.stderr
    err = json.loads((out / "notes.jpg.error.json").read_text())
    assert err["image"].endswith("notes.jpg") and err["error"]
    assert not (out / "notes.jpg.temperature.tiff").exists()

    for name, size, camera in (
        ("FLIR_E40.jpg", [120, 160], "FLIR E40"),
        ("sub/FLIR_AX8.jpg", [60, 80], "FLIR AX8"),
    ):
        meta = json.loads((out / f"{name}.temperature.json").read_text())
        assert CONTRACT <= meta.keys()
        assert meta["unit"] == "C" and meta["source"] == "radiometric" and meta["reason"] == ""
        assert meta["size"] == size and meta["camera"] == camera  # the raw sensor's size, not the picture's
        assert meta["params"]["emissivity"] == pytest.approx(0.95)
        values = _tiff(out / f"{name}.temperature.tiff")
        assert list(values.shape) == size and np.isfinite(values).all()
        assert meta["range"] == pytest.approx([float(values.min()), float(values.max())])
        assert 10 < float(np.median(values)) < 40  # indoor scenes
        assert name in res.stdout

    pic = json.loads((out / "FLIR_E40.png.temperature.json").read_text())
    assert CONTRACT <= pic.keys() and pic["source"] != "radiometric" and "params" not in pic
    assert pic["unit"] in ("C", "relative") and pic["size"] == [240, 320]
    values = _tiff(out / "FLIR_E40.png.temperature.tiff")
    assert (
        values.shape == (240, 320) and np.isnan(values).any()
    )  # the burned-in overlays are not temperatures
    if pic["unit"] == "relative":
        assert pic["reason"] and np.nanmax(values) <= 1.0


def test_emissivity_override_reaches_the_files(flir_data, tmp_path):
    src = flir_data / "radiometric" / "FLIR_E40.jpg"
    base, low = tmp_path / "base", tmp_path / "low"
    assert run_cli("temperature", "--out", str(base), str(src)).returncode == 0
    res = run_cli("temperature", "--out", str(low), "--emissivity", "0.6", "--distance", "5", str(src))
    assert res.returncode == 0, res.stderr
    meta = json.loads((low / "FLIR_E40.jpg.temperature.json").read_text())
    assert meta["params"]["emissivity"] == pytest.approx(0.6) and meta["params"]["distance"] == 5.0
    a, b = _tiff(base / "FLIR_E40.jpg.temperature.tiff"), _tiff(low / "FLIR_E40.jpg.temperature.tiff")
    warm = a > 22  # warmer than the file's 21 °C reflected temperature: lower emissivity reads hotter
    assert warm.any() and (b[warm] > a[warm]).all()


def test_bad_override_is_a_usage_error(flir_data, tmp_path):
    res = run_cli("temperature", "--out", str(tmp_path), "--humidity", "50", str(flir_data / "radiometric"))
    assert res.returncode == 2 and "humidity" in res.stderr
    assert not list(tmp_path.iterdir())
