"""The detector interface and what every detector shares: preprocessing, calibration on normal
images, thresholds, post-processing and one-file safe save/load.

A subclass implements four hooks on tensors at the working resolution:
``_fit(x, valid)``, ``_raw_maps(x) -> (N, h, w)``, ``_state()`` / ``_load_state(state)``; and may
override ``_calibration_maps`` (maps of training normals by a model that did not see them) and
``_references`` (a reconstruction or reference picture for the result panels).
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, ModelError, NotFittedError
from ..postprocess import clean_mask, fill_holes, fill_invalid, find_regions, resize_map, smooth
from ..thermal.analysis import ThermalAnalysis

MODEL_FORMAT = "thermal-anomaly-model"
MODEL_FORMAT_VERSION = 1
ALL_GROUPS = "__all__"
#: normals an asset needs before it gets a score scale of its own
MIN_GROUP_NORMALS = 2
#: what the learned model sees: the picture as exported, or its temperatures re-rendered on one scale
INPUT_MODES = ("rgb", "thermal")
#: a flagged image whose map stays under the pixel threshold is outlined at this share of its map's peak
OUTLINE_PEAK_SHARE = 0.5
#: a picture whose "overlay" covers more than this share is scored whole (the mask must be wrong there)
MOSTLY_OVERLAY = 0.6


@dataclass
class Prediction:
    """Batch result. Maps and masks are lists because images keep their own original sizes.

    ``anomaly_map`` values share one scale across images and models' calibration: the scale of
    ``pred_score`` (1.0 ~ the typical peak of a normal image of the same asset).
    """

    pred_score: np.ndarray
    anomaly_map: list[np.ndarray]
    pred_label: np.ndarray
    pred_mask: list[np.ndarray]
    regions: list[list[dict]]
    reference: list[np.ndarray | None] = field(default_factory=list)
    threshold: float = float("nan")
    #: with ``score(..., explain=True)``: per image, the maps the detector combined (see ``Detector.explain``)
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pred_score)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 float array in [0, 1] -> 3×H×W float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


class Detector(ABC):
    """Learns normal from fault-free images; scores images; higher score = more anomalous."""

    name: ClassVar[str] = "base"
    #: folds of the default calibration (maps of normals by models that did not see them)
    calibration_folds: ClassVar[int] = 5
    #: key of the learned tensors in the model file
    state_key: ClassVar[str] = "state"

    def __init__(
        self,
        *,
        img_size: int = 256,
        blur_sigma: float = 4.0,
        mask_overlays: bool = True,
        threshold_quantile: float = 0.95,
        mask_kernel: int = 3,
        input_mode: str = "rgb",
    ) -> None:
        if img_size < 32:
            raise ValueError(f"img_size must be at least 32, got {img_size}")
        self.img_size = int(img_size)
        self.blur_sigma = float(blur_sigma)
        self.mask_overlays = bool(mask_overlays)
        self.threshold_quantile = float(threshold_quantile)
        self.mask_kernel = int(mask_kernel)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
        self.input_mode = input_mode
        self.threshold_: float | None = None
        self.pixel_threshold_: float | None = None
        self.calibration_: dict[str, float] = {}
        self.calibration_scores_: list[float] = []
        #: per-asset scale of the pixel map (equal to ``calibration_`` unless ``_score_maps`` differs)
        self.map_calibration_: dict[str, float] = {}

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments of this detector (its whole configuration)."""
        config: dict[str, Any] = {}
        for pname, p in inspect.signature(type(self).__init__).parameters.items():
            if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            config[pname] = getattr(self, pname)
        return config

    def clone(self) -> Detector:
        """A fresh, unfitted detector with the same configuration."""
        return type(self)(**self.get_config())

    @property
    def is_fitted(self) -> bool:
        return self.threshold_ is not None

    # ------------------------------------------------------------------ preprocessing
    def prepare(self, images: Sequence[np.ndarray | ThermalAnalysis]) -> tuple[torch.Tensor, torch.Tensor]:
        """Resize to the working size and blank out camera overlays.

        ``images`` are pictures (H×W×3) or their :class:`ThermalAnalysis` (whose overlays and scale
        positions are then reused, e.g. by the report). Returns ``x`` (N, 3 + extra channels, S, S) in
        [0, 1] and ``valid`` (N, S, S) bool, False on overlays.
        """
        s = self.img_size
        xs, vs = [], []
        # one image at a time: each analysis is dropped once its image is prepared (memory stays per image;
        # analysing two at a time in threads measured no faster on two cores and 350 MB more at peak)
        for img in images:
            x, valid = self._prepare_one(_as_analysis(img))
            xs.append(x)
            vs.append(torch.from_numpy(valid))
        if not xs:
            return torch.zeros((0, 3, s, s)), torch.zeros((0, s, s), dtype=torch.bool)
        return torch.stack(xs), torch.stack(vs)

    def _prepare_one(self, a: ThermalAnalysis) -> tuple[torch.Tensor, np.ndarray]:
        s = self.img_size
        ov = None
        if self.mask_overlays:
            ov = a.overlay
            if ov.mean() > MOSTLY_OVERLAY:
                ov = None
        if self.input_mode == "thermal":
            from ..thermal.render import render_fixed_scale

            small, valid = render_fixed_scale(a, ov, s)
        else:
            small, valid = _fill_overlays(cv2.resize(a.rgb, (s, s), interpolation=cv2.INTER_AREA), ov)
        x = image_to_tensor(small)
        extra = self._extra_channel(a, ov)
        if extra is not None:
            extra = cv2.resize(extra.astype(np.float32, copy=False), (s, s), interpolation=cv2.INTER_AREA)
            extra = torch.from_numpy(extra.reshape(s, s, -1)).permute(2, 0, 1)
            x = torch.cat([x, extra])
        return x, valid

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> None:
        """Learn normal from the prepared normal images."""

    @abstractmethod
    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Raw anomaly maps (N, h, w) at any resolution; higher = more anomalous."""

    @abstractmethod
    def _state(self) -> dict[str, torch.Tensor]:
        """Learned tensors to save."""

    @abstractmethod
    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore learned tensors saved by ``_state``."""

    @classmethod
    def _upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A saved configuration from an older version, completed so the model scores as it was calibrated
        (an option added later defaults to what the old code did, not to today's default)."""
        return config

    def _extra_channel(self, image: ThermalAnalysis, overlay: np.ndarray | None) -> np.ndarray | None:
        """Optional per-pixel evidence computed from the image's analysis (e.g. heat rise), H×W or H×W×C, stacked
        as input channels after RGB so it travels with the picture through fit, calibration and scoring."""
        return None

    def _references(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional picture to show beside the input (e.g. the reconstruction), (N, 3, S, S)."""
        return None

    def _parts(self, x: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """Optional: the maps ``_raw_maps`` combines, each (N, h, w) at any resolution, in one pass.

        Must hold ``"fused"`` (exactly what ``_raw_maps(x)`` gives), e.g. also ``"learned"`` (the learned
        model's own map) and ``"evidence"`` (what it was combined with), so pictures can show why a
        region stands out without running the model twice. None: the detector combines nothing.
        """
        return None

    def _score_maps(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Maps whose (smoothed) peak is the image score, from the pixel maps ``raw`` (N, S, S) and the input.

        Default: the pixel map itself. A detector overrides it when deciding *whether* an image is faulty
        needs a different balance of its evidence than showing *where* (see PatchCore's score weighting).
        """
        return raw

    def _calibration_maps(
        self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Maps of training normals, each by a model that did not see it.

        Default: k-fold refits of a clone. Returns (indices into x, raw maps).
        """
        n = len(x)
        k = min(self.calibration_folds, n)
        if k < 2:
            return np.arange(n), self._raw_maps(x)
        rng = np.random.default_rng(0)
        folds = np.array_split(rng.permutation(n), k)
        idx_out, maps_out = [], []
        for held in folds:
            train = np.setdiff1d(np.arange(n), held)
            model = self.clone()
            model._fit(x[train], valid[train], progress=False)
            idx_out.append(held)
            maps_out.append(_resize_batch(model._raw_maps(x[held]), self.img_size))
        return np.concatenate(idx_out), torch.cat(maps_out)

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        *,
        groups: Sequence[str | None] | None = None,
        progress: bool = True,
    ) -> Detector:
        """Learn normal from fault-free images; learn the score scale and the threshold.

        ``groups`` names each image's asset (e.g. the transformer); scores are normalised by the
        normal images of the same asset, so one threshold works across scenes.
        """
        if len(images) == 0:
            raise DataError("no training images: a detector needs at least one normal image")
        x, valid = self.prepare(images)
        self._fit(x, valid, progress=progress)
        self._calibrate_on(x, valid, groups, progress=progress)
        return self

    def recalibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        *,
        groups: Sequence[str | None] | None = None,
        progress: bool = True,
    ) -> Detector:
        """Re-learn the score scale and thresholds for the current learned state (e.g. other weights)."""
        x, valid = self.prepare(images)
        self._calibrate_on(x, valid, groups, progress=progress)
        return self

    def _calibrate_on(self, x, valid, groups, *, progress: bool) -> None:
        idx, raw = self._calibration_maps(x, valid, progress=progress)
        raw = _resize_batch(raw, self.img_size)
        score_maps = self._score_maps(raw, x[idx])
        same = score_maps is raw
        score_maps = raw if same else _resize_batch(score_maps, self.img_size)

        def peaks(maps: torch.Tensor) -> np.ndarray:
            return np.array(
                [
                    self._peak(self._smooth_map(m.numpy(), v.numpy()), v.numpy())
                    for m, v in zip(maps, valid[idx], strict=True)
                ]
            )

        grp = [None] * len(x) if groups is None else list(groups)
        grp = [grp[i] for i in idx]
        self.calibration_, norm, self.threshold_ = self._scale_and_threshold(peaks(score_maps), grp)
        self.calibration_scores_ = [float(v) for v in norm]
        if same:
            self.map_calibration_, self.pixel_threshold_ = dict(self.calibration_), self.threshold_
        else:  # the pixel map gets its own per-asset scale and threshold, learned the same way
            self.map_calibration_, _, self.pixel_threshold_ = self._scale_and_threshold(peaks(raw), grp)

    def _scale_and_threshold(
        self, scores: np.ndarray, groups: list[str | None]
    ) -> tuple[dict[str, float], np.ndarray, float]:
        """Per-asset scale (median normal peak), the normalised scores and the threshold learned on them."""
        scores = np.maximum(np.asarray(scores, dtype=np.float64), 1e-12)
        cal: dict[str, float] = {ALL_GROUPS: float(np.median(scores))}
        by_group: dict[str, list[float]] = {}
        for s, g in zip(scores, groups, strict=True):
            if g is not None:
                by_group.setdefault(str(g), []).append(float(s))
        for g, vals in by_group.items():
            # One normal scored without itself measures how unlike the *other* assets it is, not the
            # variation within its own asset: such groups use the pooled scale.
            if len(vals) >= MIN_GROUP_NORMALS:
                cal[g] = float(np.median(vals))
        norm = np.array(
            [
                s / cal.get(str(g), cal[ALL_GROUPS]) if g is not None else s / cal[ALL_GROUPS]
                for s, g in zip(scores, groups, strict=True)
            ]
        )
        return cal, norm, _lognormal_threshold(norm, self.threshold_quantile)

    def _scale(self, group: str | None, *, pixel: bool = False) -> float:
        cal = (self.map_calibration_ or self.calibration_) if pixel else self.calibration_
        if group is not None and str(group) in cal:
            return cal[str(group)]
        return cal[ALL_GROUPS]

    def _smooth_map(self, amap: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return smooth(fill_invalid(amap, valid), self.blur_sigma * self.img_size / 256.0)

    @staticmethod
    def _peak(amap: np.ndarray, valid: np.ndarray) -> float:
        return float(amap[valid].max()) if valid.any() else float(amap.max())

    def score(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        *,
        groups: Sequence[str | None] | None = None,
        batch_size: int = 8,
        threshold: float | None = None,
        pixel_threshold: float | None = None,
        explain: bool = False,
    ) -> Prediction:
        """Score images (any sizes). Maps come back at each image's original size.

        ``explain``: also fill ``Prediction.parts`` (see :meth:`explain`) from the same model pass.
        """
        if not self.is_fitted:
            raise NotFittedError(f"{self.name} detector is not fitted: call fit() or load a model file")
        thr = self.threshold_ if threshold is None else float(threshold)
        pthr = (
            (self.pixel_threshold_ if threshold is None else float(threshold))
            if pixel_threshold is None
            else float(pixel_threshold)
        )
        grp = [None] * len(images) if groups is None else list(groups)
        scores, maps, labels, masks, regions, refs, parts = [], [], [], [], [], [], []
        for start in range(0, len(images), batch_size):
            batch = [_as_analysis(images[i]) for i in range(start, min(start + batch_size, len(images)))]
            x, valid = self.prepare(batch)
            with torch.no_grad():
                extra = self._parts(x) if explain else None
                raw_t = _resize_batch(self._raw_maps(x) if extra is None else extra["fused"], self.img_size)
                score_t = self._score_maps(raw_t, x)
                raw = raw_t.numpy()
                score_maps = None if score_t is raw_t else _resize_batch(score_t, self.img_size).numpy()
                ref = self._references(x)
            for j, a in enumerate(batch):
                shape = a.shape
                v = valid[j].numpy()
                g = grp[start + j]
                m = self._smooth_map(raw[j], v) / self._scale(g, pixel=True)
                m[~v] = 0.0
                if score_maps is None:
                    s = self._peak(m, v)
                else:
                    s = self._peak(self._smooth_map(score_maps[j], v), v) / self._scale(g)
                full = resize_map(m, shape)
                mask = self._outline(full, pthr) if s >= thr else np.zeros(shape, dtype=bool)
                scores.append(s)
                maps.append(full)
                labels.append(s >= thr)
                masks.append(mask)
                regions.append(find_regions(full, mask))
                if explain:
                    parts.append(self._explained(extra, j, v, full))
                if ref is not None:
                    r = ref[j].permute(1, 2, 0).numpy()
                    refs.append(cv2.resize(r, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR))
                else:
                    refs.append(None)
        return Prediction(
            pred_score=np.array(scores, dtype=np.float64),
            anomaly_map=maps,
            pred_label=np.array(labels, dtype=bool),
            pred_mask=masks,
            regions=regions,
            reference=refs,
            threshold=float(thr),
            parts=parts,
        )

    def _outline(self, amap: np.ndarray, pixel_threshold: float) -> np.ndarray:
        """Mask of a flagged image: where its map is above the pixel threshold.

        The image score and the pixel map weigh the evidence differently (see ``_score_maps``), so an image
        can be flagged while its map stays under the pixel threshold everywhere. It still gets an outline,
        at ``OUTLINE_PEAK_SHARE`` of its map's peak (the half-maximum contour), so that every faulty
        decision points somewhere: the one region around the peak (weaker bumps above half of a weak peak
        are not findings).
        """
        peak = float(amap.max()) if amap.size else 0.0
        if peak <= 0.0:
            return np.zeros(amap.shape, dtype=bool)
        if peak >= pixel_threshold:
            return clean_mask(amap >= pixel_threshold, self.mask_kernel)
        core = (amap >= OUTLINE_PEAK_SHARE * peak).view(np.uint8)
        _n, labels = cv2.connectedComponents(core, connectivity=8)
        return labels == labels.flat[int(np.argmax(amap))]

    def explain(
        self, images: Sequence[np.ndarray | ThermalAnalysis], *, groups: Sequence[str | None] | None = None
    ) -> list[dict[str, np.ndarray]]:
        """Per image, at its original size, the maps the detector combined into its anomaly map.

        Always ``"learned"`` (the learned model's own map; raw units, overlays 0) and ``"fused"`` (the
        anomaly map ``score`` gives); detectors that combine evidence add it, e.g. PatchCore's hot-spot
        fusion adds ``"evidence"`` (local heat rise). A detector that combines nothing has learned = fused.
        """
        return self.score(images, groups=groups, explain=True).parts

    def _explained(
        self, extra: dict[str, torch.Tensor] | None, j: int, valid: np.ndarray, fused: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Image ``j``'s parts at the size of its ``fused`` map."""
        out: dict[str, np.ndarray] = {"learned": fused, "fused": fused}
        for key, maps in (extra or {}).items():
            if key == "fused":
                continue
            m = _resize_batch(maps[j : j + 1], self.img_size)[0].numpy().astype(np.float32)
            m[~valid] = 0.0
            out[key] = resize_map(m, fused.shape)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write one model file atomically (write to a temporary name, then rename)."""
        if not self.is_fitted:
            raise NotFittedError(f"cannot save an unfitted {self.name} detector")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "detector": self.name,
            "config": self.get_config(),
            "img_size": self.img_size,
            "threshold": float(self.threshold_),
            "pixel_threshold": float(self.pixel_threshold_),
            "calibration": dict(self.calibration_),
            "map_calibration": dict(self.map_calibration_ or self.calibration_),
            "calibration_scores": list(self.calibration_scores_),
            "state_key": self.state_key,
            self.state_key: {k: v.detach().cpu().contiguous() for k, v in self._state().items()},
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            torch.save(payload, tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Detector:
        """Load a model file safely (no unpickling of arbitrary objects)."""
        from . import DETECTORS

        payload = read_model_file(path)
        name = payload["detector"]
        if name not in DETECTORS:
            raise ModelError(f"{path}: unknown detector '{name}' (known: {', '.join(sorted(DETECTORS))})")
        klass = DETECTORS[name]
        if cls is not Detector and not issubclass(klass, cls):
            raise ModelError(f"{path}: holds a '{name}' model, not a {cls.name} model")
        try:
            det = klass(**klass._upgrade_config(dict(payload["config"])))
            det._load_state(payload[payload.get("state_key", "state")])
        except (TypeError, KeyError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: model file does not match the '{name}' detector: {exc}") from None
        det.threshold_ = float(payload["threshold"])
        det.pixel_threshold_ = float(payload.get("pixel_threshold", payload["threshold"]))
        det.calibration_ = {str(k): float(v) for k, v in payload["calibration"].items()}
        det.map_calibration_ = {
            str(k): float(v) for k, v in payload.get("map_calibration", payload["calibration"]).items()
        }
        det.calibration_scores_ = [float(v) for v in payload.get("calibration_scores", [])]
        return det


def read_model_file(path: str | os.PathLike) -> dict:
    """Read and validate a model file's envelope; every failure is a ModelError naming the file."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: model file not found")
    if not p.is_file():
        raise ModelError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: model file is empty")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is the same user error
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{p}: not a readable thermal-anomaly model file ({msg[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelError(f"{p}: not a thermal-anomaly model file (foreign or corrupt content)")
    if int(payload.get("format_version", -1)) > MODEL_FORMAT_VERSION:
        raise ModelError(f"{p}: model file format {payload.get('format_version')} is newer than this tool")
    for key in ("detector", "config", payload.get("state_key", "state"), "threshold", "calibration"):
        if key not in payload:
            raise ModelError(f"{p}: model file lacks '{key}'")
    return payload


#: spread of log normal-image scores assumed when too few normals are there to measure it
PRIOR_LOG_SPREAD = 0.15


def _lognormal_threshold(normalised: np.ndarray, quantile: float) -> float:
    """Image threshold from normalised normal scores (median ~1).

    Scores are modelled as log-normal with a robust centre and spread (median and MAD of the logs): a
    few normals of assets with no other reference image score far out, and they say how unlike the
    other assets they are, not how much normal images vary. With fewer than three normals the spread is
    a documented prior instead of a guess from one or two numbers.
    """
    from scipy.stats import norm

    z = float(norm.ppf(quantile))
    vals = np.log(np.maximum(normalised, 1e-12))
    if len(vals) >= 3:
        mu = float(np.median(vals))
        sigma = max(1.4826 * float(np.median(np.abs(vals - mu))), 0.02)
    else:
        mu, sigma = 0.0, PRIOR_LOG_SPREAD
    return float(np.exp(mu + z * sigma))


def _fill_overlays(small: np.ndarray, overlay: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Fill camera overlays from their surroundings at the working size; return (image, valid)."""
    s_h, s_w = small.shape[:2]
    if overlay is None or not overlay.any():
        return small, np.ones((s_h, s_w), dtype=bool)
    ov = cv2.resize(overlay.astype(np.uint8), (s_w, s_h), interpolation=cv2.INTER_NEAREST)
    ov = cv2.dilate(ov, np.ones((3, 3), np.uint8))
    return fill_holes(small, ov == 0), ov == 0


def _as_analysis(image: np.ndarray | ThermalAnalysis) -> ThermalAnalysis:
    if isinstance(image, ThermalAnalysis):
        return image
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise DataError(f"expected an H×W×3 RGB image, got shape {img.shape}")
    return ThermalAnalysis(img)


def _resize_batch(maps: torch.Tensor, size: int) -> torch.Tensor:
    maps = maps.detach().float()
    if maps.shape[-2:] == (size, size):
        return maps
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
