"""Detector registry: names used by ``--model`` map to classes with the same small interface.

The interface is :class:`Detector` (``base``); calibration on normal images is in ``calibration``, the model
file in ``persistence``; each detector has its own module and registers itself here.
"""

from __future__ import annotations

import os

from .base import Detector, Prediction
from .persistence import read_model_file

DETECTORS: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available under its ``name``."""
    DETECTORS[cls.name] = cls
    return cls


def create_detector(name: str, **config) -> Detector:
    """A new, unfitted detector by model name (``--model``).

    Parameters
    ----------
    name : str
        Registry name: ``"patchcore"`` (the default model), ``"padim"``, ``"fastflow"``, ``"cflow"``,
        ``"draem"``, ``"autoencoder"`` or ``"unet-autoencoder"`` (see :func:`available_detectors`).
    **config
        Constructor arguments of that detector (e.g. ``img_size``, ``threshold_quantile``); omitted
        ones take the detector's defaults.

    Returns
    -------
    Detector
        Ready to :meth:`~Detector.fit`.

    Raises
    ------
    ModelError
        ``name`` is not a registered detector.

    Examples
    --------
    >>> from thermal_anomaly import create_detector
    >>> det = create_detector("patchcore", img_size=256)
    >>> det.name, det.is_fitted
    ('patchcore', False)
    """
    _import_all()
    if name not in DETECTORS:
        from ..errors import ModelError

        raise ModelError(f"unknown model '{name}' (known: {', '.join(sorted(DETECTORS))})")
    return DETECTORS[name](**config)


def load_detector(path: str | os.PathLike) -> Detector:
    """Load any detector's model file safely (no unpickling: ``torch.load(..., weights_only=True)``).

    Parameters
    ----------
    path : str or path-like
        A file written by :meth:`Detector.save` (also by an older version of this tool).

    Returns
    -------
    Detector
        The fitted detector named in the file, with its calibration, ready to :meth:`~Detector.score`.

    Raises
    ------
    ModelError
        Missing, empty, foreign, newer-format or mismatching file.

    Examples
    --------
    >>> from thermal_anomaly import load_detector
    >>> det = load_detector("models/patchcore.pth")  # doctest: +SKIP
    >>> pred = det.score(images)  # doctest: +SKIP
    """
    _import_all()
    return Detector.load(path)


def available_detectors() -> list[str]:
    _import_all()
    return sorted(DETECTORS)


def _import_all() -> None:
    import importlib

    for mod in ("autoencoder", "patchcore", "padim", "fastflow", "cflow", "draem"):
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
