"""One-file model persistence: a versioned envelope of plain data and tensors, read without unpickling.

The file is a ``torch.save`` dict: format name and version, the detector's registry name and
configuration, its calibration (scales and thresholds) and its learned tensors under ``state_key``; a model
trained from a data folder also records each asset's normal images (``normals``: asset -> absolute paths).
It is read with ``torch.load(..., weights_only=True)``, so a model file cannot run code. Older files are
read as they are: keys added later have fallbacks here, and a detector completes an older configuration
in its ``_upgrade_config`` hook so it scores as it was calibrated.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import ModelError, NotFittedError
from .calibration import Calibration

if TYPE_CHECKING:  # annotations only: base imports this module
    from .base import Detector

MODEL_FORMAT = "thermal-anomaly-model"
#: bump when a reader of this version could misread a newer file (added keys with fallbacks need no bump)
MODEL_FORMAT_VERSION = 1
#: where the learned tensors lie in files that do not name their ``state_key``
DEFAULT_STATE_KEY = "state"


def save_model(detector: Detector, path: str | os.PathLike) -> Path:
    """Write ``detector`` to one model file atomically (write to a temporary name, then rename)."""
    if not detector.is_fitted:
        raise NotFittedError(f"cannot save an unfitted {detector.name} detector")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "detector": detector.name,
        "config": detector.get_config(),
        "img_size": detector.img_size,
        "threshold": float(detector.threshold_),
        "pixel_threshold": float(detector.pixel_threshold_),
        "calibration": dict(detector.calibration_),
        "map_calibration": dict(detector.map_calibration_ or detector.calibration_),
        "calibration_scores": list(detector.calibration_scores_),
        "state_key": detector.state_key,
        detector.state_key: {k: v.detach().cpu().contiguous() for k, v in detector._state().items()},
    }
    # asset -> normal image paths, recorded by ``train`` (``predict --baseline auto``)
    normals = getattr(detector, "normals_", None)
    if normals is not None:
        payload["normals"] = {str(k): [str(f) for f in v] for k, v in normals.items()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_model(path: str | os.PathLike, expected: type[Detector] | None = None) -> Detector:
    """Load a model file of any registered detector; ``expected``: refuse one of another class."""
    from . import DETECTORS

    payload = read_model_file(path)
    name = payload["detector"]
    if name not in DETECTORS:
        raise ModelError(f"{path}: unknown detector '{name}' (known: {', '.join(sorted(DETECTORS))})")
    klass = DETECTORS[name]
    if expected is not None and not issubclass(klass, expected):
        raise ModelError(f"{path}: holds a '{name}' model, not a {expected.name} model")
    try:
        det = klass(**klass._upgrade_config(dict(payload["config"])))
        det._load_state(payload[payload.get("state_key", DEFAULT_STATE_KEY)])
    except (TypeError, KeyError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: model file does not match the '{name}' detector: {exc}") from None
    det._set_calibration(_calibration(payload))
    if "normals" in payload:  # files from before the record, or of detectors fitted in code, have none
        det.normals_ = {str(k): [str(f) for f in v] for k, v in payload["normals"].items()}
    return det


def _calibration(payload: dict) -> Calibration:
    """The calibration a model file holds; files from before the pixel map had its own scale and
    threshold reuse the image's."""
    return Calibration(
        scale={str(k): float(v) for k, v in payload["calibration"].items()},
        threshold=float(payload["threshold"]),
        map_scale={
            str(k): float(v) for k, v in payload.get("map_calibration", payload["calibration"]).items()
        },
        pixel_threshold=float(payload.get("pixel_threshold", payload["threshold"])),
        scores=[float(v) for v in payload.get("calibration_scores", [])],
    )


def read_model_file(path: str | os.PathLike) -> dict:
    """Read and validate a model file's envelope; every failure is a ModelError naming the file."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: model file not found")
    if not p.is_file():
        raise ModelError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: model file is empty")
    if not zipfile.is_zipfile(p):
        # torch.load would try it as a legacy pickle and answer with advice to load it unsafely
        raise ModelError(
            f"{p}: not a readable thermal-anomaly model file (not a PyTorch model archive: truncated, or "
            "another kind of file)"
        )
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is the same user error
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, pickle.UnpicklingError) and "weights_only" in str(exc):
            # the safe loader refused what it holds; PyTorch's message then advises weights_only=False,
            # i.e. running the file's code: never repeated for a user's file
            msg = (
                "it holds objects other than tensors and plain values; model files are read without running "
                "code they carry, and this tool's hold none"
            )
        raise ModelError(f"{p}: not a readable thermal-anomaly model file ({msg[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelError(f"{p}: not a thermal-anomaly model file (foreign or corrupt content)")
    if int(payload.get("format_version", -1)) > MODEL_FORMAT_VERSION:
        raise ModelError(f"{p}: model file format {payload.get('format_version')} is newer than this tool")
    for key in (
        "detector",
        "config",
        payload.get("state_key", DEFAULT_STATE_KEY),
        "threshold",
        "calibration",
    ):
        if key not in payload:
            raise ModelError(f"{p}: model file lacks '{key}'")
    return payload


__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "load_model", "read_model_file", "save_model"]
