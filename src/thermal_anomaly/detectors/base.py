"""The detector interface and what every detector shares: preprocessing, scoring and outlining.

Calibration on normal images (per-asset scales, thresholds) lives in :mod:`.calibration`, the one-file
safe save/load in :mod:`.persistence`; ``Detector.fit`` and ``Detector.save/load`` call them.

A subclass implements four hooks on tensors at the working resolution:
``_fit(x, valid) -> fitted``, ``_raw_maps(x) -> (N, h, w)``, ``_state()`` / ``_load_state(state)``; and may
override ``_calibration_maps(x, valid, fitted)`` (maps of training normals by a model that did not see
them; ``fitted`` is what ``_fit`` returned, e.g. the training features, so they need not be computed twice)
and ``_references`` (a reconstruction or reference picture for the result panels).
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from ..errors import DataError, NotFittedError
from ..postprocess import (
    clean_mask,
    fill_holes,
    fill_invalid,
    find_regions,
    foreground_box,
    from_working,
    smooth,
    to_working,
    working_box,
)
from ..records import Region
from ..thermal.analysis import ThermalAnalysis
from ..thermal.palette import mask_u8
from ..threads import one_blas_thread
from .calibration import CALIBRATION_FOLDS, Calibration, kfold_maps, learn_calibration, scale_for
from .maps import resize_batch
from .persistence import load_model, save_model

#: smallest working size: the AutoEncoders halve the picture five times (32 -> 1)
MIN_IMG_SIZE = 32
#: what the learned model sees: the picture as exported, or its temperatures re-rendered on one scale
INPUT_MODES = ("rgb", "thermal")
#: a flagged image whose map stays under the pixel threshold is outlined at this share of its map's peak
OUTLINE_PEAK_SHARE = 0.5
#: a picture whose "overlay" covers more than this share is scored whole (the mask must be wrong there)
MOSTLY_OVERLAY = 0.6
#: overlays are grown by this square at the working size: their resized, anti-aliased edges are not picture
OVERLAY_GROW = 3
#: working size at which ``blur_sigma`` is given in pixels (it scales with ``img_size``)
REFERENCE_SIZE = 256.0


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
    #: per image, the learned mask's connected parts (see :func:`~thermal_anomaly.postprocess.find_regions`)
    regions: list[list[Region]]
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
    calibration_folds: ClassVar[int] = CALIBRATION_FOLDS
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
        keep_aspect: bool = True,
    ) -> None:
        if img_size < MIN_IMG_SIZE:
            raise ValueError(f"img_size must be at least {MIN_IMG_SIZE}, got {img_size}")
        self.img_size = int(img_size)
        self.blur_sigma = float(blur_sigma)
        self.mask_overlays = bool(mask_overlays)
        self.threshold_quantile = float(threshold_quantile)
        self.mask_kernel = int(mask_kernel)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
        self.input_mode = input_mode
        #: pictures letterboxed into the square input (their shape kept), not stretched over it
        self.keep_aspect = bool(keep_aspect)
        self.threshold_: float | None = None
        self.pixel_threshold_: float | None = None
        self.calibration_: dict[str, float] = {}
        self.calibration_scores_: list[float] = []
        #: per-asset scale of the pixel map (equal to ``calibration_`` unless ``_score_maps`` differs)
        self.map_calibration_: dict[str, float] = {}

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments of this detector (its whole configuration): the named keyword arguments of
        every ``__init__`` up the class hierarchy (a subclass passes the common ones on as ``**common``)."""
        config: dict[str, Any] = {}
        for klass in type(self).__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            for pname, p in inspect.signature(klass.__init__).parameters.items():
                if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or pname in config:
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
            # a picture-in-picture's photo is no wrong mask: the share that counts is the inset's
            x0, y0, x1, y1 = (0, 0, ov.shape[1], ov.shape[0]) if a.inset is None else a.inset
            inner = ov[y0:y1, x0:x1]
            # OpenCV counts a 6 MP mask in ~0.3 ms (numpy's mean of it ~2.4 ms); the same share
            if cv2.countNonZero(np.ascontiguousarray(inner).view(np.uint8)) / inner.size > MOSTLY_OVERLAY:
                ov = None
        if self.input_mode == "thermal":
            from ..thermal.render import render_fixed_scale

            small, valid = render_fixed_scale(a, ov, s, self.keep_aspect)
        else:
            small, valid = _fill_overlays(a.rgb, ov, s, self.keep_aspect)
        x = image_to_tensor(small)
        extra = self._extra_channel(a, ov)
        if extra is not None:
            extra = to_working(extra.astype(np.float32, copy=False), s, cv2.INTER_AREA, self.keep_aspect)
            extra = torch.from_numpy(extra.reshape(s, s, -1)).permute(2, 0, 1)
            x = torch.cat([x, extra])
        return x, valid

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> Any:
        """Learn normal from the prepared normal images.

        Returns what ``_calibration_maps`` needs of this fit beyond the learned state (e.g. the training
        features), or None. It is handed over once and not kept on the detector.
        """

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
        # models saved before letterboxing stretched every picture over the square input
        config.setdefault("keep_aspect", False)
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
        self, x: torch.Tensor, valid: torch.Tensor, fitted: Any = None, *, progress: bool
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Maps of training normals, each by a model that did not see it.

        ``fitted`` is what ``_fit`` returned for these images, or None (e.g. on ``recalibrate``).
        Default: k-fold refits of a clone. Returns (indices into x, raw maps).
        """
        return kfold_maps(self, x, valid)

    # ------------------------------------------------------------------ public API
    @one_blas_thread()
    def fit(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        *,
        groups: Sequence[str | None] | None = None,
        progress: bool = True,
    ) -> Detector:
        """Learn normal from fault-free images; learn the score scale and the threshold.

        Parameters
        ----------
        images : sequence of ndarray or ThermalAnalysis
            Normal (fault-free) images: H×W×3 float RGB in [0, 1], any sizes, or their analyses
            (whose overlays and scale readings are then reused).
        groups : sequence of str or None, optional
            Each image's asset (e.g. the transformer). Scores are normalised by the normal images of
            the same asset, so one threshold works across scenes; None pools all images.
        progress : bool, optional
            Show progress bars.

        Returns
        -------
        Detector
            ``self``, fitted: ``threshold_``, ``pixel_threshold_``, ``calibration_`` (per-asset scales)
            and ``calibration_scores_`` (held-out normalised scores of ``images``) are set.

        Raises
        ------
        DataError
            No images, or an image that is not H×W×3.

        Examples
        --------
        >>> from thermal_anomaly import create_detector
        >>> det = create_detector("patchcore")
        >>> det = det.fit(normal_images, groups=["T1", "T1", "T2", "T2"])  # doctest: +SKIP
        >>> det.is_fitted  # doctest: +SKIP
        True
        """
        if len(images) == 0:
            raise DataError("no training images: a detector needs at least one normal image")
        self._fit_and_calibrate(images, groups, progress=progress)
        return self

    def _fit_and_calibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        groups: Sequence[str | None] | None,
        *,
        progress: bool,
    ) -> None:
        """``fit``'s work. Default: every image prepared at once; a detector whose fit can stream (PatchCore)
        overrides it so memory does not grow with N prepared images."""
        x, valid = self.prepare(images)
        fitted = self._fit(x, valid, progress=progress)
        self._calibrate_on(x, valid, groups, fitted, progress=progress)

    def prepare_chunks(
        self, images: Sequence[np.ndarray | ThermalAnalysis], chunk: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``prepare`` of ``chunk`` images at a time, in order: only one chunk is held at a time."""
        for start in range(0, len(images), chunk):
            # a slice, not a list of its items: a lazy sequence (``LazyImages``) then reads one image at a time
            yield self.prepare(images[start : start + chunk])

    def recalibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        *,
        groups: Sequence[str | None] | None = None,
        progress: bool = True,
    ) -> Detector:
        """Re-learn the score scale and thresholds for the current learned state (e.g. other weights)."""
        self._recalibrate(images, groups, progress=progress)
        return self

    def _recalibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        groups: Sequence[str | None] | None,
        *,
        progress: bool,
    ) -> None:
        """``recalibrate``'s work (a streaming detector overrides it, as ``_fit_and_calibrate``)."""
        x, valid = self.prepare(images)
        self._calibrate_on(x, valid, groups, None, progress=progress)

    def _calibrate_on(self, x, valid, groups, fitted: Any, *, progress: bool) -> None:
        """Learn the calibration from held-out maps of the prepared normals ``x`` (see :mod:`.calibration`)."""
        idx, raw = self._calibration_maps(x, valid, fitted, progress=progress)
        score_peaks, map_peaks = self._calibration_peaks(raw, x[idx], valid[idx])
        self._learn_calibration(score_peaks, map_peaks, idx, groups, len(x))

    def _calibration_peaks(
        self, raw: torch.Tensor, x: torch.Tensor, valid: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Peaks of held-out normals' score maps and, when the detector scores on another map than it shows,
        of their pixel maps (None: the same). Per image, so calibration can run chunk by chunk."""
        raw = resize_batch(raw, self.img_size)
        score_maps = self._score_maps(raw, x)
        same = score_maps is raw
        score_maps = raw if same else resize_batch(score_maps, self.img_size)

        def peaks(maps: torch.Tensor) -> np.ndarray:
            return np.array(
                [
                    self._peak(self._smooth_map(m.numpy(), v.numpy()), v.numpy())
                    for m, v in zip(maps, valid, strict=True)
                ]
            )

        return peaks(score_maps), None if same else peaks(raw)

    def _learn_calibration(
        self,
        score_peaks: np.ndarray,
        map_peaks: np.ndarray | None,
        idx: np.ndarray,
        groups: Sequence[str | None] | None,
        n: int,
    ) -> None:
        """Scales and thresholds from the peaks of the ``n`` training normals' held-out maps, in ``idx`` order."""
        grp = [None] * n if groups is None else list(groups)
        grp = [grp[i] for i in idx]
        self._set_calibration(learn_calibration(score_peaks, map_peaks, grp, self.threshold_quantile))

    def _set_calibration(self, cal: Calibration) -> None:
        self.calibration_ = cal.scale
        self.threshold_ = cal.threshold
        self.map_calibration_ = cal.map_scale
        self.pixel_threshold_ = cal.pixel_threshold
        self.calibration_scores_ = cal.scores

    def _scale(self, group: str | None, *, pixel: bool = False) -> float:
        return scale_for((self.map_calibration_ or self.calibration_) if pixel else self.calibration_, group)

    def _smooth_map(self, amap: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return smooth(fill_invalid(amap, valid), self.blur_sigma * self.img_size / REFERENCE_SIZE)

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
        """Score images (any sizes); maps, masks and regions come back at each image's original size.

        Parameters
        ----------
        images : sequence of ndarray or ThermalAnalysis
            H×W×3 float RGB images in [0, 1], any sizes, or their analyses.
        groups : sequence of str or None, optional
            Each image's asset, as given to :meth:`fit`; an asset calibration did not see (or None)
            uses the pooled scale.
        batch_size : int, optional
            Images per model pass (bounds memory).
        threshold : float, optional
            Image threshold on the normalised score instead of the learned ``threshold_``; it is also
            the pixel threshold unless ``pixel_threshold`` is given.
        pixel_threshold : float, optional
            Threshold of the anomaly map that outlines a flagged image (default: the learned
            ``pixel_threshold_``).
        explain : bool, optional
            Also fill ``Prediction.parts`` (see :meth:`explain`) from the same model pass.

        Returns
        -------
        Prediction
            Per image: ``pred_score`` (1.0 ~ the typical peak of a normal image of its asset),
            ``pred_label`` (score >= threshold), ``anomaly_map`` (same scale), ``pred_mask`` and
            ``regions`` (empty unless flagged) and ``reference`` (e.g. a reconstruction, or None).

        Raises
        ------
        NotFittedError
            The detector is neither fitted nor loaded.

        Examples
        --------
        >>> pred = det.score(images, groups=["T1"] * len(images))  # doctest: +SKIP
        >>> pred.pred_label, pred.pred_score  # doctest: +SKIP
        (array([False,  True]), array([0.97, 2.41]))
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
                raw_t = resize_batch(self._raw_maps(x) if extra is None else extra["fused"], self.img_size)
                score_t = self._score_maps(raw_t, x)
                raw = raw_t.numpy()
                score_maps = None if score_t is raw_t else resize_batch(score_t, self.img_size).numpy()
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
                full = from_working(m, shape, self.keep_aspect)
                mask = self._outline(full, pthr) if s >= thr else np.zeros(shape, dtype=bool)
                scores.append(s)
                maps.append(full)
                labels.append(s >= thr)
                masks.append(mask)
                regions.append(find_regions(full, mask))
                if explain:
                    parts.append(self._explained(extra, j, v, full))
                if ref is not None:
                    refs.append(from_working(ref[j].permute(1, 2, 0).numpy(), shape, self.keep_aspect))
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
        are not findings). The same when only specks pass the threshold and the mask's cleaning removes them.
        """
        peak = float(amap.max()) if amap.size else 0.0
        if peak <= 0.0:
            return np.zeros(amap.shape, dtype=bool)
        if peak >= pixel_threshold:
            mask = clean_mask(amap >= pixel_threshold, self.mask_kernel)
            if mask.any():
                return mask
            # only specks pass the threshold and the cleaning removed them (a small sensor-size map): the
            # decision still points somewhere, at the half-maximum core below
        core = amap >= OUTLINE_PEAK_SHARE * peak
        rows, cols = foreground_box(core)  # labelled within its own box: a 6 MP map's core is small
        _n, labels = cv2.connectedComponents(core[rows, cols].view(np.uint8), connectivity=8)
        py, px = np.unravel_index(int(np.argmax(amap)), amap.shape)
        out = np.zeros(amap.shape, dtype=bool)
        out[rows, cols] = labels == labels[py - rows.start, px - cols.start]
        return out

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
            m = resize_batch(maps[j : j + 1], self.img_size)[0].numpy().astype(np.float32)
            m[~valid] = 0.0
            out[key] = from_working(m, fused.shape, self.keep_aspect)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted detector to one model file, atomically (see :mod:`.persistence`).

        Parameters
        ----------
        path : str or path-like
            File to write (conventionally ``*.pth``); missing parent folders are created, an
            existing file is replaced only once the new one is complete.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        NotFittedError
            The detector has not been fitted.

        Examples
        --------
        >>> det.save("models/patchcore.pth")  # doctest: +SKIP
        PosixPath('models/patchcore.pth')
        """
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Detector:
        """Load a model file safely (``torch.load(..., weights_only=True)``: no code runs).

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`, by this or an older version.

        Returns
        -------
        Detector
            The fitted detector of the class named in the file, ready to :meth:`score`. Called on a
            subclass (``PatchCore.load``), it refuses a file of another detector.

        Raises
        ------
        ModelError
            Missing, empty, foreign, newer-format or mismatching file, or another detector's model.

        Examples
        --------
        >>> from thermal_anomaly import Detector
        >>> det = Detector.load("models/patchcore.pth")  # doctest: +SKIP
        >>> det.name  # doctest: +SKIP
        'patchcore'
        """
        return load_model(path, None if cls is Detector else cls)


def _fill_overlays(
    rgb: np.ndarray, overlay: np.ndarray | None, size: int, keep_aspect: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The picture at the working size with camera overlays (and a letterbox's margins) filled from their
    surroundings; return (image, valid)."""
    small = to_working(rgb, size, cv2.INTER_AREA, keep_aspect)
    y0, x0, h, w = working_box(rgb.shape[:2], size, keep_aspect)
    valid = np.zeros((size, size), dtype=bool)
    valid[y0 : y0 + h, x0 : x0 + w] = True
    if overlay is not None and overlay.any():
        ov = cv2.resize(mask_u8(overlay), (w, h), interpolation=cv2.INTER_NEAREST)
        ov = cv2.dilate(ov, np.ones((OVERLAY_GROW, OVERLAY_GROW), np.uint8))
        valid[y0 : y0 + h, x0 : x0 + w] = ov == 0
    if valid.all():
        return small, valid
    return fill_holes(small, valid), valid


def _as_analysis(image: np.ndarray | ThermalAnalysis) -> ThermalAnalysis:
    if isinstance(image, ThermalAnalysis):
        return image
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise DataError(f"expected an H×W×3 RGB image, got shape {img.shape}")
    return ThermalAnalysis(img)
