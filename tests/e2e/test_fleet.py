"""From one laptop to a fleet, on real development images: the exported backbone agrees with eager PyTorch
(`export`), a Ray cluster writes what one process writes (`predict --engine ray`), and a batch run again
skips the images it finished (`predict --resume`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import link_subset, run_cli
from thermal_anomaly import create_detector
from thermal_anomaly.pipeline import Inspector
from thermal_anomaly.thermal.analysis import ThermalAnalysis

pytestmark = pytest.mark.e2e

TRAIN = [f"T1/normal/T1_normal_00{i}.jpg" for i in (1, 2, 3)]
FAULTY = "T1/faulty/T1_faulty_021.jpg"  # flagged (score ~2.2 against a threshold ~1.4)
NORMAL = "T1/normal/T1_normal_006.jpg"  # not flagged, not trained on
OTHER = "T1/faulty/T1_faulty_001.jpg"
LAB = "T3/faulty/T3_faulty_001.png"  # another camera, size and palette (a lab screenshot)


@pytest.fixture(scope="module")
def model(dev_data, tmp_path_factory) -> Path:
    images = [ThermalAnalysis.from_file(dev_data / rel) for rel in TRAIN]
    det = create_detector("patchcore").fit(images, groups=["T1"] * len(images), progress=False)
    return det.save(tmp_path_factory.mktemp("model") / "patchcore.pth")


@pytest.fixture(scope="module")
def inputs(dev_data, tmp_path_factory) -> Path:
    return link_subset(dev_data, tmp_path_factory.mktemp("in"), [FAULTY, NORMAL, OTHER], with_masks=False)


@pytest.fixture(scope="module")
def local_out(model, inputs, tmp_path_factory) -> Path:
    """One process, as a user runs a short batch."""
    out = tmp_path_factory.mktemp("local")
    report = Inspector.load(model).predict([inputs], out, pictures=False, progress=False, workers=1)
    assert len(report.results) == 3 and not report.errors
    return out


def _jsons(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.json"))}


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_a_batch_runs_numpys_blas_on_one_thread_and_gives_the_callers_back(model, inputs, tmp_path):
    """OpenBLAS's pool spinning beside the analysis thread cost a third of a batch's time
    (``threads.one_blas_thread``); the caller's own setting is restored after the batch."""
    from threadpoolctl import threadpool_limits

    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        report = Inspector.load(model).predict(
            [inputs],
            tmp_path,
            pictures=False,
            progress=False,
            workers=1,
            on_result=lambda _res: seen.append(_blas_threads()),
        )
        after = _blas_threads()
    assert len(report.results) == 3 and seen == [{1}] * 3
    assert after == {2}


def test_fitting_runs_numpys_blas_on_one_thread(dev_data, monkeypatch):
    """``Detector.fit`` holds BLAS to one thread too (the Python API, not only ``train``), and gives the
    caller's setting back."""
    from threadpoolctl import threadpool_limits

    det = create_detector("patchcore")
    seen = []
    prepare = det.prepare

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return prepare(*args, **kwargs)

    monkeypatch.setattr(det, "prepare", spy)
    images = [ThermalAnalysis.from_file(dev_data / rel) for rel in TRAIN]
    with threadpool_limits(limits=2, user_api="blas"):
        det.fit(images, groups=["T1"] * len(images), progress=False)
        after = _blas_threads()
    assert seen and all(s == {1} for s in seen) and after == {2}


