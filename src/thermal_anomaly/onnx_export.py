"""``thermal-anomaly export``: the model's fixed tensor program as an ONNX file, what it expects, and proof
that it gives what eager PyTorch gives.

The fixed tensor program of a backbone detector (PatchCore, PaDiM) is its pretrained backbone up to the
deepest tap it uses, at the model's working size: exactly the graph the ONNX Runtime engine runs (see
:func:`thermal_anomaly.backbones.taps_graph`). Everything after it depends on the image (overlay masking,
heat evidence, the memory-bank search, calibration, outlines) and stays Python. The parity report scores
real images twice through the whole detector, once with the backbone in eager PyTorch and once with *the
written file* on ONNX Runtime, and compares what a user sees: the anomaly maps (max abs difference), the
scores and the decisions. (Not to be confused with :mod:`thermal_anomaly.thermal.export`, which writes
temperature maps.)
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .backbones import (
    ONNX_OPSET,
    TAP_STRIDES,
    VARIANTS,
    FeatureExtractor,
    load_backbone,
    onnxruntime_available,
    taps_graph,
)
from .detectors import Detector, load_detector
from .errors import DataError, ModelError, ThermalAnomalyError
from .io import atomic_path, write_json

#: largest max abs difference of the anomaly maps (normalised: 1.0 is a normal image's typical peak) that
#: passes; float rounding gives ~1e-6 on images the model was not fitted on
MAP_TOLERANCE = 1e-4
GRAPH_FILE = "backbone.onnx"
SPEC_FILE = "backbone.json"
PARITY_FILE = "parity.json"


@dataclass
class ExportResult:
    """Where the files went, and the parity verdict (the ``parity.json`` dict)."""

    onnx_path: Path
    spec_path: Path
    parity_path: Path
    parity: dict

    @property
    def passed(self) -> bool:
        return bool(self.parity["passed"])


def _backbone_of(detector: Detector, model_path: Path) -> tuple[str, tuple[str, ...]]:
    """The detector's backbone name and taps; ModelError naming the file when it has none."""
    backbone, layers = getattr(detector, "backbone", None), getattr(detector, "layers", None)
    if backbone not in VARIANTS or not layers or not hasattr(detector, "_extractors"):
        raise ModelError(
            f"{model_path}: a {detector.name} model has no pretrained backbone to export "
            "(export supports the backbone detectors: patchcore, padim)"
        )
    return str(backbone), tuple(str(n) for n in layers)


