"""``predict --resume``: a batch run again skips the images whose outputs are complete.

Complete means: ``<name>.json`` exists and parses (it is written by write-then-rename, so it is whole or
absent), is at least as new as the image and the model file, was written by the same model name with the
same threshold and group that this run would use (and with a baseline comparison exactly when
baselines are given), and every other file this run asks for is there (the
pictures; with ``--save-maps`` the anomaly map, the mask and, when the image has temperatures, the TIFF).
The JSON is written before the pictures and maps, so an image interrupted between them is predicted again.
An image that failed (``<name>.error.json``) is always tried again. Skipped images count in the summary
from their JSON, which holds everything the summary needs.

Resuming is asked for (``resume=True``), not the default: a plain run writes every output anew, so changed
code or options never leave a mix of old and new results behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from .records import Finding, HotSpot, ImageResult, Region, TemperatureInfo


def _record(cls: type, doc: dict) -> Any:
    """A record from its JSON (``to_json`` writes field names; unknown keys are ignored)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in doc.items() if k in names})


def result_from_json(doc: dict, name: str) -> ImageResult:
    """The :class:`ImageResult` an image's JSON was written from."""
    temp = doc.get("temperature")
    extra = {"baseline": doc["baseline"]} if "baseline" in doc else {}
    return ImageResult(
        **extra,
        image=doc["image"],
        name=name,
        score=float(doc["score"]),
        is_anomalous=bool(doc["is_anomalous"]),
        threshold=float(doc["threshold"]),
        model=doc["model"],
        regions=[_record(Region, r) for r in doc.get("regions", [])],
        group=doc.get("group"),
        severity=doc.get("severity"),
        hotspot_severity=doc.get("hotspot_severity"),
        temperature=None if temp is None else _record(TemperatureInfo, temp),
        hotspots=[_record(HotSpot, h) for h in doc.get("hotspots", [])],
        findings=[_record(Finding, f) for f in doc.get("findings", [])],
    )


def completed(
    path: Path,
    name: str,
    out: Path,
    *,
    model_name: str,
    threshold: float,
    group: str | None,
    pictures: bool,
    save_maps: bool,
    baselines: bool = False,
    model_file: Path | None = None,
) -> ImageResult | None:
    """The image's result read back from ``out`` when its outputs are complete for this run, else None."""
    doc_path = out / f"{name}.json"
    try:
        written = doc_path.stat().st_mtime
        if written < os.stat(path).st_mtime:
            return None
        if model_file is not None and written < model_file.stat().st_mtime:
            return None
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        if (
            doc.get("model") != model_name
            or doc.get("threshold") != float(threshold)
            or doc.get("group") != group
            or ("baseline" in doc) != baselines
        ):
            return None
        wanted = ["annotated.png", "panel.png"] if pictures else []
        if save_maps:
            wanted += ["anomaly_map.npy", "mask.png"]
            if (doc.get("temperature") or {}).get("unit") is not None:
                wanted.append("temperature.tiff")
        if any(not (out / f"{name}.{suffix}").is_file() for suffix in wanted):
            return None
        return result_from_json(doc, name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


__all__ = ["completed", "result_from_json"]
