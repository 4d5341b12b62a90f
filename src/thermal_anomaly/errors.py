"""Error types: one family, so the CLI can turn any of them into a one-line message."""


class ThermalAnomalyError(Exception):
    """Base class for every error the tool reports to a user without a traceback."""


class DataError(ThermalAnomalyError):
    """An input image, folder or annotation cannot be used (names the file and the problem)."""


class ModelError(ThermalAnomalyError):
    """A model file is missing, empty, corrupt, foreign or inconsistent."""


class NotFittedError(ModelError):
    """A detector was asked to score before it learned what normal looks like."""
