"""Comparing an inspection with the same asset's baseline: alignment (:mod:`.registration`) and the
point-by-point temperature rise (:mod:`.comparison`)."""
