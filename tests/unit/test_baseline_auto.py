"""``predict --baseline auto``: ``train`` records each asset's normal images in the model file, and each
image is compared with its own asset's, as if they had been given with ``--baseline``; a moved normal is
skipped with a warning, and a model without the record is a one-line error naming its file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import link_subset, run_cli
from thermal_anomaly import create_detector
from thermal_anomaly.detectors.persistence import read_model_file
from thermal_anomaly.errors import ModelError
from thermal_anomaly.io import read_image
from thermal_anomaly.pipeline import Inspector, train

T4_FAULTY = "T4/faulty/T4_faulty_001.png"
T1_FAULTY = "T1/faulty/T1_faulty_025.jpg"
NORMALS = ["T4/normal/T4_normal_001.png", "T4/normal/T4_normal_002.png", "T2/normal/T2_normal_001.png"]


@pytest.fixture(scope="module")
def trained(dev_data, tmp_path_factory) -> tuple[Path, Path]:
    """A small training folder (links: two T4 normals, one T2 normal, a T4 faulty image that is not
    learned from) and the model ``train`` fitted on it."""
    root = link_subset(dev_data, tmp_path_factory.mktemp("data"), [*NORMALS, T4_FAULTY])
    model = train(root, model="patchcore", out_dir=root.parent / "models", progress=False, img_size=128)
    return root, model


def _block(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())["baseline"]


def test_train_records_each_assets_normals(trained):
    root, model = trained
    assert read_model_file(model)["normals"] == {
        "T4": [str(root / NORMALS[0]), str(root / NORMALS[1])],
        "T2": [str(root / NORMALS[2])],
    }
    assert Inspector.load(model).recorded_normals()["T4"][0] == str(root / NORMALS[0])


def test_auto_is_the_assets_normals_given_explicitly(trained, dev_data, tmp_path):
    root, model = trained
    inspector = Inspector.load(model)
    images = [dev_data / T4_FAULTY, dev_data / T1_FAULTY]
    auto, given = tmp_path / "auto", tmp_path / "given"
    inspector.predict(images, auto, progress=False, pictures=False, asset_baselines=True)
    inspector.predict(images[:1], given, progress=False, pictures=False, baselines=[root / "T4/normal"])
    block = _block(auto, "T4_faulty_001.png")
    assert block["aligned"] and block["regions"]
    assert block == _block(given, "T4_faulty_001.png")
    other = _block(auto, "T1_faulty_025.jpg")  # T1 is no asset the model was trained on
    assert other["file"] is None and other["tried"] == []
    assert other["reason"].startswith("no recorded normal images")


def test_missing_normal_is_skipped_with_a_warning(trained, dev_data, tmp_path, caplog):
    _root, model = trained
    inspector = Inspector.load(model)
    gone = tmp_path / "moved" / "T4_normal_001.png"
    inspector.detector.normals_ = {"T4": [str(gone), *inspector.detector.normals_["T4"][1:]]}
    with caplog.at_level(logging.WARNING, logger="thermal_anomaly.baseline.reference"):
        inspector.predict([dev_data / T4_FAULTY], tmp_path / "out", progress=False, pictures=False)
        assert not caplog.records  # not asked: the record is not read
        inspector.predict(
            [dev_data / T4_FAULTY], tmp_path / "out", progress=False, pictures=False, asset_baselines=True
        )
    assert [r.getMessage() for r in caplog.records] == [
        f"warning: {gone}: recorded normal image of asset 'T4' not found; skipped"
    ]
    block = _block(tmp_path / "out", "T4_faulty_001.png")
    assert [t["file"] for t in block["tried"]] == [str(_root / NORMALS[1])]


def test_model_without_the_record_is_a_clear_error(dev_data, tmp_path):
    det = create_detector("patchcore", img_size=128)
    det.fit([read_image(dev_data / NORMALS[0])], groups=["T4"], progress=False)
    old = det.save(tmp_path / "old.pth")  # what train wrote before it recorded normals
    assert "normals" not in read_model_file(old)
    inspector = Inspector.load(old)  # still loads
    with pytest.raises(ModelError, match="old.pth: the model records no training normals"):
        inspector.predict([dev_data / T4_FAULTY], tmp_path / "out", progress=False, asset_baselines=True)
    out = tmp_path / "cli"
    res = run_cli(
        "predict",
        str(dev_data / T4_FAULTY),
        "--model-path",
        str(old),
        "--baseline",
        "auto",
        "--out",
        str(out),
    )
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith(f"error: {old}: the model records no training normals")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not out.exists() or not list(out.glob("*.json"))
