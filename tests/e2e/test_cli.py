"""The command line end to end on real development images, bad input included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import link_subset, run_cli
from thermal_anomaly.report import KNOWN_SEVERITIES, severity_rank

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NORMALS = [f"T1/normal/T1_normal_00{i}.jpg" for i in (1, 2, 3, 4, 5)] + ["T2/normal/T2_normal_001.png"]
FAULTY = ["T1/faulty/T1_faulty_043.jpg", "T1/faulty/T1_faulty_044.jpg", "T2/faulty/T2_faulty_002.png.png"]


@pytest.fixture(scope="module")
def small_data(dev_data, tmp_path_factory) -> Path:
    return link_subset(dev_data, tmp_path_factory.mktemp("data"), NORMALS + FAULTY)


@pytest.fixture(scope="module")
def ae_model(small_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    res = run_cli(
        "train",
        "--data",
        str(small_data),
        "--model",
        "autoencoder",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--img-size",
        "128",
        "--batch-size",
        "4",
    )
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert Path(last) == out / "best_model.pth"
    return Path(last)


def test_train_writes_best_final_and_loss_curve(ae_model):
    out = ae_model.parent
    for name in ("best_model.pth", "final_model.pth", "training_loss.png"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*tmp*"))


def test_test_command_writes_pictures_scores_and_metrics(ae_model, small_data, tmp_path):
    res = run_cli("test", "--model-path", str(ae_model), "--data", str(small_data), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("image_auroc", "image_f1", "pixel_auroc", "pixel_aupro", "pixel_iou"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["n_normal"] == len(NORMALS) and metrics["n_faulty"] == len(FAULTY)
    rows = (tmp_path / "scores.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(NORMALS) + len(FAULTY)
    panel = tmp_path / "T2/faulty/T2_faulty_002_result.png"
    assert panel.exists() and Image.open(panel).size[0] > Image.open(panel).size[1]
    mask = np.asarray(Image.open(tmp_path / "T1/faulty/T1_faulty_043_mask.png"))
    assert mask.shape == (640, 640) and set(np.unique(mask)) <= {0, 255}
    assert (tmp_path / "error_analysis.png").exists()
    assert "normal" in res.stdout and "faulty" in res.stdout  # the per-category table


def test_predict_goes_on_past_bad_files(ae_model, dev_data, tmp_path):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "a.jpg").symlink_to(dev_data / "T1/faulty/T1_faulty_043.jpg")
    (inputs / "sub" / "b.png").symlink_to(dev_data / "T3/normal/T3_normal_001.png")
    data = (dev_data / "T1/normal/T1_normal_006.jpg").read_bytes()
    (inputs / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (inputs / "notes.png").write_text("this is not an image\n")
    out = tmp_path / "out"
    res = run_cli(
        "predict",
        "--model-path",
        str(ae_model),
        "--out",
        str(out),
        "--save-maps",
        "--no-pictures",
        str(inputs),
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "truncated.jpg" in res.stderr and "notes.png" in res.stderr
    for name, shape in (("a.jpg", (640, 640)), ("sub/b.png", Image.open(inputs / "sub/b.png").size[::-1])):
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["image"].endswith(name) and doc["model"] == "autoencoder"
        assert isinstance(doc["score"], float) and doc["is_anomalous"] == (doc["score"] >= doc["threshold"])
        for r in doc["regions"]:
            x0, y0, x1, y1 = r["box"]
            assert 0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0] and r["area"] > 0
        amap = np.load(out / f"{name}.anomaly_map.npy")
        assert amap.dtype == np.float32 and amap.shape == shape
        mask = np.asarray(Image.open(out / f"{name}.mask.png"))
        assert mask.shape == shape and set(np.unique(mask)) <= {0, 255}
        assert np.isclose(amap.max(), doc["score"], rtol=0.05)
    for bad in ("truncated.jpg", "notes.png"):
        err = json.loads((out / f"{bad}.error.json").read_text())
        assert bad in err["error"]
        assert not (out / f"{bad}.json").exists()


def test_predict_a_file_given_directly_is_named_by_its_file_name(ae_model, dev_data, tmp_path):
    link = tmp_path / "renamed.png"
    link.symlink_to(dev_data / "T2/faulty/T2_faulty_002.png.png")
    out = tmp_path / "o"
    (out / "renamed.png.panel.png").parent.mkdir()
    (out / "renamed.png.panel.png").write_bytes(b"stale picture of an earlier run")
    res = run_cli("predict", "--model-path", str(ae_model), "--out", str(out), "--no-pictures", str(link))
    assert res.returncode == 0, res.stderr
    assert (out / "renamed.png.json").exists()
    assert not list(out.glob("*.png"))  # no pictures asked: none written, a stale one removed


REPORT_IMAGES = [
    "T1/faulty/T1_faulty_043.jpg",
    "T4/faulty/T4_faulty_001.png",
    "T2/faulty/T2_faulty_002.png.png",
]


def test_predict_reports_temperatures_pictures_and_worst_first(ae_model, dev_data, tmp_path):
    inputs = link_subset(dev_data, tmp_path / "in", REPORT_IMAGES, with_masks=False)
    out = tmp_path / "out"
    # a low threshold so every image has learned regions to rate (the 2-epoch model is weak)
    res = run_cli(
        "predict", "--model-path", str(ae_model), "--out", str(out), "--threshold", "0.8", str(inputs)
    )
    assert res.returncode == 0, res.stderr
    known = set(KNOWN_SEVERITIES)
    for rel in REPORT_IMAGES:
        w, h = Image.open(dev_data / rel).size
        doc = json.loads((out / f"{rel}.json").read_text())
        temp = doc["temperature"]
        assert temp["unit"] in ("C", "relative") and temp["source"]
        if temp["unit"] == "C":
            lo, hi = temp["range"]
            assert -40 <= lo < hi <= 1500
        assert doc["severity"] in known and doc["hotspot_severity"] in known
        assert doc["regions"], rel
        for r in doc["regions"]:
            x0, y0, x1, y1 = r["box"]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert r["severity"] in known and r["unit"] == temp["unit"] and isinstance(r["fault_type"], str)
            assert r["max_temp"] is None or r["max_temp"] >= r["mean_temp"]
            if r["hotspot_ids"]:  # rated by a hot spot: a real rise over its reference
                assert r["delta_t"] > 0 and r["reference"] in ("similar", "local")
                assert r["severity"] != "none" and r["fault_type"] != "unknown"
            else:
                assert r["severity"] == "none" and r["delta_t"] is None
        # a flagged image's severity is its worst finding's: learned region or hot spot
        rated = doc["regions"] + (doc["hotspots"] if doc["is_anomalous"] else [])
        worst = max((severity_rank(r["severity"]) for r in rated), default=0)
        assert severity_rank(doc["severity"]) == worst
        assert severity_rank(doc["severity"]) == severity_rank(
            doc["findings"][0]["severity"] if rated else None
        )
        for hs in doc["hotspots"]:
            x0, y0, x1, y1 = hs["box"]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and hs["unit"] == temp["unit"]
            assert hs["in_learned_region"] == bool(hs["region_ids"])
        annotated = Image.open(out / f"{rel}.annotated.png")
        assert annotated.size == (w, h)
        original = np.asarray(Image.open(dev_data / rel).convert("RGB"), np.int16)
        assert np.abs(np.asarray(annotated.convert("RGB"), np.int16) - original).max() > 100  # boxes drawn
        pw, ph = Image.open(out / f"{rel}.panel.png").size
        assert pw > ph > 300
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_scored"] == len(REPORT_IMAGES) == sum(summary["severity_counts"].values())
    keys = [(-severity_rank(f["severity"]), -f["score"]) for f in summary["flagged"]]
    assert keys == sorted(keys) and summary["n_flagged"] == len(summary["flagged"]) > 0
    md = (out / "summary.md").read_text()
    positions = [md.index(Path(f["image"]).name) for f in summary["flagged"]]
    assert positions == sorted(positions)
    assert "worst first" in res.stdout and Path(summary["flagged"][0]["image"]).name in res.stdout


@pytest.mark.parametrize("content", [b"", b"garbage bytes", None])
def test_bad_model_file_is_one_clear_line(tmp_path, dev_data, content):
    model = tmp_path / "model.pth"
    if content is not None:
        model.write_bytes(content)
    res = run_cli(
        "predict",
        "--model-path",
        str(model),
        "--out",
        str(tmp_path / "o"),
        str(dev_data / "T1/normal/T1_normal_001.jpg"),
    )
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "model.pth" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_training_on_a_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "normal").mkdir(parents=True)
    (tmp_path / "empty" / "normal" / "readme.txt").write_text("no images here")
    res = run_cli(
        "train", "--data", str(tmp_path / "empty"), "--model", "autoencoder", "--out", str(tmp_path / "m")
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and "no images" in res.stderr


def test_training_leaves_out_unreadable_normals_and_names_them(dev_data, tmp_path):
    """2,000 normals with one corrupt file are still learned from: the file is named, the model records
    only the images it learned; a folder whose normals are all unreadable is a clear error."""
    data = link_subset(dev_data, tmp_path / "d", [f"T1/normal/T1_normal_00{i}.jpg" for i in (1, 2)])
    normal = data / "T1" / "normal"
    (normal / "empty.jpg").write_bytes(b"")
    whole = (dev_data / "T1/normal/T1_normal_003.jpg").read_bytes()
    (normal / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    res = run_cli("train", "--data", str(data), "--out", str(tmp_path / "m"))
    assert res.returncode == 0 and "Traceback" not in res.stderr
    warned = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: left out of training:")]
    assert len(warned) == 2 and any("empty.jpg" in w for w in warned) and any("cut.jpg" in w for w in warned)
    model = Path(res.stdout.strip().splitlines()[-1])
    from thermal_anomaly.pipeline import Inspector

    learned = sorted(Path(p).name for ps in Inspector.load(model).recorded_normals().values() for p in ps)
    assert learned == ["T1_normal_001.jpg", "T1_normal_002.jpg"]

    bad = tmp_path / "bad" / "normal"
    bad.mkdir(parents=True)
    (bad / "empty.jpg").write_bytes(b"")
    res = run_cli("train", "--data", str(tmp_path / "bad"), "--out", str(tmp_path / "m2"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "none of its 1 normal images can be read" in res.stderr