def graph_spec(
    detector: Detector, model_path: Path, graph: bytes, backbone: str, layers: tuple[str, ...]
) -> dict:
    """What the graph expects and returns, and what runs around it (the ``backbone.json`` dict)."""
    import onnxruntime

    s = detector.img_size
    channels = {
        n: int(f.shape[1]) for n, f in load_backbone(backbone).taps(torch.zeros(1, 3, 32, 32), layers).items()
    }
    return {
        "file": GRAPH_FILE,
        "sha256": hashlib.sha256(graph).hexdigest(),
        "model_file": str(model_path),
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "detector": detector.name,
        "backbone": backbone,
        "weights_package": VARIANTS[backbone].package.replace("_", "-"),
        "opset": ONNX_OPSET,
        "producer": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "inputs": [
            {
                "name": "x",
                "dtype": "float32",
                "shape": ["batch", 3, s, s],
                "layout": "NCHW, channels R, G, B",
                "scaling": "x = (255 * v - 127) / 128 (TensorFlow-style; v is the pixel in [0, 1])",
                "preprocessing": (
                    f"the image as RGB in [0, 1], resized to {s}x{s} with area averaging "
                    "(cv2.INTER_AREA), aspect ratio not kept; camera overlays (logos, text, colour bar) "
                    "filled from the scene around them first (thermal_anomaly.detectors.base.prepare)"
                ),
            }
        ],
        "outputs": [
            {
                "name": n,
                "dtype": "float32",
                "shape": ["batch", channels[n], -(-s // TAP_STRIDES[n]), -(-s // TAP_STRIDES[n])],
                "stride": TAP_STRIDES[n],
            }
            for n in layers
        ],
        "fixed_size": "TF 'SAME' padding is computed for this input size at export: other sizes need "
        "another export",
        "outside_the_graph": [
            "overlay detection and filling, colour decoding and heat evidence (per image, not tensors)",
            "3x3 neighbourhood averaging of the taps and the concatenation on one grid (embed_taps)",
            "nearest-neighbour distance to the memory bank (PatchCore) or Mahalanobis distance (PaDiM)",
            "heat fusion, smoothing, per-asset calibration, threshold, outlines, temperatures",
        ],
    }


class _Recorder:
    """An extractor that keeps what it returned and how long it took (the detector's own backbone pass is
    the one compared and timed: no second pass per engine)."""

    def __init__(self, extractor: FeatureExtractor) -> None:
        self.extractor = extractor
        self.feats: list[dict[str, torch.Tensor]] = []
        self.seconds: list[float] = []

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        t0 = time.perf_counter()
        feats = self.extractor(x)
        self.seconds.append(time.perf_counter() - t0)
        self.feats.append(feats)
        return feats

    def __getattr__(self, name: str):
        return getattr(self.extractor, name)


def _image_items(images: Sequence[str | os.PathLike]) -> list[tuple[Path, str, tuple[str, ...]]]:
    from .pipeline import collect_inputs

    items = collect_inputs(images)
    if not items:
        raise DataError(f"{', '.join(map(str, images))}: no images to check parity on")
    return items


def check_parity(
    detector: Detector,
    graph: bytes,
    images: Sequence[str | os.PathLike],
    *,
    progress: bool = False,
) -> dict:
    """Score each image with the backbone in eager PyTorch and with ``graph`` on ONNX Runtime (same
    detector, same analysis of the image, same threads); compare maps, scores, decisions and regions."""
    from tqdm.auto import tqdm

    from .pipeline import Inspector
    from .thermal.analysis import ThermalAnalysis

    backbone, layers = _backbone_of(detector, Path("<model>"))
    s = detector.img_size
    engines = {
        "torch": _Recorder(FeatureExtractor(backbone, layers, engine="torch")),
        "onnxruntime": _Recorder(
            FeatureExtractor(backbone, layers, engine="onnxruntime", graphs={(s, s): graph})
        ),
    }
    engines["onnxruntime"].extractor(torch.zeros(1, 3, s, s))  # its session is made once: not timed
    inspector = Inspector(detector)
    saved = detector._extractors.get(None)
    rows, errors = [], []
    try:
        for path, name, parts in tqdm(_image_items(images), desc="parity", disable=not progress):
            try:
                analysis = ThermalAnalysis.from_file(path).prefetch()
            except ThermalAnomalyError as exc:
                errors.append({"image": str(path), "error": str(exc)})
                continue
            group = inspector.infer_group(parts)
            preds, feats = {}, {}
            for engine, recorder in engines.items():
                detector._extractors[None] = recorder
                recorder.feats.clear()
                preds[engine] = detector.score([analysis], groups=[group])
                feats[engine] = recorder.feats[-1]
            t, o = preds["torch"], preds["onnxruntime"]
            feature_rel = max(
                float((feats["onnxruntime"][n] - f).abs().max() / f.abs().max().clamp_min(1e-12))
                for n, f in feats["torch"].items()
            )
            rows.append(
                {
                    "image": name,
                    "group": group,
                    "score_torch": float(t.pred_score[0]),
                    "score_onnxruntime": float(o.pred_score[0]),
                    "anomalous_torch": bool(t.pred_label[0]),
                    "anomalous_onnxruntime": bool(o.pred_label[0]),
                    "decision_identical": bool(t.pred_label[0]) == bool(o.pred_label[0]),
                    "regions_identical": [r.box for r in t.regions[0]] == [r.box for r in o.regions[0]],
                    "map_max_abs_diff": float(np.abs(t.anomaly_map[0] - o.anomaly_map[0]).max()),
                    "score_abs_diff": abs(float(t.pred_score[0]) - float(o.pred_score[0])),
                    "feature_max_rel_diff": feature_rel,
                }
            )
    finally:
        if saved is None:
            detector._extractors.pop(None, None)
        else:
            detector._extractors[None] = saved
    if not rows:
        raise DataError(f"no image could be read to check parity on ({len(errors)} unreadable)")
    worst = max(r["map_max_abs_diff"] for r in rows)
    identical = all(r["decision_identical"] for r in rows)
    return {
        "passed": identical and worst <= MAP_TOLERANCE,
        "map_tolerance": MAP_TOLERANCE,
        "n_images": len(rows),
        "map_max_abs_diff": worst,
        "score_max_abs_diff": max(r["score_abs_diff"] for r in rows),
        "feature_max_rel_diff": max(r["feature_max_rel_diff"] for r in rows),
        "decisions_identical": identical,
        "regions_identical": all(r["regions_identical"] for r in rows),
        "backbone_median_ms": {k: round(1000 * float(np.median(r.seconds)), 2) for k, r in engines.items()},
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "images": rows,
        "errors": errors,
    }


def export_model(
    model_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    images: Sequence[str | os.PathLike] = (),
    *,
    progress: bool = False,
) -> ExportResult:
    """Write ``OUT/backbone.onnx``, ``OUT/backbone.json`` (its inputs, outputs, scaling, what runs around
    it) and ``OUT/parity.json`` (ONNX Runtime on the written file against eager PyTorch on ``images``;
    without images, on the built-in synthetic demo images, which ``parity.json`` says). Check parity on
    images the model was not fitted on: a PatchCore training image's own patches are in the memory bank,
    ~0 away, where the square root of the distance magnifies float rounding (~3e-4 on its map).

    Raises ModelError for a model file that cannot be read or has no backbone, DataError when no image
    can be read; a parity failure is not an error: ``ExportResult.passed`` is False and the report says
    where.
    """
    import onnx

    if not onnxruntime_available():
        raise ModelError("export needs ONNX Runtime and onnx: pip install 'thermal-anomaly[onnx]'")
    model_path = Path(model_path)
    if images:
        _image_items(images)  # a missing input is said before anything is written
    detector = load_detector(model_path)
    backbone, layers = _backbone_of(detector, model_path)
    s = detector.img_size
    graph = taps_graph(load_backbone(backbone), layers, s, s)
    onnx.checker.check_model(onnx.load_from_string(graph))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / GRAPH_FILE) as tmp:
        tmp.write_bytes(graph)
    write_json(out / SPEC_FILE, graph_spec(detector, model_path, graph, backbone, layers))
    source = "given"
    if not images:
        import tempfile

        from .synthetic import make_demo_dataset

        with tempfile.TemporaryDirectory(prefix="thermal-anomaly-parity-") as tmp_dir:
            # seed 1: not the images `make demo` fits on (seed 0), whose own patches are in its bank
            demo = make_demo_dataset(Path(tmp_dir) / "demo", seed=1)
            parity = check_parity(detector, graph, [demo], progress=progress)
        source = "built-in synthetic demo images (pass real images for a real check)"
    else:
        parity = check_parity(detector, graph, images, progress=progress)
    parity = {"images_source": source, **parity}
    write_json(out / PARITY_FILE, parity)
    return ExportResult(out / GRAPH_FILE, out / SPEC_FILE, out / PARITY_FILE, parity)


__all__ = ["MAP_TOLERANCE", "ExportResult", "check_parity", "export_model", "graph_spec"]
