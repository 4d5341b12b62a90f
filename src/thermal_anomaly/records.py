"""The results that travel between modules, as typed records: learned regions, hot spots, findings, images.

The detector outlines :class:`Region` s, :func:`thermal.hotspots.find_hotspots` measures :class:`HotSpot` s,
:mod:`thermal_anomaly.report` rates and joins them into :class:`Finding` s and an :class:`ImageReport`, and
the pipeline wraps that in an :class:`ImageResult`. Each record becomes a JSON dict only at the edges (the
per-image JSON, the batch summary) through its ``to_json()``, whose keys and their order are the JSON's.

Severities are the JSON strings (``"probable deficiency"``, ``"relative: major"``); code that compares them
goes through :class:`~thermal_anomaly.thermal.severity.Severity` (``Severity.parse``, ``severity_rank``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from .thermal.severity import Severity, severity_rank

#: a box [x0, y0, x1, y1] in the image's pixels (x1, y1 exclusive)
Box = list[int]


def _fields_json(record, omit_if_none: frozenset[str] = frozenset()) -> dict:
    """A record's fields in declaration order; those named in ``omit_if_none`` only when set."""
    out = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None and f.name in omit_if_none:
            continue
        out[f.name] = value
    return out


class _Rated:
    """What a record with a ``severity`` string offers for comparisons."""

    severity: str | None

    @property
    def level(self) -> Severity:
        """The NETA class of ``severity`` (``Severity.NONE`` when unset), relative scale or not."""
        return Severity.parse(self.severity)[0]

    @property
    def rank(self) -> int:
        """The order of ``severity`` among all severities (see :func:`~thermal_anomaly.thermal.severity.severity_rank`:
        a relative rating just below the same class in °C)."""
        return severity_rank(self.severity)


@dataclass
class Region(_Rated):
    """A connected part of the learned detector's decision mask, and once rated (see
    :func:`thermal_anomaly.report.match_regions`) the temperature rating of the worst hot spot it overlaps.

    ``score``: the anomaly map's peak inside the region; ``area``: its pixels; ``novelty``: the map's peak
    over the box as a multiple of the pixel threshold (a matched hot spot's own, once rated). ``hotspot_ids``
    is None until the region is rated, then the 1-based ids of the hot spots it overlaps.
    """

    box: Box
    score: float
    area: int | None = None
    novelty: float | None = None
    max_temp: float | None = None
    mean_temp: float | None = None
    reference_temp: float | None = None
    reference: str | None = None
    delta_t: float | None = None
    delta_t_ambient: float | None = None
    severity: str | None = None
    severity_similar: str | None = None
    severity_ambient: str | None = None
    #: set only when a hot spot rates the region
    severity_temperature: str | None = None
    decided_by: str | None = None
    fault_type: str | None = None
    unit: str | None = None
    hotspot_ids: list[int] | None = None

    def to_json(self) -> dict:
        """The region as the image's JSON lists it; a region no hot spot rates has no ``severity_temperature``
        and ``decided_by``."""
        out: dict = {"box": self.box, "score": self.score}
        if self.area is not None:
            out["area"] = self.area
        if self.novelty is not None:
            out["novelty"] = self.novelty
        if self.hotspot_ids is None:
            return out
        out.update(
            max_temp=self.max_temp,
            mean_temp=self.mean_temp,
            reference_temp=self.reference_temp,
            reference=self.reference,
            delta_t=self.delta_t,
            delta_t_ambient=self.delta_t_ambient,
            severity=self.severity,
            severity_similar=self.severity_similar,
            severity_ambient=self.severity_ambient,
        )
        if self.hotspot_ids:
            out["severity_temperature"] = self.severity_temperature
            out["decided_by"] = self.decided_by
        out.update(fault_type=self.fault_type, unit=self.unit, hotspot_ids=self.hotspot_ids)
        return out


#: hot-spot fields that are set later (weighing, matching): the JSON has them only once set
_HOTSPOT_LATER = frozenset(
    {"novelty", "severity_temperature", "decided_by", "id", "region_ids", "in_learned_region"}
)


