"""What a thermographer wants from one image and from a batch: learned regions rated in temperature terms.

The learned detector says *where* an image is unlike normal; :func:`thermal.hotspots.find_hotspots` says
*how hot* things are and rates them (NETA MTS). This module joins the two: each learned region takes the
rating of the worst hot spot it overlaps, hot spots that no learned region covers are reported too (the
model may have missed them). The pictures are drawn by :mod:`thermal_anomaly.pictures`, a batch is
summarised by :mod:`thermal_anomaly.summary`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from .postprocess import find_regions
from .records import Finding, HotSpot, ImageReport, Region, TemperatureInfo
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


def hotspot_key(h: HotSpot | Region) -> tuple[int, float]:
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
            best = max(hits, key=hotspot_key)
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


def temperature_block(temp) -> TemperatureInfo:
    """The image-level ``temperature`` entry of a report: what the temperatures are, how they were read."""
    if temp is None:
        return TemperatureInfo.missing()
    # the scale ends as printed (one decimal on every camera seen), not the float noise of the fit
    return temp.describe(digits=2)


def image_report(
    regions: Sequence[Region],
    hotspots: Sequence[HotSpot],
    temp=None,
    *,
    mask: np.ndarray | None = None,
    temperature_error: str | None = None,
    flagged: bool = False,
) -> ImageReport:
    """The temperature part of an image's result: rated ``regions``, all ``hotspots``, ``temperature``,
    ``severity`` and ``hotspot_severity`` (worst hot spot, learned region or not); ``mask`` is the one given.

    ``severity`` is the worst learned region's; of a ``flagged`` image, its worst finding's, learned region or
    hot spot (the findings' first: a flagged image whose worst hot spot lies outside the learned regions is
    not "none"). An image the model does not flag keeps its regions' (none): its hot spots are rated in
    ``hotspot_severity`` and listed apart in the batch summary."""
    block = temperature_block(temp)
    if temperature_error:
        block.reason = temperature_error
    rated, spots = match_regions(
        regions,
        hotspots,
        mask=mask,
        values=None if temp is None else np.asarray(temp.values),
        valid=None if temp is None else np.asarray(temp.valid, bool),
        unit=block.unit,
    )
    return ImageReport(
        regions=rated,
        hotspots=spots,
        findings=ranked_findings(rated, spots),
        temperature=block,
        severity=worst_severity(
            [r.severity for r in rated] + ([h.severity for h in spots] if flagged else [])
        ),
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
    ``decided_by`` names the comparison that set it (``similar``: sister components, ``local``: the local
    background where it has none, or ``ambient``). Where the learned map says
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
        # the ΔT's own reference when it rated worse: sister components, or the local background
        h.decided_by = (h.reference or "similar") if sim >= amb else "ambient"
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
    if mask is not None and temp is not None and anomaly_map is not None and mask.any():
        from .thermal.outlines import outline_regions

        # each learned region outlined by the isotherm around its peak; boxes and areas follow the outlines
        mask = outline_regions(temp, anomaly_map, mask)
        regions = find_regions(anomaly_map, mask)
    if learned:
        regions = [
            dataclasses.replace(
                r, novelty=round(novelty_at(r.box, anomaly_map, threshold, anomaly_map.shape), 4)
            )
            for r in regions
        ]
    return image_report(regions, spots, temp, mask=mask, temperature_error=err, flagged=flagged), temp


__all__ = [
    "KNOWN_SEVERITIES",
    "decode_temperatures",
    "hotspot_key",
    "rate_image",
    "SEVERITIES",
    "image_report",
    "match_regions",
    "severity_rank",
    "temperature_block",
    "worst_severity",
]
