"""Thermography knowledge: camera overlays, palettes back to temperature, hot spots."""