@dataclass
class HotSpot(_Rated):
    """A part of the scene warmer than its surroundings and than similar components, NETA-rated (see
    :func:`thermal_anomaly.thermal.hotspots.find_hotspots` for the measured fields).

    Set later: ``novelty`` (the learned map there, see :func:`thermal_anomaly.report.novelty_at`),
    ``severity_temperature`` and ``decided_by`` (:func:`thermal_anomaly.report.weigh_hotspots`, which may
    lower ``severity``), ``id``, ``region_ids`` and ``in_learned_region``
    (:func:`thermal_anomaly.report.match_regions`).
    """

    box: Box
    area: int
    max_temp: float
    mean_temp: float
    reference_temp: float
    reference: str
    delta_t: float
    delta_t_ambient: float
    unit: str
    severity: str
    severity_similar: str
    severity_ambient: str
    fault_type: str
    score: float
    peak: list[int] | None = None
    peers: list[Box] | None = None
    edge_drop: float | None = None
    #: the temperature of the outline (see :func:`thermal_anomaly.thermal.hotspots.isotherm`)
    isotherm: float | None = None
    #: the warm component the outline stays within
    component_box: Box | None = None
    novelty: float | None = None
    severity_temperature: str | None = None
    decided_by: str | None = None
    id: int | None = None
    region_ids: list[int] | None = None
    in_learned_region: bool | None = None

    def to_json(self) -> dict:
        """The hot spot as the image's JSON lists it (fields not set yet left out)."""
        return _fields_json(self, _HOTSPOT_LATER)


@dataclass(frozen=True)
class Finding(_Rated):
    """One line of an image's ranked findings: a hot spot (``kind="hotspot"``, ``id`` ``"H<n>"``) or a
    learned region no hot spot explains (``kind="region"``, ``id`` its number)."""

    kind: str
    id: str
    box: Box
    peak: list[int] | None
    severity: str | None
    severity_temperature: str | None
    decided_by: str | None
    delta_t: float | None
    delta_t_ambient: float | None
    max_temp: float | None
    unit: str | None
    novelty: float | None
    reference: str | None
    reference_temp: float | None
    peers: list[Box] | None
    fault_type: str | None

    def to_json(self) -> dict:
        return _fields_json(self)


@dataclass
class TemperatureInfo:
    """What an image's temperatures are and how they were read: the JSON's ``temperature`` block.

    ``unit`` is ``"C"`` or ``"relative"`` (None when there is no temperature map), ``source`` where the
    numbers came from (``radiometric``, ``colorbar+ocr``, ``colorbar``, ``palette:NAME``), ``range`` the
    scale's ends in °C when known, ``reason`` why the map is only relative. The extras appear in the JSON only
    when set: the object ``params`` and ``camera`` of a radiometric read, a ``note`` on raw data that could not
    be used, ``converted_from`` ``"F"`` when the printed scale was °F.
    """

    unit: str | None
    source: str | None
    range: list[float] | None = None
    reason: str = ""
    params: dict | None = None
    camera: str | None = None
    note: str = ""
    converted_from: str = ""

    #: optional fields: in the JSON only when they hold something
    EXTRAS: ClassVar[tuple[str, ...]] = ("params", "camera", "note", "converted_from")

    @classmethod
    def missing(cls, reason: str = "no temperature map") -> TemperatureInfo:
        """The block of an image without a temperature map, saying why."""
        return cls(unit=None, source=None, reason=reason)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "unit": self.unit,
            "source": self.source,
            "range": self.range,
            "reason": self.reason,
        }
        for key in self.EXTRAS:
            value = getattr(self, key)
            if value:
                doc[key] = value
        return doc


@dataclass
class ImageReport:
    """The temperature part of an image's result: rated ``regions``, all ``hotspots``, the ranked
    ``findings``, the ``temperature`` block (what the temperatures are and how they were read), ``severity``
    (worst learned region), ``hotspot_severity`` (worst hot spot) and the outlined ``mask`` (not in the JSON).
    """

    regions: list[Region]
    hotspots: list[HotSpot]
    findings: list[Finding]
    temperature: TemperatureInfo
    severity: str
    hotspot_severity: str
    mask: np.ndarray | None = field(default=None, repr=False)


@dataclass
class ImageResult:
    """What the tool says about one image (the JSON written per image)."""

    image: str
    name: str
    score: float
    is_anomalous: bool
    threshold: float
    model: str
    regions: list[Region]
    group: str | None = None
    severity: str | None = None
    hotspot_severity: str | None = None
    temperature: TemperatureInfo | None = None
    hotspots: list[HotSpot] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: the comparison with a baseline (``predict --baseline``; see :mod:`thermal_anomaly.baseline.reference`):
    #: in the JSON only when baselines were given, so a run without them writes what it always did
    baseline: dict | None = None

    def to_json(self) -> dict:
        out = self._json()
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out

    def _json(self) -> dict:
        return {
            "image": self.image,
            "score": float(self.score),
            "is_anomalous": bool(self.is_anomalous),
            "threshold": float(self.threshold),
            "model": self.model,
            "regions": [r.to_json() for r in self.regions],
            "group": self.group,
            "severity": self.severity,
            "hotspot_severity": self.hotspot_severity,
            "temperature": None if self.temperature is None else self.temperature.to_json(),
            "hotspots": [h.to_json() for h in self.hotspots],
            "findings": [f.to_json() for f in self.findings],
        }


__all__ = ["Box", "Finding", "HotSpot", "ImageReport", "ImageResult", "Region", "TemperatureInfo"]
