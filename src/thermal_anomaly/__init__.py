"""thermal-anomaly: find and outline faults in thermal images of power transformers."""

from .detectors import Detector, Prediction, available_detectors, create_detector, load_detector
from .errors import DataError, ModelError, NotFittedError, ThermalAnomalyError

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Detector",
    "ModelError",
    "NotFittedError",
    "Prediction",
    "ThermalAnomalyError",
    "__version__",
    "available_detectors",
    "create_detector",
    "load_detector",
]
