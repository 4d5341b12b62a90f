"""What a thermographer wants from one image and from a batch: learned regions rated in temperature terms.

The learned detector says *where* an image is unlike normal; :func:`thermal.hotspots.find_hotspots` says
*how hot* things are and rates them (NETA MTS). This module joins the two: each learned region takes the
rating of the worst hot spot it overlaps, hot spots that no learned region covers are reported too (the
model may have missed them), and a batch is ordered worst severity first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from .postprocess import find_regions
from .records import Finding, HotSpot, ImageReport, ImageResult, Region
from .thermal.severity import (  # noqa: F401 - re-exported: the report's vocabulary
    KNOWN_SEVERITIES,
    RELATIVE_PREFIX,
    SEVERITIES,
    Severity,
    capped,
    severity_rank,
)

#: what a region gets when no hot spot overlaps it: it is unlike normal, but not hotter than its surroundings
NO_HOTSPOT = Severity.NONE.text
UNKNOWN_FAULT = "unknown"
#: hot spots outside the learned regions drawn on the annotated picture, hottest first (more would bury it)
MAX_DRAWN_HOTSPOTS = 5
#: fields copied from the matched hot spot onto a learned region
HOTSPOT_FIELDS = (
    "max_temp",
    "mean_temp",
    "reference_temp",
    "reference",
    "delta_t",
    "delta_t_ambient",
    "severity",
    "severity_similar",
    "severity_ambient",
    "severity_temperature",
    "novelty",
    "decided_by",
    "fault_type",
)
#: a hot spot that is no more unusual than this (a multiple of the learned pixel threshold) looks like the
#: normal images' own warm parts: its temperature alone rates it at most ``LIKE_NORMAL_CAP``
LIKE_NORMAL = 1.0
LIKE_NORMAL_CAP = Severity.POSSIBLE
#: the spot a flagged image rests on, below ``LIKE_NORMAL``, is rated at most this: "major" (act now) needs
#: both witnesses, the temperature and a place the learned model finds unlike every normal image
FLAG_ANCHOR_CAP = Severity.PROBABLE
#: a rise this far beyond NETA's "major" bounds is rated by temperature alone, whatever the learned map says:
#: the learned witness vets the ordinary warm parts a scene has, it must not talk a thermographer out of an
#: extreme one (twice the similar-component bound; the over-ambient bound itself, NETA's own "major")
EXTREME_SIMILAR_FACTOR = 2.0
#: a spot holds the map's peak when its own maximum is this close to the whole map's (box rounding)
AT_PEAK = 0.9


def worst_severity(severities: Iterable[str | None]) -> str:
    """The worst of some severities; ``"none"`` for none at all."""
    worst = NO_HOTSPOT
    for s in severities:
        if s and severity_rank(s) > severity_rank(worst):
            worst = s
    return worst


def _overlap(a: Sequence[int], b: Sequence[int]) -> tuple[int, int, int, int] | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _hotspot_key(h: HotSpot | Region) -> tuple[int, float]:
    return h.rank, float(h.delta_t or 0.0)


def _box_temperatures(
    box: Sequence[int], values: np.ndarray | None, valid: np.ndarray | None
) -> tuple[float | None, float | None]:
    """Max and mean temperature on the valid pixels of a box (None when there are none)."""
    if values is None:
        return None, None
    x0, y0, x1, y1 = (int(v) for v in box)
    v = values[y0:y1, x0:x1]
    ok = np.isfinite(v) if valid is None else valid[y0:y1, x0:x1] & np.isfinite(v)
    if not ok.any():
        return None, None
    return float(v[ok].max()), float(v[ok].mean())


def match_regions(
    regions: Sequence[Region],
    hotspots: Sequence[HotSpot],
    *,
    mask: np.ndarray | None = None,
    values: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    unit: str | None = None,
) -> tuple[list[Region], list[HotSpot]]:
    """Rate learned regions by the hot spots they overlap; flag hot spots outside every learned region.

    A hot spot belongs to a region when their boxes overlap and, if the learned ``mask`` is given, the
    overlap holds a mask pixel (so a hot spot in a neighbouring region's box corner does not count). A
    region with several hot spots takes the worst (severity, then ΔT) and lists them all in ``hotspot_ids``
    (1-based ids into the returned hot spot list). A region with none gets the max/mean temperature of the
    valid pixels in its box, severity ``"none"`` and fault type ``"unknown"``: the model finds it unusual,
    but it is not warmer than its surroundings or its peers.

    Returns (regions, hotspots), new records; hot spots gain ``id``, ``region_ids`` (1-based region
    numbers) and ``in_learned_region``.
    """
    spots = [dataclasses.replace(h, id=k + 1, region_ids=[]) for k, h in enumerate(hotspots)]
    out = []
    for ri, r in enumerate(regions):
        box = [int(v) for v in r.box]
        hits = []
        for h in spots:
            ov = _overlap(box, h.box)
            if ov is None:
                continue
            if mask is not None and not mask[ov[1] : ov[3], ov[0] : ov[2]].any():
                continue
            hits.append(h)
            h.region_ids.append(ri + 1)
        if hits:
            best = max(hits, key=_hotspot_key)
            rated = dataclasses.replace(
                r,
                **{key: getattr(best, key) for key in HOTSPOT_FIELDS},
                unit=best.unit,
                hotspot_ids=[h.id for h in hits],
            )
        else:
            tmax, tmean = _box_temperatures(box, values, valid)
            rated = dataclasses.replace(
                r,
                max_temp=tmax,
                mean_temp=tmean,
                reference_temp=None,
                reference="none",
                delta_t=None,
                delta_t_ambient=None,
                severity=NO_HOTSPOT,
                severity_similar=NO_HOTSPOT,
                severity_ambient=NO_HOTSPOT,
                severity_temperature=None,
                decided_by=None,
                fault_type=UNKNOWN_FAULT,
                unit=unit,
                hotspot_ids=[],
            )
        out.append(rated)
    for h in spots:
        h.in_learned_region = bool(h.region_ids)
    return out, spots


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


def temperature_block(temp) -> dict:
    """The image-level ``temperature`` entry of a report: what the temperatures are, how they were read."""
    if temp is None:
        return {"unit": None, "source": None, "reason": "no temperature map", "range": None}
    # the scale ends as printed (one decimal on every camera seen), not the float noise of the fit
    return temp.describe(digits=2)


def image_report(
    regions: Sequence[Region],
    hotspots: Sequence[HotSpot],
    temp=None,
    *,
    mask: np.ndarray | None = None,
    temperature_error: str | None = None,
) -> ImageReport:
    """The temperature part of an image's result: rated ``regions``, all ``hotspots``, ``temperature``,
    ``severity`` (worst learned region) and ``hotspot_severity`` (worst hot spot, learned region or not);
    ``mask`` is the one given."""
    block = temperature_block(temp)
    if temperature_error:
        block["reason"] = temperature_error
    rated, spots = match_regions(
        regions,
        hotspots,
        mask=mask,
        values=None if temp is None else np.asarray(temp.values),
        valid=None if temp is None else np.asarray(temp.valid, bool),
        unit=block["unit"],
    )
    return ImageReport(
        regions=rated,
        hotspots=spots,
        findings=ranked_findings(rated, spots),
        temperature=block,
        severity=worst_severity(r.severity for r in rated),
        hotspot_severity=worst_severity(h.severity for h in spots),
        mask=mask,
    )


def decode_temperatures(image, path=None):
    """(TemperatureMap or None, error text or None): a picture whose temperatures cannot be decoded still
    gets its learned result, with the reason in the report instead of a failed image.

    ``image`` is a picture or its :class:`~thermal_anomaly.thermal.analysis.ThermalAnalysis` (whose
    temperature map is then the one the detector's heat evidence came from).
    """
    from .thermal.analysis import ThermalAnalysis
    from .thermal.temperature import temperature_map

    try:
        if isinstance(image, ThermalAnalysis):
            return image.temperature, None
        return temperature_map(image, path), None
    except Exception as exc:  # noqa: BLE001 - any decoding failure degrades the report, not the batch
        msg = " ".join(str(exc).split()) or type(exc).__name__
        return None, f"temperature decoding failed: {msg[:200]}"


def novelty_at(
    box: Sequence[int], anomaly_map: np.ndarray, threshold: float, shape: tuple[int, ...]
) -> float:
    """The learned detector's anomaly map at a finding: its maximum over the finding's ``box`` (in pixels of
    ``shape``) as a multiple of the pixel threshold. Below 1: the place is no more unusual than the
    normal images' own warm parts (the map's scale is calibrated on held-out normals)."""
    h, w = shape[:2]
    mh, mw = anomaly_map.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    fx, fy = mw / w, mh / h
    sub = anomaly_map[
        int(y0 * fy) : max(int(y0 * fy) + 1, int(np.ceil(y1 * fy))),
        int(x0 * fx) : max(int(x0 * fx) + 1, int(np.ceil(x1 * fx))),
    ]
    return float(sub.max()) / max(float(threshold), 1e-12) if sub.size else 0.0


def weigh_hotspots(
    spots: Sequence[HotSpot], flagged: bool, peak_novelty: float | None = None
) -> list[HotSpot]:
    """Rate hot spots on both witnesses a thermographer has: temperature and the learned model.

    Each spot's ``severity_temperature`` is its NETA rating (the worse of similar-component and ambient);
    ``decided_by`` names the comparison that set it (``similar`` or ``ambient``). Where the learned map says
    the place looks normal (``novelty``, see :func:`novelty_at`, below ``LIKE_NORMAL``), ``severity`` is
    capped at ``LIKE_NORMAL_CAP`` and ``decided_by`` is ``learned``: normal equipment is warm too (a loaded
    clamp, the top of a tank), and a hot spot the normal images also have is not a fault. The spot a
    ``flagged`` image rests on (its most novel spot, holding the map's peak: at least ``AT_PEAK`` of
    ``peak_novelty``) is capped at ``FLAG_ANCHOR_CAP`` instead. Spots without ``novelty``, and extreme rises
    (:func:`_extreme`), keep their rating.
    Returned worst first (:func:`finding_key`).
    """
    rated = [dataclasses.replace(h) for h in spots]
    novel = [h for h in rated if h.novelty is not None]
    anchor = max(novel, key=lambda h: h.novelty) if (flagged and novel) else None
    if anchor is not None and peak_novelty is not None and anchor.novelty < AT_PEAK * peak_novelty:
        anchor = None  # the image's flag rests on a place that is not hot: no spot inherits it
    for h in rated:
        sev = h.severity or NO_HOTSPOT
        h.severity_temperature = sev
        sim, amb = (Severity.parse(s)[0] for s in (h.severity_similar, h.severity_ambient))
        h.decided_by = "similar" if sim >= amb else "ambient"
        nov = h.novelty
        cap = FLAG_ANCHOR_CAP if h is anchor else LIKE_NORMAL_CAP
        if nov is not None and nov < LIKE_NORMAL and h.level > cap and not _extreme(h):
            h.severity = capped(sev, cap)
            h.decided_by = "learned"
    return sorted(rated, key=finding_key, reverse=True)


def _extreme(spot: HotSpot) -> bool:
    """A rise beyond ``EXTREME_SIMILAR_FACTOR`` × NETA's major bound between similar components, or beyond
    its major bound over ambient (the °C tables, or their relative-scale versions)."""
    from .thermal.hotspots import AMBIENT_C, AMBIENT_REL, SIMILAR_C, SIMILAR_REL

    rel = spot.unit != "C"
    similar_major = (SIMILAR_REL if rel else SIMILAR_C)[0][0]
    ambient_major = (AMBIENT_REL if rel else AMBIENT_C)[0][0]
    dt, amb = spot.delta_t, spot.delta_t_ambient
    return (dt is not None and dt > EXTREME_SIMILAR_FACTOR * similar_major) or (
        amb is not None and amb > ambient_major
    )


def finding_key(f: Finding | HotSpot) -> tuple[int, float]:
    """Worst first: severity, then the rise weighted by how unusual the place is (ΔT × novelty; ΔT alone
    without a learned map, novelty alone for a learned region that is not hot)."""
    dt = f.delta_t
    nov = f.novelty
    if dt is None:
        evidence = 0.0 if nov is None else float(nov) * 1e-3  # below any hot spot of its severity
    else:
        evidence = float(dt) * (1.0 if nov is None else float(nov))
    return f.rank, evidence


def ranked_findings(regions: Sequence[Region], hotspots: Sequence[HotSpot]) -> list[Finding]:
    """One list of what the image shows, worst first (:func:`finding_key`): every hot spot, and every learned
    region no hot spot explains (unusual but not hot). Each: ``kind`` (``hotspot`` / ``region``), ``id``
    (H-number or region number), ``box``, ``severity``, ``decided_by``, ``delta_t``, ``novelty``, and what
    the rating compared it with (``reference``, ``reference_temp``, ``peers``)."""
    out = [
        Finding(
            kind="hotspot",
            id=f"H{h.id}",
            box=h.box,
            peak=h.peak,
            severity=h.severity,
            severity_temperature=h.severity_temperature,
            decided_by=h.decided_by,
            delta_t=h.delta_t,
            delta_t_ambient=h.delta_t_ambient,
            max_temp=h.max_temp,
            unit=h.unit,
            novelty=h.novelty,
            reference=h.reference,
            reference_temp=h.reference_temp,
            peers=h.peers,
            fault_type=h.fault_type,
        )
        for h in hotspots
    ]
    for k, r in enumerate(regions):
        if not r.hotspot_ids:
            out.append(
                Finding(
                    kind="region",
                    id=str(k + 1),
                    box=r.box,
                    peak=None,
                    severity=r.severity,
                    severity_temperature=r.severity_temperature,
                    decided_by="learned",
                    delta_t=r.delta_t,
                    delta_t_ambient=r.delta_t_ambient,
                    max_temp=r.max_temp,
                    unit=r.unit,
                    novelty=r.novelty,
                    reference=r.reference,
                    reference_temp=r.reference_temp,
                    peers=None,
                    fault_type=r.fault_type,
                )
            )
    return sorted(out, key=finding_key, reverse=True)


def rate_image(
    image,
    path,
    regions: Sequence[Region],
    mask: np.ndarray | None = None,
    *,
    anomaly_map: np.ndarray | None = None,
    threshold: float | None = None,
    flagged: bool = False,
) -> tuple[ImageReport, object]:
    """Decode temperatures once, find and rate hot spots, join them to the learned ``regions``.

    ``image``: a picture, or its analysis (see :func:`decode_temperatures`). With the detector's
    ``anomaly_map`` and pixel ``threshold``, each hot spot and region also gets its ``novelty``
    (:func:`novelty_at`) and hot spots are weighed on it (:func:`weigh_hotspots`; ``flagged``: the detector
    flags the image). Returns (:func:`image_report`, whose ``mask`` is the outlined one; the TemperatureMap
    or None) so pictures can reuse the map.
    """
    from .thermal.hotspots import find_hotspots

    temp, err = decode_temperatures(image, path)
    spots = find_hotspots(temp) if temp is not None else []
    learned = anomaly_map is not None and threshold is not None
    peak = None
    if learned:
        shape = anomaly_map.shape if temp is None else temp.values.shape
        for h in spots:
            h.novelty = round(novelty_at(h.box, anomaly_map, threshold, shape), 4)
        peak = novelty_at((0, 0, anomaly_map.shape[1], anomaly_map.shape[0]), anomaly_map, threshold, shape)
    spots = weigh_hotspots(spots, flagged, peak)
    if mask is not None and temp is not None and mask.any():
        mask = outline_mask(temp, spots, mask)
        if anomaly_map is not None:  # boxes and areas follow the outlines
            regions = find_regions(anomaly_map, mask)
    if learned:
        regions = [
            dataclasses.replace(
                r, novelty=round(novelty_at(r.box, anomaly_map, threshold, anomaly_map.shape), 4)
            )
            for r in regions
        ]
    return image_report(regions, spots, temp, mask=mask, temperature_error=err), temp


def outline_mask(temp, spots: Sequence[HotSpot], learned: np.ndarray) -> np.ndarray:
    """The segmentation of a flagged image: the learned detector's decision ``learned`` (H×W bool, where the
    map passes the pixel threshold) grown by the isotherm outlines of its hot spots.

    A hot spot counts when its box touches a learned region. Its outline is
    :func:`thermal.hotspots.isotherm` (half way down its rise, on the temperature map, within its
    component, overlays excluded): the whole hot part, which the smoothed map's threshold cuts short
    along a wire or spreads around a joint. Measured (``benchmarks/outlines.py`` on the development masks,
    ``test`` on the built-in demo data): the union beats the map threshold alone on both; the isotherms
    alone lose recall, and adding the probable-or-worse hot spots outside the learned regions halved the
    demo's IoU (0.34 -> 0.15) for +0.002 on the development set, so they stay findings, not mask.
    """
    from .thermal.hotspots import isotherm

    out = np.asarray(learned, bool).copy()
    for h in spots:
        x0, y0, x1, y1 = (int(v) for v in h.box)
        if not learned[y0:y1, x0:x1].any():
            continue
        ring = isotherm(temp, h)
        if ring.shape != out.shape:
            ring = cv2.resize(ring.view(np.uint8), out.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        out |= ring
    return out


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
        temperature_unit=report.temperature["unit"] or "relative",
        temperature_valid=valid,
        hotspot_boxes=report.hotspots,
        vmax=vmax,
        title=title,
        box_shape=image.shape,
    )
    return [annotated, panel]


# ---------------------------------------------------------------------------------------------- batch
def summarize(images: Sequence[ImageResult], errors: Sequence[tuple[str, str]]) -> dict:
    """Batch summary (the ``summary.json`` dict) from the images' results: counts, images per severity,
    flagged images worst first, errors."""
    entries = []
    for d in images:
        regions = d.regions or []
        worst = max(range(len(regions)), key=lambda k: _hotspot_key(regions[k]), default=None)
        entries.append(
            {
                "image": d.image,
                "score": float(d.score),
                "is_anomalous": bool(d.is_anomalous),
                "severity": d.severity or NO_HOTSPOT,
                "hotspot_severity": d.hotspot_severity or NO_HOTSPOT,
                "n_regions": len(regions),
                "label": "" if worst is None else region_label(worst + 1, regions[worst]),
            }
        )
    flagged = order_flagged([e for e in entries if e["is_anomalous"]])
    for e in flagged:
        del e["is_anomalous"]
    return {
        "n_images": len(entries) + len(errors),
        "n_scored": len(entries),
        "n_flagged": len(flagged),
        "n_errors": len(errors),
        "severity_counts": severity_counts(e["severity"] for e in entries),
        "flagged_severity_counts": severity_counts(e["severity"] for e in flagged),
        "flagged": flagged,
        "errors": [{"image": p, "error": e} for p, e in errors],
    }


def order_flagged(items: Sequence[dict]) -> list[dict]:
    """Flagged images worst first: severity, then score (both descending), then name for a stable order."""
    return sorted(
        items, key=lambda d: (-severity_rank(d.get("severity")), -float(d.get("score", 0.0)), d["image"])
    )


def severity_counts(severities: Iterable[str | None]) -> dict[str, int]:
    """Images per severity, worst first; only severities that occur."""
    counts: dict[str, int] = {}
    for s in severities:
        s = s or NO_HOTSPOT
        counts[s] = counts.get(s, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -severity_rank(kv[0])))


def summary_markdown(summary: dict, top: int | None = None) -> str:
    """A small human-readable table of a batch summary (``summary.md``)."""
    lines = [
        "# Batch summary",
        "",
        f"{summary['n_images']} images: {summary['n_scored']} scored, "
        f"{summary['n_flagged']} flagged as faulty, {summary['n_errors']} failed.",
        "",
    ]
    if summary.get("severity_counts"):
        lines.append(
            "Images by severity: "
            + ", ".join(f"{k}: {v}" for k, v in summary["severity_counts"].items())
            + "."
        )
        lines.append("")
    flagged = summary.get("flagged", [])
    if flagged:
        lines += [
            "| # | image | severity | score | regions | worst region |",
            "|---|---|---|---|---|---|",
        ]
        for k, f in enumerate(flagged[:top] if top else flagged, 1):
            lines.append(
                f"| {k} | {_md(f['image'])} | {f.get('severity', NO_HOTSPOT)} | {f['score']:.3f} | "
                f"{f['n_regions']} | {_md(f.get('label', ''))} |"
            )
        lines.append("")
    if summary.get("errors"):
        lines += ["## Errors", ""] + [f"- {_md(e['image'])}: {_md(e['error'])}" for e in summary["errors"]]
        lines.append("")
    return "\n".join(lines)


def summary_lines(summary: dict, top: int = 5) -> list[str]:
    """A few lines for the terminal: counts, then the worst flagged images."""
    out = [
        f"{summary['n_images']} images: {summary['n_scored']} scored, {summary['n_flagged']} flagged, "
        f"{summary['n_errors']} failed"
    ]
    if summary.get("severity_counts"):
        out.append("by severity: " + ", ".join(f"{k} {v}" for k, v in summary["severity_counts"].items()))
    flagged = summary.get("flagged", [])
    if flagged:
        out.append(f"worst first (top {min(top, len(flagged))} of {len(flagged)}):")
        for f in flagged[:top]:
            label = f"  [{f['label']}]" if f.get("label") else ""
            out.append(f"  {f.get('severity', NO_HOTSPOT):<22} score {f['score']:7.3f}  {f['image']}{label}")
    return out


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


__all__ = [
    "KNOWN_SEVERITIES",
    "decode_temperatures",
    "rate_image",
    "save_pictures",
    "SEVERITIES",
    "hotspot_label",
    "image_report",
    "match_regions",
    "order_flagged",
    "region_label",
    "severity_counts",
    "severity_rank",
    "summary_lines",
    "summary_markdown",
    "summarize",
    "temperature_block",
    "worst_severity",
]
