"""Error types: one family, so the CLI can turn any of them into a one-line message."""

import os

#: set to 1 for tracebacks instead of one-line messages (the CLI; a batch's per-image errors)
DEBUG_ENV = "THERMAL_ANOMALY_DEBUG"


class ThermalAnomalyError(Exception):
    """Base class for every error the tool reports to a user without a traceback."""


class DataError(ThermalAnomalyError):
    """An input image, folder or annotation cannot be used (names the file and the problem)."""


class ModelError(ThermalAnomalyError):
    """A model file is missing, empty, corrupt, foreign or inconsistent."""


class NotFittedError(ModelError):
    """A detector was asked to score before it learned what normal looks like."""


def image_error(path: object, exc: Exception) -> ThermalAnomalyError:
    """What one image's failure is reported as: the tool's own error as it is, anything else as
    :func:`unexpected` (so a batch catches one ``Exception`` per step and goes on)."""
    return exc if isinstance(exc, ThermalAnomalyError) else unexpected(path, exc)


def unexpected(path: object, exc: Exception) -> ThermalAnomalyError:
    """An exception none of the tool's checks foresaw, raised by one image's work, as that image's error: a
    batch of thousands goes on past it and reports it (its type and message, and that it is a bug to report
    with the file). With ``THERMAL_ANOMALY_DEBUG=1`` it is raised as it came, traceback and all."""
    if os.environ.get(DEBUG_ENV):
        raise exc
    msg = " ".join(str(exc).split())[:300]
    return ThermalAnomalyError(
        f"{path}: unexpected {type(exc).__name__} while analysing it ({msg}); a bug: please report it with "
        f"the file (set {DEBUG_ENV}=1 for the traceback)"
    )
