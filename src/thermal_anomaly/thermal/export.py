"""Temperatures out (DESIGN "Temperatures out"): one float32 TIFF and one JSON per image.

``OUT/<name>.temperature.tiff`` holds °C (or relative 0..1) with NaN where a pixel is not a temperature, at
the size the tool analyses (a FLIR JPEG's raw sensor, not its picture); ``OUT/<name>.temperature.json`` says
what the numbers are. Both are written atomically, so a file that exists is complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..io import save_tiff_float, write_json
from .radiometric import RadiometricParams
from .temperature import TemperatureMap

TIFF_SUFFIX = ".temperature.tiff"
JSON_SUFFIX = ".temperature.json"
ERROR_SUFFIX = ".error.json"


def temperature_json(tm: TemperatureMap, image_path: str | os.PathLike) -> dict[str, Any]:
    """The contract's fields, plus what a radiometric read used (``params``, ``camera``) and any note on it
    (``note``: raw data unreadable; ``converted_from``: the scale was °F) when the map carries them."""
    h, w = tm.values.shape[:2]
    return {"image": os.fspath(image_path), **tm.describe().to_json(), "size": [int(h), int(w)]}


def temperature_values(tm: TemperatureMap) -> np.ndarray:
    """H×W float32: the map's values, NaN where they are not temperatures."""
    values = np.asarray(tm.values, dtype=np.float32)
    return np.where(np.asarray(tm.valid, bool), values, np.float32(np.nan)).astype(np.float32)


def save_temperature(
    out_dir: str | os.PathLike, name: str, tm: TemperatureMap, image_path: str | os.PathLike
) -> tuple[Path, Path]:
    """Write ``OUT/<name>.temperature.tiff`` and ``.temperature.json``; returns (tiff path, json path).

    The TIFF first, so a JSON never describes a missing TIFF.
    """
    out = Path(out_dir)
    tiff = save_tiff_float(out / f"{name}{TIFF_SUFFIX}", temperature_values(tm))
    doc = write_json(out / f"{name}{JSON_SUFFIX}", temperature_json(tm, image_path))
    return tiff, doc


@dataclass
class ExportReport:
    """What ``export_temperatures`` did: one row per written image, (path, reason) per failed one."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def export_temperatures(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    params: RadiometricParams | None = None,
    progress: bool = True,
    on_error: Callable[[str, str], None] | None = None,
) -> ExportReport:
    """Temperatures of every image under ``paths`` (files and folders, recursive; named as ``predict`` names
    them) into ``out_dir``. A file that cannot be read gets ``<name>.error.json`` and the rest go on."""
    from tqdm.auto import tqdm

    from ..pipeline import collect_inputs
    from .analysis import ThermalAnalysis

    out = Path(out_dir)
    report = ExportReport()
    items = collect_inputs(paths)
    for path, name, _ in tqdm(items, desc="temperatures", unit="image", disable=not progress, leave=False):
        try:
            tm = ThermalAnalysis.from_file(path, params).temperature
            tiff, doc = save_temperature(out, name, tm, path)
        except Exception as exc:  # noqa: BLE001 - one bad file is reported, the batch goes on
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if not str(exc).startswith(str(path)):
                reason = f"{path}: {reason}"
            report.errors.append((str(path), reason))
            _remove(out, name, (TIFF_SUFFIX, JSON_SUFFIX))  # an earlier run's result would look current
            write_json(out / f"{name}{ERROR_SUFFIX}", {"image": str(path), "error": reason})
            if on_error:
                on_error(str(path), reason)
            continue
        _remove(out, name, (ERROR_SUFFIX,))
        vals = temperature_values(tm)
        finite = np.isfinite(vals)
        report.rows.append(
            {
                "name": name,
                "image": str(path),
                "unit": tm.unit,
                "source": tm.source,
                "size": list(vals.shape),
                "min": float(vals[finite].min()) if finite.any() else None,
                "max": float(vals[finite].max()) if finite.any() else None,
                "note": tm.note or tm.reason,
                "tiff": str(tiff),
                "json": str(doc),
            }
        )
    return report


def summary_lines(report: ExportReport) -> list[str]:
    """One line per image: name, unit, source, size, min..max, and why when not plain °C from raw data."""
    lines = []
    for r in report.rows:
        unit = "°C" if r["unit"] == "C" else "rel"
        span = "-" if r["min"] is None else f"{r['min']:.1f}..{r['max']:.1f} {unit}"
        h, w = r["size"]
        line = f"{r['name']}: {r['source']} {h}x{w} {span}"
        lines.append(f"{line}  ({r['note']})" if r["note"] else line)
    lines.append(f"{len(report.rows)} written, {len(report.errors)} failed")
    return lines


def _remove(out: Path, name: str, suffixes: Sequence[str]) -> None:
    for suffix in suffixes:
        stale = out / f"{name}{suffix}"
        if stale.exists():
            stale.unlink()
