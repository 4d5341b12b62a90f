"""Detector registry: names used by ``--model`` map to classes with the same small interface."""

from __future__ import annotations

from .base import Detector, Prediction, read_model_file

DETECTORS: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available under its ``name``."""
    DETECTORS[cls.name] = cls
    return cls


def create_detector(name: str, **config) -> Detector:
    """A new detector by model name (``--model``)."""
    _import_all()
    if name not in DETECTORS:
        from ..errors import ModelError

        raise ModelError(f"unknown model '{name}' (known: {', '.join(sorted(DETECTORS))})")
    return DETECTORS[name](**config)


def load_detector(path) -> Detector:
    """Load any detector's model file safely."""
    _import_all()
    return Detector.load(path)


def available_detectors() -> list[str]:
    _import_all()
    return sorted(DETECTORS)


def _import_all() -> None:
    import importlib

    for mod in ("autoencoder", "patchcore", "padim"):
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:  # a detector not written yet
            if exc.name != f"{__name__}.{mod}":
                raise


__all__ = [
    "DETECTORS",
    "Detector",
    "Prediction",
    "available_detectors",
    "create_detector",
    "load_detector",
    "read_model_file",
    "register",
]