# ---------------------------------------------------------------------------------------------- export
def test_exported_backbone_gives_the_maps_and_decisions_of_eager_pytorch(model, dev_data, tmp_path):
    import onnxruntime

    from thermal_anomaly.onnx_export import MAP_TOLERANCE, export_model

    res = export_model(model, tmp_path, [dev_data / FAULTY, dev_data / NORMAL, dev_data / LAB])
    parity = json.loads(res.parity_path.read_text())
    assert parity["passed"] and parity["n_images"] == 3 and parity["errors"] == []
    assert parity["map_max_abs_diff"] <= MAP_TOLERANCE == 1e-4  # measured ~1e-6
    assert parity["decisions_identical"] and parity["regions_identical"]
    rows = {r["image"]: r for r in parity["images"]}
    # both outcomes are covered: a flagged picture and a normal one, each the same on both engines
    assert rows[Path(FAULTY).name]["anomalous_torch"] and rows[Path(FAULTY).name]["anomalous_onnxruntime"]
    assert not rows[Path(NORMAL).name]["anomalous_torch"]
    assert not rows[Path(NORMAL).name]["anomalous_onnxruntime"]
    for r in rows.values():
        assert abs(r["score_torch"] - r["score_onnxruntime"]) < 1e-5

    # the file is what its JSON says, and runs on its own in ONNX Runtime
    spec = json.loads(res.spec_path.read_text())
    graph = res.onnx_path.read_bytes()
    assert spec["sha256"] == hashlib.sha256(graph).hexdigest()
    assert spec["inputs"][0]["shape"] == ["batch", 3, 256, 256] and "127" in spec["inputs"][0]["scaling"]
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((2, 3, 256, 256), dtype=np.float32)
    outs = session.run(None, {"x": (x * 255 - 127) / 128})
    assert [list(o.shape) for o in outs] == [[2, *o["shape"][1:]] for o in spec["outputs"]]
    from thermal_anomaly.backbones import FeatureExtractor

    eager = FeatureExtractor("efficientnet-lite0", ("stage2", "stage4"), engine="torch")(torch.from_numpy(x))
    for o, (name, f) in zip(outs, eager.items(), strict=True):
        assert np.abs(o - f.numpy()).max() <= 1e-4 * float(f.abs().max()), name


