"""Comparing an inspection with the same asset's baseline: alignment (:mod:`.registration`) and the
point-by-point temperature rise (:mod:`.comparison`)."""

from .comparison import Comparison, RiseRegion, compare
from .registration import Registration, register

__all__ = ["Comparison", "Registration", "RiseRegion", "compare", "register"]
