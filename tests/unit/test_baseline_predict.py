"""``predict`` with baselines on real development images: the comparison's block and picture, and nothing
else changed; a baseline that does not align or cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from thermal_anomaly import create_detector
from thermal_anomaly.baseline.reference import against_references, load_references
from thermal_anomaly.errors import DataError
from thermal_anomaly.io import read_image
from thermal_anomaly.pipeline import Inspector
from thermal_anomaly.thermal.analysis import ThermalAnalysis

T4_FAULTY = "T4/faulty/T4_faulty_001.png"
T1_FAULTY = "T1/faulty/T1_faulty_025.jpg"


@pytest.fixture(scope="module")
def inspector(dev_data) -> Inspector:
    det = create_detector("patchcore")
    det.fit([read_image(dev_data / "T4/normal/T4_normal_001.png")], groups=["T4"], progress=False)
    return Inspector(det)


@pytest.fixture(scope="module")
def runs(inspector, dev_data, tmp_path_factory) -> tuple[Path, Path]:
    """The same two images predicted without and with the T4 normals as baselines."""
    images = [dev_data / T4_FAULTY, dev_data / T1_FAULTY]
    plain, based = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("based")
    inspector.predict(images, plain, progress=False)
    inspector.predict(images, based, progress=False, baselines=[dev_data / "T4/normal"])
    return plain, based


def _doc(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def test_aligned_baseline_gives_rises_findings_and_picture(runs, dev_data):
    plain, based = runs
    block = _doc(based, "T4_faulty_001.png")["baseline"]
    assert block["aligned"] and block["reason"] == ""
    assert Path(block["file"]).parent == dev_data / "T4/normal"
    assert block["unit"] == "C" and block["registration"]["inliers"] >= 20
    assert block["regions"], "the faulty lab picture warmed against its normal"
    top = block["regions"][0]
    assert top["max_rise"] > 3 and top["severity"] in ("probable deficiency", "major")
    assert top["finding"].startswith(f"since baseline {Path(block['file']).name}: +")
    assert top["finding"].endswith(" °C")
    assert [t["file"] for t in block["tried"]] == [
        str(dev_data / f"T4/normal/T4_normal_00{i}.png") for i in (1, 2)
    ]
    assert (based / "T4_faulty_001.png.baseline.png").stat().st_size > 10_000
    assert not (plain / "T4_faulty_001.png.baseline.png").exists()


def test_everything_but_the_block_is_what_a_run_without_baselines_writes(runs):
    plain, based = runs
    for name in ("T4_faulty_001.png", "T1_faulty_025.jpg"):
        doc = _doc(based, name)
        doc.pop("baseline")
        assert doc == _doc(plain, name)
        assert "baseline" not in _doc(plain, name)


def test_other_transformer_is_not_aligned_and_says_why(runs):
    _plain, based = runs
    block = _doc(based, "T1_faulty_025.jpg")["baseline"]
    assert not block["aligned"] and block["file"] is None
    assert block["reason"].startswith("no baseline aligned: T4_normal_001.png: ")
    assert all(not t["aligned"] and t["reason"] for t in block["tried"])
    assert not (based / "T1_faulty_025.jpg.baseline.png").exists()


def test_the_inspection_itself_is_no_baseline(dev_data):
    path = dev_data / T4_FAULTY
    outcome = against_references(ThermalAnalysis.from_file(path), load_references([path]), path)
    assert not outcome.aligned
    assert outcome.to_json()["tried"][0]["reason"] == "the inspection itself"


def test_unreadable_baseline_stops_before_scoring(tmp_path, dev_data, inspector):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_references([bad])
    with pytest.raises(DataError, match="missing.png: baseline: no such file"):
        load_references([tmp_path / "missing.png"])
    model = inspector.detector.save(tmp_path / "m.pth")
    out = tmp_path / "out"
    res = run_cli(
        "predict",
        str(dev_data / T4_FAULTY),
        "--model-path",
        str(model),
        "--baseline",
        str(bad),
        "--out",
        str(out),
    )
    assert res.returncode == 1
    assert res.stderr.startswith("error: baseline ") and "broken.png" in res.stderr
    assert "Traceback" not in res.stderr and not list(out.glob("*.json"))


def test_the_camera_display_is_no_rise(dev_data):
    """The FLIR logo's letters the overlay detection misses are drawn alike in both T1 shots while the scene
    moved: they must not be compared with the scene (they were a +22 °C region)."""
    path = dev_data / T1_FAULTY
    refs = load_references([dev_data / "T1/normal/T1_normal_002.jpg"])
    outcome = against_references(ThermalAnalysis.from_file(path), refs, path)
    assert outcome.aligned
    regions = outcome.comparison.regions
    assert regions and all(not (r.box[0] > 480 and r.box[3] < 100) for r in regions)  # logo: top right
    assert regions[0].max_rise < 15
    warm = outcome.comparison.warming()
    assert warm.shape == (640, 640) and warm.max() == pytest.approx(regions[0].max_rise, abs=0.01)
