"""An inspection against the baselines given for a batch (``predict --baseline``): which one it is compared
with, and what its JSON and pictures say about it.

Every baseline is registered to the inspection; of those that align, the one whose aligned map agrees best
with the inspection (highest correlation, then most inliers: the nearest viewpoint) is compared in °C. A
baseline that is the inspection's own file is skipped (a folder given both as inspection and as baseline
would otherwise compare each image with itself). When none aligns, the block says why for each one, and
nothing else about the image changes: a comparison is never guessed.

``predict --baseline auto`` compares each image with its own asset's normal images instead: ``train`` records
them in the model file (:func:`normals_record`), and :class:`BaselineSet` picks an image's by its folders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, ThermalAnomalyError
from ..thermal.analysis import ThermalAnalysis
from ..thermal.radiometric import RadiometricParams
from .comparison import Comparison, compare
from .registration import Registration, Views, register

log = logging.getLogger(__name__)

#: the record's key for normal images in no asset folder (a model trained on one asset's own folder)
NO_ASSET = ""


@dataclass
class Reference:
    """A baseline image of a batch: its path as given, decoded once, its registration views kept;
    ``name``, when set, is what findings and the JSON call it (the service: the file name it was uploaded
    under, not where it is stored)."""

    path: Path
    views: Views
    name: str = ""

    @property
    def analysis(self) -> ThermalAnalysis:
        return self.views.analysis

    @property
    def label(self) -> str:
        """The name findings cite: ``name``, else the file's name (its folders are the user's)."""
        return self.name or self.path.name

    @classmethod
    def read(
        cls, path: str | os.PathLike, params: RadiometricParams | None = None, name: str = ""
    ) -> Reference:
        """One baseline file, decoded now (a DataError naming it when it cannot be)."""
        p = Path(path)
        if not p.exists():
            raise DataError(f"{p}: baseline: no such file or folder")
        try:
            analysis = ThermalAnalysis.from_file(p, params).prefetch()
        except ThermalAnomalyError as exc:
            raise DataError(f"baseline {exc}") from None
        return cls(p, Views(analysis), name)


def load_references(
    paths: Sequence[str | os.PathLike | Reference], params: RadiometricParams | None = None
) -> list[Reference]:
    """The baselines of a batch: files, folders searched for images, or references already read (kept as
    they are). A file that cannot be read stops the batch before any image is scored (a DataError naming
    it): a run without the asked-for comparison would look like one where nothing changed."""
    from ..data import find_images

    refs = []
    for given in paths:
        if isinstance(given, Reference):
            refs.append(given)
            continue
        p = Path(given)
        files = find_images(p) if p.is_dir() else [p]
        if p.is_dir() and not files:
            raise DataError(f"{p}: baseline folder holds no images")
        refs.extend(Reference.read(f, params) for f in files)
    return refs


def _same_file(a: str | os.PathLike | None, b: Path) -> bool:
    if a is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass
class Attempt:
    """One baseline tried for an inspection: its registration (None when skipped) and why it was not
    used ("" for the one compared)."""

    reference: Reference
    registration: Registration | None
    reason: str

    def to_json(self) -> dict:
        reg = self.registration
        ref = self.reference
        out: dict = {"file": ref.name or str(ref.path), "aligned": bool(reg is not None and reg.aligned)}
        out["reason"] = self.reason
        if reg is not None:
            d = reg.to_dict()
            out.update(inliers=d["inliers"], residual_px=d["residual_px"], correlation=d["correlation"])
        return out


def _rise_text(rise: float, unit: str) -> str:
    return f"+{rise:.1f} °C" if unit == "C" else f"+{rise:.3f} (relative)"


@dataclass
class BaselineOutcome:
    """An inspection against a batch's baselines: the one compared (``reference``, ``registration``,
    ``comparison``), or none with every attempt's reason."""

    attempts: list[Attempt]
    reference: Reference | None = None
    registration: Registration | None = None
    comparison: Comparison | None = field(default=None, repr=False)
    #: the reason when there was no baseline to try (``--baseline auto``: why the asset has none)
    none_reason: str = "no baseline given"

    @property
    def aligned(self) -> bool:
        """True when a baseline aligned and its temperatures were compared."""
        return self.comparison is not None and self.comparison.ok

    def finding(self, rise: float) -> str:
        """The line a finding carries: "since baseline <file>: +ΔT °C"."""
        assert self.reference is not None and self.comparison is not None
        return f"since baseline {self.reference.label}: {_rise_text(rise, self.comparison.unit)}"

    def reason(self) -> str:
        if self.aligned:
            return ""
        if not self.attempts:
            return self.none_reason
        return "no baseline aligned: " + "; ".join(
            f"{a.reference.label}: {a.reason}" for a in self.attempts if a.reason
        )

    def to_json(self) -> dict:
        """The image JSON's ``baseline`` block."""
        out: dict = {"file": None, "aligned": self.aligned, "reason": self.reason()}
        if self.aligned:
            reg, cmp = self.registration, self.comparison
            assert reg is not None and cmp is not None and self.reference is not None
            d, c = reg.to_dict(), cmp.to_dict()
            out["file"] = self.reference.name or str(self.reference.path)
            out["registration"] = {
                k: d[k] for k in ("inliers", "inlier_ratio", "residual_px", "correlation", "overlap", "model")
            }
            out["registration"]["homography"] = d["homography"]
            out.update(unit=c["unit"], offset=c["offset"], compared=c["compared"])
            out["severity"] = cmp.regions[0].severity if cmp.regions else None
            out["regions"] = [{**r.to_dict(), "finding": self.finding(r.max_rise)} for r in cmp.regions]
        out["tried"] = [a.to_json() for a in self.attempts]
        return out


