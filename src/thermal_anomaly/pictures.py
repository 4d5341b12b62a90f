"""The pictures ``predict`` writes per image: the annotated photo and the six-panel explanation, with
labels that say the finding in a line (``"1 major ΔT 23.4 °C loose joint"``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .records import HotSpot, ImageReport, Region
from .report import NO_HOTSPOT, UNKNOWN_FAULT
from .thermal.severity import Severity

#: hot spots outside the learned regions drawn on the annotated picture, hottest first (more would bury it)
MAX_DRAWN_HOTSPOTS = 5


def _fmt_delta(dt: float | None, unit: str | None) -> str:
    if dt is None:
        return ""
    if unit == "C":
        return f"ΔT {dt:.1f} °C"
    return f"ΔT {100 * dt:.0f}% of scale"


def _short_severity(severity: str | None) -> str:
    sev, relative = Severity.parse(severity)
    return sev.text + " (rel.)" if relative else sev.text


def region_label(k: int, region: Region) -> str:
    """Short label for a picture, e.g. ``"1 major ΔT 23.4 °C loose joint"``."""
    sev = _short_severity(region.severity)
    if sev == NO_HOTSPOT:
        sev = "not hot"
    parts = [str(k), sev, _fmt_delta(region.delta_t, region.unit)]
    fault = region.fault_type
    if fault and fault != UNKNOWN_FAULT:
        parts.append(fault.replace("_", " "))
    return " ".join(p for p in parts if p)


def hotspot_label(h: HotSpot) -> str:
    """Label of a hot spot that no learned region covers: ``"H2 probable deficiency ΔT 5.1 °C"``."""
    sev = _short_severity(h.severity)
    return " ".join(p for p in (f"H{h.id}", sev, _fmt_delta(h.delta_t, h.unit)) if p)


def save_pictures(
    out_dir,
    name: str,
    image: np.ndarray,
    report: ImageReport,
    temp,
    parts: dict[str, np.ndarray] | None,
    mask: np.ndarray,
    *,
    vmax: float | None = None,
    title: str = "",
) -> list:
    """``<name>.annotated.png`` (screen size, labelled boxes) and ``<name>.panel.png`` (six panels).

    The photo is shrunk once for both. The temperature panels' maps are computed by a second thread
    while the annotated picture is drawn and written (OpenCV and numpy release the GIL; all text is drawn
    by this thread).
    """
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from .thermal.hotspots import hotspot_map
    from .visualize import (
        PANEL_BOX,
        fit_picture,
        fit_size,
        save_annotated,
        save_six_panel,
        shrink_temperature,
    )

    def temperature_maps():
        """Temperatures and hot-spot rise at the panel's size: the rise map as the panel shows it, without
        the analysis' full-size passes (~0.1 s on a 6 MP photo)."""
        if temp is None:
            return None, None, None
        values, valid = shrink_temperature(temp.values, temp.valid, fit_size(temp.values.shape, PANEL_BOX))
        return (
            values,
            valid,
            hotspot_map(dataclasses.replace(temp, values=np.nan_to_num(values), valid=valid)),
        )

    out = Path(out_dir)
    regions = report.regions
    labels = [region_label(k + 1, r) for k, r in enumerate(regions)]
    # the picture shows the worst few hot spots outside the learned regions; the JSON lists them all
    outside = [h for h in report.hotspots if not h.in_learned_region][:MAX_DRAWN_HOTSPOTS]
    outside_labels = [hotspot_label(h) for h in outside]
    annotated = out / f"{name}.annotated.png"
    panel = out / f"{name}.panel.png"
    with ThreadPoolExecutor(1) as pool:
        maps = pool.submit(temperature_maps)
        shown = fit_picture(image)  # screen size, for both pictures
        save_annotated(
            annotated,
            shown,
            regions,
            labels,
            hotspots=outside,
            hotspot_labels=outside_labels,
            box_shape=image.shape,
        )
        temperature, valid, rise = maps.result()
    parts = parts or {}
    fused = parts.get("fused")
    if fused is None:
        fused = np.zeros(image.shape[:2], np.float32)
    save_six_panel(
        panel,
        shown,
        temperature,
        parts.get("learned", fused),
        rise,
        fused,
        mask,
        regions,
        labels=labels,
        temperature_unit=report.temperature.unit or "relative",
        temperature_valid=valid,
        hotspot_boxes=report.hotspots,
        vmax=vmax,
        title=title,
        box_shape=image.shape,
    )
    return [annotated, panel]


__all__ = ["MAX_DRAWN_HOTSPOTS", "hotspot_label", "region_label", "save_pictures"]