def test_export_of_a_missing_image_is_one_line_and_writes_nothing(model, tmp_path):
    res = run_cli(
        "export", "--model-path", str(model), "--out", str(tmp_path / "x"), str(tmp_path / "no.jpg")
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"error: {tmp_path / 'no.jpg'}: no such file or folder"
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------- resume
def test_resume_skips_complete_images_and_redoes_the_rest(model, inputs, local_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(local_out, out)  # copy2: the files keep their times
    inspector = Inspector.load(model)
    redone: list[str] = []

    def run(**kw):
        return inspector.predict(
            [inputs],
            out,
            pictures=False,
            progress=False,
            resume=True,
            on_result=lambda r: redone.append(r.name),
            **kw,
        )

    report = run()
    assert redone == [] and len(report.results) == 3  # all complete: read back, nothing predicted
    assert _jsons(out) == _jsons(local_out)  # the summary built from the JSONs read back is the same
    (out / f"{FAULTY}.json").unlink()  # interrupted before this image's JSON
    report = run()
    assert redone == [FAULTY]  # only it is predicted again; results and summary in input order
    assert [r.name for r in report.results] == sorted([FAULTY, NORMAL, OTHER])
    assert _jsons(out) == _jsons(local_out)
    redone.clear()
    run(save_maps=True)  # maps asked for now: none are there, every image is predicted again
    assert sorted(redone) == sorted([FAULTY, NORMAL, OTHER])


# ---------------------------------------------------------------------------------------------- ray
@pytest.mark.slow
def test_ray_cluster_of_two_workers_writes_what_one_process_writes(model, inputs, local_out, tmp_path):
    """The first task's worker dies (fault injection): Ray retries the task and the outputs are still byte
    for byte those of the one-process run."""
    ray = pytest.importorskip("ray")
    from thermal_anomaly.distributed import CRASH_ONCE_ENV

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        runtime_env={"env_vars": {CRASH_ONCE_ENV: str(crashed)}},
    )
    try:
        out = tmp_path / "ray"
        report = Inspector.load(model).predict([inputs], out, pictures=False, progress=False, engine="ray")
    finally:
        ray.shutdown()
    assert len(report.results) == 3 and not report.errors
    assert (crashed / "crashed").exists()  # a worker died mid-task, and its image was done all the same
    assert _jsons(out) == _jsons(local_out)  # each image's JSON and summary.json, byte for byte
    assert (out / "summary.md").read_bytes() == (local_out / "summary.md").read_bytes()


def test_a_worker_killed_mid_batch_is_survived_and_the_image_that_kills_it_reported(
    model, inputs, local_out, tmp_path, monkeypatch
):
    """`predict --workers 2`: one worker is killed once (as the out-of-memory killer does) and one image kills
    its worker every time. The batch goes on: the image killed once is done all the same, the other is that
    image's error (and a result of an earlier run of it dropped), and the summary is written."""
    from thermal_anomaly.worker_pool import CRASH_ONCE_ENV, DIE_ON_ENV

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    monkeypatch.setenv(CRASH_ONCE_ENV, str(crashed))
    monkeypatch.setenv(DIE_ON_ENV, OTHER)
    out = tmp_path / "out"
    stale = out / f"{OTHER}.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    report = Inspector.load(model).predict([inputs], out, pictures=False, progress=False, workers=2)
    assert (crashed / "crashed").exists()  # a worker did die mid-image
    assert sorted(r.name for r in report.results) == sorted([FAULTY, NORMAL])
    assert [p for p, _ in report.errors] == [str(inputs / OTHER)]
    error = json.loads((out / f"{OTHER}.error.json").read_text())["error"]
    assert "worker process predicting it died" in error and not stale.exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == 3 and summary["n_scored"] == 2 and summary["n_errors"] == 1
    for rel in (FAULTY, NORMAL):  # what the one-process run decided
        one = json.loads((local_out / f"{rel}.json").read_text())
        two = json.loads((out / f"{rel}.json").read_text())
        assert two["is_anomalous"] == one["is_anomalous"] and two["severity"] == one["severity"]
        assert two["score"] == pytest.approx(one["score"], rel=1e-3)


def _break_scoring_of(monkeypatch, name: str) -> None:
    """Scoring ``name`` raises what no check of the tool foresaw (a bug met on one image)."""
    from thermal_anomaly.detectors.base import Detector

    score = Detector.score

    def broken(self, images, *args, **kwargs):
        if any(str(getattr(a, "path", "")).endswith(name) for a in images):
            raise IndexError("index 7 is out of bounds")
        return score(self, images, *args, **kwargs)

    monkeypatch.setattr(Detector, "score", broken)


def test_a_bug_met_on_one_image_is_its_error_and_the_batch_goes_on(model, inputs, tmp_path, monkeypatch):
    """A fleet batch must not end on one image: an exception no check foresaw becomes that image's error
    file (type, message, "a bug"), the other images are scored, and a result of an earlier run of that
    image is dropped (it no longer stands)."""
    inspector = Inspector.load(model)
    stale = tmp_path / f"{FAULTY}.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    _break_scoring_of(monkeypatch, Path(FAULTY).name)
    report = inspector.predict([inputs], tmp_path, pictures=False, progress=False, workers=1)
    assert sorted(r.name for r in report.results) == sorted([NORMAL, OTHER])
    assert [p for p, _ in report.errors] == [str(inputs / FAULTY)]
    error = json.loads((tmp_path / f"{FAULTY}.error.json").read_text())["error"]
    assert "unexpected IndexError" in error and "index 7 is out of bounds" in error and "a bug" in error
    assert not stale.exists()
    assert report.summary["n_errors"] == 1 and report.summary["n_images"] == 3
    # the worker processes' step (``_worker_predict``, also what a Ray task runs) reports it the same way
    from thermal_anomaly import pipeline
    from thermal_anomaly.baseline.reference import BaselineSet

    opts = pipeline._ImageOptions(None, None, False, False, (), None)
    monkeypatch.setattr(
        pipeline,
        "_WORKER",
        {
            "inspector": inspector,
            "out": tmp_path,
            "opts": opts,
            "params": None,
            "references": BaselineSet([]),
        },
    )
    assert "unexpected IndexError" in pipeline._worker_predict((inputs / FAULTY, FAULTY, ("T1", "faulty")))


def test_with_the_debug_switch_a_bug_met_on_one_image_raises(model, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("THERMAL_ANOMALY_DEBUG", "1")
    _break_scoring_of(monkeypatch, Path(FAULTY).name)
    with pytest.raises(IndexError, match="out of bounds"):
        Inspector.load(model).predict([inputs], tmp_path, pictures=False, progress=False, workers=1)


def test_a_bug_met_on_one_image_of_an_evaluation_is_listed_and_the_rest_scored(
    model, inputs, tmp_path, monkeypatch
):
    """``test`` reads labelled images as pixels (no path to break on): the first one scored meets the bug."""
    from thermal_anomaly.detectors.base import Detector

    score, calls = Detector.score, []

    def broken(self, images, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IndexError("index 7 is out of bounds")
        return score(self, images, *args, **kwargs)

    monkeypatch.setattr(Detector, "score", broken)
    metrics = Inspector.load(model).test(inputs, tmp_path, progress=False, save_pictures=False)
    assert metrics["n_images"] == 2 and metrics["n_errors"] == 1
    (error,) = metrics["errors"]
    assert error["image"] == str(inputs / OTHER) and "unexpected IndexError" in error["error"]
    assert json.loads((tmp_path / "metrics.json").read_text())["n_errors"] == 1