def against_references(
    inspection: ThermalAnalysis, references: Sequence[Reference], path: str | os.PathLike | None = None
) -> BaselineOutcome:
    """Register ``inspection`` (read from ``path``) to each reference; compare it with the best aligned
    one whose temperatures can be compared (same unit, enough overlap)."""
    views = Views(inspection)
    attempts: list[Attempt] = []
    for ref in references:
        if _same_file(path, ref.path):
            attempts.append(Attempt(ref, None, "the inspection itself"))
            continue
        reg = register(views, ref.views)
        attempts.append(Attempt(ref, reg, "" if reg.aligned else reg.reason))
    aligned = [a for a in attempts if a.registration is not None and a.registration.aligned]
    aligned.sort(key=lambda a: (-a.registration.correlation, -a.registration.inliers))  # type: ignore[union-attr]
    chosen = None
    for a in aligned:
        if chosen is not None:
            a.reason = "aligned; another baseline agrees better"
            continue
        cmp = compare(inspection, a.reference.analysis, a.registration)  # type: ignore[arg-type]
        if cmp.ok:
            chosen = BaselineOutcome(attempts, a.reference, a.registration, cmp)
        else:
            a.reason = cmp.reason
    return chosen or BaselineOutcome(attempts)


def warming_map(outcome: BaselineOutcome, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """The rise inside the comparison's regions (0 elsewhere), at ``shape`` (h, w) when given; None
    without an aligned baseline."""
    if not outcome.aligned:
        return None
    assert outcome.comparison is not None
    warm = outcome.comparison.warming()
    if warm is None or shape is None or warm.shape == tuple(shape):
        return warm
    from ..postprocess import resize_map

    return resize_map(warm, tuple(shape))


# ------------------------------------------------------------------------- per-asset baselines (auto)
def normals_record(records: Iterable) -> dict[str, list[str]]:
    """Asset -> its normal images' absolute paths (symbolic links kept as the user sees them), in the
    data set's order, from a training set's records (``ImageRecord``: ``path``, ``group``). Plain data, so
    it travels in the model file; absolute so that ``predict`` finds them from any working folder."""
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(NO_ASSET if r.group is None else str(r.group), []).append(os.path.abspath(r.path))
    return out


def asset_of(record: Mapping[str, object], parts: Sequence[str], default: str | None = None) -> str | None:
    """The recorded asset of an image: its nearest enclosing folder the record names, else ``default``
    (``--group``), else the record's images without an asset folder, else None. Independent of the
    detector's calibration, which leaves out assets with a single normal."""
    for part in reversed(parts):
        if part in record:
            return part
    if default is not None:
        return default
    return NO_ASSET if NO_ASSET in record else None


def load_asset_references(
    record: Mapping[str, Sequence[str]],
    assets: Iterable[str | None],
    params: RadiometricParams | None = None,
    quiet: bool = False,
) -> dict[str, list[Reference]]:
    """The recorded normals of ``assets`` (those of a batch: the others are not decoded), read now. A file
    that is missing or cannot be read is left out with a one-line warning naming it (unless ``quiet``):
    the record is the model's, so a moved or deleted normal must not stop an inspection."""
    out: dict[str, list[Reference]] = {}
    for asset in sorted({a for a in assets if a is not None and a in record}):
        refs = []
        for f in record[asset]:
            try:
                refs.append(Reference.read(f, params))
            except DataError:
                if not quiet:
                    what = "cannot be read" if Path(f).exists() else "not found"
                    log.warning(
                        "warning: %s: recorded normal image of asset '%s' %s; skipped", f, asset, what
                    )
        out[asset] = refs
    return out


@dataclass
class BaselineSet:
    """A batch's baselines: ``given`` apply to every image; ``by_asset`` (``--baseline auto``; None when
    not asked) holds each recorded asset's normals, read, for the images of that asset."""

    given: list[Reference] = field(default_factory=list)
    by_asset: dict[str, list[Reference]] | None = None

    def __bool__(self) -> bool:
        return bool(self.given) or self.by_asset is not None

    def for_asset(self, asset: str | None) -> list[Reference]:
        """The asset's own normals, then the given baselines not among them."""
        own = list(self.by_asset.get(asset, [])) if self.by_asset is not None and asset is not None else []
        seen = {os.path.abspath(r.path) for r in own}
        return own + [r for r in self.given if os.path.abspath(r.path) not in seen]

    def _none_reason(self, asset: str | None) -> str:
        if self.by_asset is None:
            return "no baseline given"
        if asset is None or asset not in self.by_asset:
            if asset in (None, NO_ASSET):
                return "no recorded normal images: the image's folders name no asset the model was trained on"
            return f"the model records no normal images of asset '{asset}'"
        return f"the recorded normal images of asset '{asset}' could not be read"

    def compare(
        self, inspection: ThermalAnalysis, asset: str | None, path: str | os.PathLike | None = None
    ) -> BaselineOutcome:
        """``inspection`` against its asset's baselines (see :func:`against_references`)."""
        refs = self.for_asset(asset)
        if not refs:
            return BaselineOutcome([], none_reason=self._none_reason(asset))
        return against_references(inspection, refs, path)
