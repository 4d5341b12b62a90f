"""PatchCore: nearest-neighbour distance of each image patch to a memory bank of normal patches.

Patch features are locally aware: pretrained backbone taps (stride 8 and 16 by default), each averaged over
its 3×3 neighbourhood, the deeper one upsampled to the finer grid, concatenated. The bank is reduced by
greedy k-center coreset selection, so it covers every normal patch within a known radius at a fraction of
the size; it is stored as float16.

Fitting streams: images are prepared and embedded ``FIT_CHUNK`` at a time; only their patch features (and
float16 projections of them for the coreset) stay in memory, so it grows by ~0.9 MB per image, not ~5.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..backbones import FIT_ENGINE, TAP_STRIDES, FeatureExtractor, embed_taps
from ..errors import ModelError
from ..thermal.analysis import ThermalAnalysis
from ..thermal.palette import mask_u8, upsize_mask
from . import register
from .base import Detector

#: most elements of one query-by-bank distance block (bounds the memory of nearest-neighbour search)
_DIST_BLOCK = 1 << 22
#: most queries per distance block: a block of 256 × a ~2,000-row bank stays in cache for the minimum
#: (one 1024-query block measured 12.2 -> 7.8 ms at one thread, 5.1 -> 3.6 ms at two, same distances)
_QUERY_BLOCK = 256
#: each patch feature is the mean over this square of its tap's cells (PatchCore's "locally aware" features)
FEATURE_POOL = 3
#: the random projection used for coreset selection is seeded ``seed + this``, apart from the coreset's seed
PROJECTION_SEED_OFFSET = 1
#: floor of novelty before a power or a division (a patch identical to a bank patch is 0 away)
MIN_NOVELTY = 1e-12
#: images per backbone pass
EMBED_BATCH = 8
#: images prepared and embedded at a time when fitting: the float32 working set is one chunk (~45 MB of
#: input and ~20 MB of features at 256 px); a multiple of ``EMBED_BATCH``, so the backbone sees the same
#: batches, and gives the same features, as in one pass over all images
FIT_CHUNK = 32
#: type of the coreset's (projected) features of all training patches: half of float32's memory; the
#: patches themselves stay float32, as leave-one-out calibration queries them (float16 moved its maps ~1e-4)
SELECT_DTYPE = torch.float16
#: rows per block of the lazy coreset: smaller blocks bring fewer rows up to date per step (real features,
#: 55k rows, 5,000 picks: 4096 -> 512 rows took 37 -> 22 s; plain greedy 178 s)
CORESET_BLOCK = 512
#: most centres applied to a block in one product (its distances to them: 8 MB at 512 rows)
CENTRE_SLICE = 4096


class TrainPatches(NamedTuple):
    """What ``PatchCore._fit`` hands to calibration: every training patch and the bank rows' images."""

    #: patch features of the training images, (N, h, w, D)
    patches: torch.Tensor
    #: index of the training image each memory-bank row came from, (M,)
    source: torch.Tensor


def greedy_coreset(
    features: torch.Tensor, n: int, *, seed: int = 0, progress: bool = False
) -> tuple[torch.Tensor, float]:
    """Greedy k-center selection of ``n`` rows of ``features`` (M, d), of any float type.

    Returns (indices, radius): every row lies within ``radius`` (Euclidean) of a selected row, and the
    selected rows are pairwise at least ``radius`` apart, so the radius is at most twice the optimum.

    Lazy, block by block, so it stays exact but is neither a float32 copy of all rows nor one pass over
    them per step: rows are held in blocks of ``CORESET_BLOCK``, each with the centres applied to it so far
    and the largest distance left in it. A row's distance to its nearest centre only shrinks, so a stale
    block maximum is an upper bound: each step brings the block with the largest bound up to date (the
    centres it missed in one matrix product, read in float32 from its rows) until that block is current,
    and takes its farthest row: the row plain greedy takes (but for float rounding in near-ties).
    """
    m, k = features.shape
    if n >= m:
        return torch.arange(m), 0.0
    if n < 1:
        raise ValueError(f"coreset size must be at least 1, got {n}")
    starts = list(range(0, m, CORESET_BLOCK))
    sq = torch.empty(m)
    for s in starts:
        b = features[s : s + CORESET_BLOCK].float()
        sq[s : s + len(b)] = (b * b).sum(1)
    gen = torch.Generator().manual_seed(int(seed))
    selected = torch.empty(n, dtype=torch.long)
    selected[0] = int(torch.randint(m, (1,), generator=gen))
    centres = torch.empty(n, k)  # float32 copies of the selected rows
    centres[0] = features[int(selected[0])].float()
    mind = torch.full((m,), math.inf)  # squared distance to the nearest centre applied to the row's block
    applied = [0] * len(starts)  # centres applied to each block (the first ``applied[b]``)
    bound = torch.full((len(starts),), math.inf)  # each block's largest ``mind``: an upper bound when stale

    def refresh(b: int, t: int) -> None:
        """Apply centres ``applied[b]:t`` to block ``b``."""
        lo, hi = starts[b], min(starts[b] + CORESET_BLOCK, m)
        rows = features[lo:hi].float()
        for a in range(applied[b], t, CENTRE_SLICE):
            c = centres[a : min(t, a + CENTRE_SLICE)]
            d = torch.addmm(sq[lo:hi, None], rows, c.t(), alpha=-2.0).add_(sq[selected[a : a + len(c)]])
            torch.minimum(mind[lo:hi], d.amin(dim=1), out=mind[lo:hi])
        applied[b] = t
        bound[b] = mind[lo:hi].max()

    mind[selected[0]] = 0.0
    for t in tqdm(range(1, n), desc="coreset", disable=not progress, leave=False):
        while True:
            b = int(torch.argmax(bound))
            if applied[b] == t:
                break
            refresh(b, t)
        i = starts[b] + int(torch.argmax(mind[starts[b] : starts[b] + CORESET_BLOCK]))
        selected[t] = i
        centres[t] = features[i].float()
        mind[i] = 0.0
    for b in range(len(starts)):
        refresh(b, n)
    return selected, float(mind.max().clamp(min=0).sqrt())


class BankIndex(NamedTuple):
    """A memory bank laid out for nearest-neighbour search (computed once per bank, not per query)."""

    #: the bank transposed, (D, M) contiguous: the right operand of the distance product
    rows_t: torch.Tensor
    #: squared norm of each bank row, (M,)
    sq: torch.Tensor


def index_bank(bank: torch.Tensor) -> BankIndex:
    """``bank`` (M, D) as a :class:`BankIndex`."""
    b = bank.float()
    if len(b) == 0:
        raise ValueError("the memory bank is empty")
    return BankIndex(b.t().contiguous(), (b * b).sum(1))


#: a squared distance below this share of the query's squared norm is recomputed directly (see
#: :func:`nearest_distance`): float32's expansion loses all its digits there
CANCELLATION = 1e-3


def nearest_distance(
    queries: torch.Tensor,
    bank: torch.Tensor,
    *,
    exclude: torch.Tensor | None = None,
    index: BankIndex | None = None,
) -> torch.Tensor:
    """Distance of each query row to its nearest bank row (exact), in blocks so memory stays bounded.

    ``exclude`` (bank-length bool) removes bank rows from the search; ``index`` is ``index_bank(bank)``
    when the caller keeps it (ignored with ``exclude``).
    """
    q = queries.float()
    if exclude is not None or index is None:
        index = index_bank(bank if exclude is None else bank[~exclude])
    step = max(1, min(_QUERY_BLOCK, _DIST_BLOCK // index.sq.numel()))
    out = torch.empty(len(q))
    for s in range(0, len(q), step):
        # |q - b|² = |q|² + |b|² - 2 q·b: the minimum over the bank first, one square root per query
        out[s : s + step] = torch.addmm(index.sq, q[s : s + step], index.rows_t, alpha=-2.0).amin(dim=1)
    q2 = (q * q).sum(1)
    out.add_(q2)
    # where a query lies on a bank row (a training image's own patches) the expansion cancels: float rounding
    # under the square root gave 3e-4 instead of ~0 (and ONNX and eager disagreed there), so those few
    # distances are taken directly
    close = torch.nonzero(out < CANCELLATION * q2).squeeze(1)
    if len(close):
        exact = torch.cdist(q[close], index.rows_t.t(), compute_mode="donot_use_mm_for_euclid_dist")
        out[close] = exact.amin(dim=1).square()
    return out.clamp_min_(0).sqrt_()


def guessed_palette(image: ThermalAnalysis) -> bool:
    """Whether the frame's colours are read through a named palette guessed from them (no colour bar, no
    radiometric data): its colours then match the guess only roughly."""
    return not image.radiometric and image.scale.guessed


#: positions at most this far below the scale's hot end are "at the top of the scale" (saturated, or clipped
#: white above it): a palette's last colours, within the few LUT steps JPEG and blur move a colour
SATURATED_DELTA = 0.02


def saturated_rise(pos: np.ndarray, valid: np.ndarray, joint_frac: float) -> np.ndarray:
    """Rise over the scene (the valid pixels' median) of every region at the top of the scale that is wider
    than the joint disc (``joint_frac`` of the long side); 0 elsewhere.

    The joint-scale top-hat takes a hot region wider than its disc as its own background: a saturated blob
    that fills a fifth of a close-range frame rises only at its rim, less than lattice clutter does. Such a
    region is the hottest thing in the picture whatever its size, and this says so; smaller ones keep the
    top-hat's reading (it sees them whole). Only trusted colours count, so overlays and colours no palette
    explains cannot make one.
    """
    out = np.zeros(pos.shape, np.float32)
    top = valid & (pos >= 1.0 - SATURATED_DELTA)
    if not top.any():
        return out
    # the same labels as OpenCV's statistics give, and areas by a bincount (its boxes and centroids are
    # not needed and cost twice the labelling)
    n, labels = cv2.connectedComponents(top.view(np.uint8), connectivity=8)
    areas = np.bincount(labels.ravel(), minlength=n)
    disc = joint_frac * max(pos.shape)
    # a region is wider than the disc when the disc fits inside its area (equivalent diameter)
    wide = [i for i in range(1, n) if 2.0 * math.sqrt(int(areas[i]) / math.pi) > disc]
    if not wide:
        return out
    scene = float(np.median(pos[valid]))
    region = np.isin(labels, wide)
    out[region] = np.clip(pos[region] - scene, 0.0, None)
    return out


def heat_channels(
    image: ThermalAnalysis,
    overlay: np.ndarray | None,
    joint_frac: float,
    component_frac: float,
    *,
    offpalette: bool = True,
    saturated: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The heat evidence the learned map is fused with: (joint-scale rise, component excess or None), at the
    decoding size (see :func:`~thermal_anomaly.thermal.render.heat_evidence`).

    A colour off the palette is normally no temperature (text, a logo): its rise is 0. That is right for a
    camera's own colour bar; a palette guessed on a bare frame (no bar) is only the nearest of the common
    ones, and on the development crops 70 % of the fault pixels were off the guess (a FLIR rainbow read as
    "rainbow_hc") and so carried no heat. With ``offpalette`` such a frame is read twice, the strict way and
    with every pixel but the overlays at its nearest palette colour, and each pixel keeps the larger rise of
    the two: neither reading can hide heat the other sees (the loose one alone lost the trusted spots'
    contrast, the strict one the scene the guess does not cover). Only the joint-scale rise, which says where
    a fault is: the component excess, which weighs in the image score only, stays on the trusted colours (read
    loosely too, it raised bare normals' scores: 3 of 24 held-out bare normals flagged instead of 1). With ``saturated``, the joint-scale rise
    is at least :func:`saturated_rise` (a wide saturated region is hot whatever its size).
    """
    from ..thermal.render import heat_evidence

    pos, valid = image.relative(overlay)
    rise, excess = heat_evidence(pos, valid, joint_frac, component_frac)
    if saturated:
        np.maximum(rise, saturated_rise(pos, valid, joint_frac), out=rise)
    if not (offpalette and guessed_palette(image)):
        return rise, excess
    # the UI's small white fills (a logo's body) are no temperature however loosely the colours are read
    loose = ~upsize_mask(image.ui_fills, pos.shape)
    if overlay is not None:
        loose &= ~upsize_mask(overlay, pos.shape)
    if cv2.countNonZero(loose.view(np.uint8)) <= cv2.countNonZero(mask_u8(valid)):
        return rise, excess  # the guess explains every pixel the overlays leave: nothing to add
    rise2, _ = heat_evidence(pos, loose, joint_frac, 0.0)
    np.maximum(rise, rise2, out=rise)
    return rise, excess


class FusionSettings:
    """The heat fusion's settings, checked: keyword arguments of every detector that fuses heat with its learned
    map (PatchCore here; FastFlow, CFlow and DRAEM through ``flows.HeatFusion``). A mixin before ``Detector``;
    the other keyword arguments go on to it."""

    def __init__(
        self,
        *,
        hotspot_fusion: bool = True,
        hotspot_size: float = 0.06,
        hotspot_floor: float = 0.05,
        component_size: float = 0.25,
        novelty_weight: float = 1.0,
        score_novelty_weight: float = 2.0,
        offpalette_heat: bool = False,
        saturated_heat: bool = True,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        self.hotspot_fusion = bool(hotspot_fusion)
        self.hotspot_size = float(hotspot_size)
        self.hotspot_floor = float(hotspot_floor)
        self.component_size = float(component_size)
        if not 0 <= self.component_size < 1:
            raise ValueError(f"component_size must be in [0, 1) (0 = off), got {component_size}")
        self.novelty_weight = float(novelty_weight)
        self.score_novelty_weight = float(score_novelty_weight)
        if self.novelty_weight <= 0 or self.score_novelty_weight <= 0:
            raise ValueError("novelty_weight and score_novelty_weight must be positive")
        #: on a frame without a colour bar (palette guessed), heat is also read off the colours the guess does
        #: not explain (see :func:`heat_channels`). On by default for PatchCore only, where it was measured
        #: (crops.py, bare frames: peak ≤5% 61 -> 72 %); the other detectors keep it off until measured (an
        #: earlier form, which also read the component excess loosely, erased DRAEM's small test model's margin
        #: of a synthetic fault over a bar-less normal: 0.921/0.906 -> 0.841/0.843; this one keeps it,
        #: 0.895/0.881)
        self.offpalette_heat = bool(offpalette_heat)
        #: a region at the top of the scale larger than the joint disc rises over the scene, not over itself
        #: (see :func:`saturated_rise`)
        self.saturated_heat = bool(saturated_heat)

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        # models saved before off-palette heat read a guessed palette's unexplained colours as no temperature
        config.setdefault("offpalette_heat", False)
        # ... and before saturated heat, a saturated region larger than the joint disc as its own background
        config.setdefault("saturated_heat", False)
        return super()._upgrade_config(config)  # type: ignore[misc]


@register
class PatchCore(FusionSettings, Detector):
    """Memory bank of locally aware pretrained patch features; anomaly = distance to the nearest normal patch."""

    name = "patchcore"

    def __init__(
        self,
        *,
        backbone: str = "efficientnet-lite0",
        layers: Sequence[str] = ("stage2", "stage4"),
        feature_dim: int | None = None,
        coreset_ratio: float = 0.1,
        max_bank: int = 20000,
        projection_dim: int = 128,
        seed: int = 0,
        offpalette_heat: bool = True,
        **common: Any,
    ) -> None:
        super().__init__(offpalette_heat=offpalette_heat, **common)
        if not 0 < coreset_ratio <= 1:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {coreset_ratio}")
        self.backbone = str(backbone)
        if not layers or any(n not in TAP_STRIDES for n in layers):
            raise ValueError(
                f"layers must be backbone tap names ({', '.join(TAP_STRIDES)}), got {list(layers)}"
            )
        self.layers = [str(n) for n in layers]
        self.feature_dim = None if feature_dim is None else int(feature_dim)
        self.coreset_ratio = float(coreset_ratio)
        self.max_bank = int(max_bank)
        self.projection_dim = int(projection_dim)
        self.seed = int(seed)
        self.memory_bank_: torch.Tensor | None = None
        self._bank32: torch.Tensor | None = None
        self._index: BankIndex | None = None
        #: one extractor per engine (``None``: the default engine, for scoring; ``FIT_ENGINE``)
        self._extractors: dict[str | None, FeatureExtractor] = {}

    # ------------------------------------------------------------------ features
    @property
    def stride(self) -> int:
        return min(TAP_STRIDES[n] for n in self.layers)

    def _grid(self) -> tuple[int, int]:
        g = math.ceil(self.img_size / self.stride)
        return g, g

    def _extractor(self, engine: str | None) -> FeatureExtractor:
        if engine not in self._extractors:
            self._extractors[engine] = FeatureExtractor(self.backbone, self.layers, engine=engine)
        return self._extractors[engine]

    def _embed(
        self,
        x: torch.Tensor,
        batch_size: int | None = None,
        progress: bool = False,
        *,
        engine: str | None = None,
    ) -> torch.Tensor:
        """(N, 3, S, S) -> patch features (N, h, w, D); a 4th (evidence) channel is not the picture.
        ``engine``: the backbone's (see :class:`FeatureExtractor`; None: the default)."""
        x = x[:, :3]
        extractor = self._extractor(engine)
        out = []
        step = batch_size or EMBED_BATCH
        for s in tqdm(range(0, len(x), step), desc="patchcore features", disable=not progress, leave=False):
            with torch.no_grad():
                e = embed_taps(extractor(x[s : s + step]), self._grid(), pool=FEATURE_POOL)
            if self.feature_dim is not None and e.shape[1] != self.feature_dim:
                n, c, h, w = e.shape
                flat = e.permute(0, 2, 3, 1).reshape(-1, 1, c)
                e = F.adaptive_avg_pool1d(flat, self.feature_dim).reshape(n, h, w, self.feature_dim)
            else:
                e = e.permute(0, 2, 3, 1)
            out.append(e.contiguous())
        return torch.cat(out)

    def _patch_valid(self, valid: torch.Tensor) -> torch.Tensor:
        """A patch is valid when its cell of the input has no overlay pixel. (N, h, w) bool."""
        invalid = (~valid).float()[:, None]
        cell = F.avg_pool2d(invalid, self.stride, stride=self.stride, ceil_mode=True)
        if tuple(cell.shape[-2:]) != self._grid():
            cell = F.interpolate(cell, size=self._grid(), mode="nearest")
        return cell[:, 0] == 0

    def _projection(self, dim: int) -> torch.Tensor | None:
        if dim <= self.projection_dim:
            return None
        gen = torch.Generator().manual_seed(self.seed + PROJECTION_SEED_OFFSET)
        return torch.randn(dim, self.projection_dim, generator=gen) / math.sqrt(self.projection_dim)

    # ------------------------------------------------------------------ hooks
    def _fit(self, x: torch.Tensor, valid: torch.Tensor, *, progress: bool) -> TrainPatches:
        """Build the memory bank; return the training patches and bank origins for leave-one-out calibration."""
        chunks = ((x[s : s + FIT_CHUNK], valid[s : s + FIT_CHUNK]) for s in range(0, len(x), FIT_CHUNK))
        return self._fit_chunks(chunks, len(x), progress=progress)

    def _fit_chunks(
        self, chunks: Iterable[tuple[torch.Tensor, torch.Tensor]], n: int, *, progress: bool
    ) -> TrainPatches:
        """``_fit`` over ``n`` prepared images arriving in chunks: each is embedded, its patch features kept
        (and, projected for the coreset, as ``SELECT_DTYPE``), then dropped."""
        h, w = self._grid()
        hw = h * w
        keep = torch.empty(n * hw, dtype=torch.bool)
        patches = select = proj = None
        kept = start = 0
        bar = tqdm(total=n, desc="patchcore features", unit="image", disable=not progress, leave=False)
        for x, valid in chunks:
            e = self._embed(x, engine=FIT_ENGINE)
            c, d = len(e), e.shape[-1]
            if patches is None:  # the feature size is known from the first chunk on
                patches = torch.empty(n, h, w, d)
                proj = self._projection(d)
                select = torch.empty(n * hw, d if proj is None else proj.shape[1], dtype=SELECT_DTYPE)
            patches[start : start + c] = e
            k = self._patch_valid(valid).reshape(-1)
            keep[start * hw : (start + c) * hw] = k
            flat = e.reshape(-1, d)[k]
            select[kept : kept + len(flat)] = flat if proj is None else flat @ proj
            kept += len(flat)
            start += c
            bar.update(c)
        bar.close()
        if patches is None or start != n:
            raise ValueError(f"expected {n} prepared images, got {start}")
        d = patches.shape[-1]
        if kept == 0:  # all overlay: better some bank than none
            keep[:] = True
            kept = n * hw
            for s in range(0, kept, CORESET_BLOCK):
                f = patches.reshape(-1, d)[s : s + CORESET_BLOCK].float()
                select[s : s + len(f)] = f if proj is None else f @ proj
        size = min(self.max_bank, max(1, math.ceil(self.coreset_ratio * kept)))
        if size < kept:
            idx, _ = greedy_coreset(select[:kept], size, seed=self.seed, progress=progress)
        else:
            idx = torch.arange(kept)
        del select
        rows = torch.nonzero(keep).squeeze(1)[idx]  # bank rows as indices into all N·h·w patches
        self._set_bank(patches.reshape(-1, d)[rows])
        return TrainPatches(patches, rows // hw)

    def _fit_and_calibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        groups: Sequence[str | None] | None,
        *,
        progress: bool,
    ) -> None:
        """Fit and calibrate streaming: images are prepared ``FIT_CHUNK`` at a time and dropped once embedded.
        What calibration needs of them besides their patches, their heat channels and valid masks (RGB is
        not needed after embedding; ~0.6 MB an image, 1.2 GB at 2,000), waits in a temporary folder."""
        with tempfile.TemporaryDirectory(prefix="patchcore-fit-") as tmp:
            spilled: list[Path] = []

            def chunks() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
                for x, valid in self.prepare_chunks(images, FIT_CHUNK):
                    spilled.append(Path(tmp) / f"{len(spilled)}.pt")
                    torch.save((x[:, 3:].clone(), valid), spilled[-1])
                    yield x, valid

            fitted = self._fit_chunks(chunks(), len(images), progress=progress)

            def maps() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
                start = 0
                for path in spilled:
                    heat, valid = torch.load(path, weights_only=True)
                    x = torch.cat([heat.new_zeros(len(heat), 3, *heat.shape[-2:]), heat], 1)
                    novelty = self._loo_maps(fitted.patches[start : start + len(x)], fitted.source, start)
                    start += len(x)
                    yield self._fuse(x, novelty), x, valid

            self._calibrate_chunks(maps(), len(images), groups, progress=progress)

    def _recalibrate(
        self,
        images: Sequence[np.ndarray | ThermalAnalysis],
        groups: Sequence[str | None] | None,
        *,
        progress: bool,
    ) -> None:
        """``recalibrate`` streaming: each chunk against the whole bank (the bank's origins are unknown)."""

        def maps() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
            for x, valid in self.prepare_chunks(images, FIT_CHUNK):
                yield self._fuse(x, self._loo_maps(self._embed(x), None)), x, valid

        self._calibrate_chunks(maps(), len(images), groups, progress=progress)

    def _calibrate_chunks(
        self,
        maps: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        n: int,
        groups: Sequence[str | None] | None,
        *,
        progress: bool,
    ) -> None:
        """Calibration from held-out raw maps of all ``n`` training images, in order, a chunk at a time, each
        with its input and valid mask: only the peaks of each chunk are kept."""
        score_peaks: list[np.ndarray] = []
        map_peaks: list[np.ndarray | None] = []
        bar = tqdm(total=n, desc="patchcore calibration", unit="image", disable=not progress, leave=False)
        for raw, x, valid in maps:
            sp, mp = self._calibration_peaks(raw, x, valid)
            score_peaks.append(sp)
            map_peaks.append(mp)
            bar.update(len(x))
        bar.close()
        same = any(p is None for p in map_peaks)
        self._learn_calibration(
            np.concatenate(score_peaks),
            None if same else np.concatenate(map_peaks),  # type: ignore[arg-type]
            np.arange(n),
            groups,
            n,
        )

    def _novelty(self, x: torch.Tensor) -> torch.Tensor:
        """Distance of each patch to its nearest memory-bank patch, (N, h, w) on the patch grid."""
        if self._bank32 is None:
            raise ValueError("PatchCore has no memory bank")
        patches = self._embed(x)
        n, h, w, d = patches.shape
        if d != self._bank32.shape[1]:
            raise ModelError(f"memory bank has {self._bank32.shape[1]} features, the backbone gives {d}")
        return nearest_distance(patches.reshape(-1, d), self._bank32, index=self._index).reshape(n, h, w)

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self._fuse(x, self._novelty(x))

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        # models saved before the component scale existed were calibrated without it
        config.setdefault("component_size", 0.0)
        return super()._upgrade_config(config)

    def _extra_channel(self, image: ThermalAnalysis, overlay: np.ndarray | None) -> np.ndarray | None:
        if not self.hotspot_fusion:
            return None
        rise, excess = heat_channels(
            image,
            overlay,
            self.hotspot_size,
            self.component_size,
            offpalette=self.offpalette_heat,
            saturated=self.saturated_heat,
        )
        return rise if excess is None else np.stack([rise, excess], axis=-1)

    def _fuse(self, x: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        """Novelty times heat: a patch unlike any normal one matters in proportion to how much warmer it
        is than its surroundings (plus a floor, so a cold novelty still registers weakly)."""
        if not self.hotspot_fusion or x.shape[1] < 4:
            return maps
        up = F.interpolate(maps[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        novelty = up if self.novelty_weight == 1.0 else up.clamp_min(MIN_NOVELTY) ** self.novelty_weight
        return novelty * (x[:, 3] + self.hotspot_floor)

    def _score_maps(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The image score: ``novelty^score_novelty_weight × (heat at both scales + floor)``.

        It weighs novelty more than the pixel map does: where a fault is, heat says best (the pixel map
        leans on it); whether an image holds one at all is a question of being unlike every normal patch of
        its asset, since normal equipment is warm too (a loaded clamp, a sunlit tank). Its heat is the mean
        of the joint-scale rise and the component excess (a component's rise over the scene beyond that of
        its sister components), so a whole limb or wire run that overheats counts (the pixel map keeps the
        joint scale: it outlines where the fault is). The novelty is recovered exactly from the fused map
        and the joint-scale channel, so no second pass is needed.
        """
        has_component = x.shape[1] >= 5
        if not self.hotspot_fusion or x.shape[1] < 4:
            return raw
        if self.score_novelty_weight == self.novelty_weight and not has_component:
            return raw
        heat = x[:, 3:5] + self.hotspot_floor
        if heat.shape[-2:] != raw.shape[-2:]:
            heat = F.interpolate(heat, size=raw.shape[-2:], mode="bilinear", align_corners=False)
        novelty = (raw.clamp_min(MIN_NOVELTY) / heat[:, 0]).pow(1.0 / self.novelty_weight)
        return novelty.pow(self.score_novelty_weight) * heat.mean(1)

    def _calibration_maps(
        self, x: torch.Tensor, valid: torch.Tensor, fitted: TrainPatches | None = None, *, progress: bool
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Leave-one-out without refitting: each training image against the bank minus its own patches.

        Slightly conservative: the coreset was chosen with the image present, so patches of other images
        that a refit without it would have kept may be missing, and normal distances come out a bit high
        (a higher, safer threshold). An image with no other source in the bank is scored as is. Without
        ``fitted`` (what ``_fit`` returned; e.g. on ``recalibrate``) the bank's origins are unknown and
        the images are scored against the whole bank.
        """
        if fitted is None:
            return np.arange(len(x)), self._fuse(x, self._loo_maps(self._embed(x), None))
        return np.arange(len(x)), self._fuse(x, self._loo_maps(fitted.patches, fitted.source))

    def _loo_maps(self, patches: torch.Tensor, source: torch.Tensor | None, first: int = 0) -> torch.Tensor:
        """Novelty of training images ``first``, ``first + 1``, ... each against the bank minus its own rows."""
        bank = self._bank32
        n, h, w, d = patches.shape
        maps = torch.empty(n, h, w)
        for i in range(n):
            exclude = None if source is None else source == first + i
            if exclude is not None and bool(exclude.all()):
                exclude = None
            maps[i] = nearest_distance(patches[i].reshape(-1, d), bank, exclude=exclude).reshape(h, w)
        return maps

    def _state(self) -> dict[str, torch.Tensor]:
        if self.memory_bank_ is None:
            raise ValueError("PatchCore has no memory bank")
        return {"memory_bank": self.memory_bank_.to(torch.float16)}

    def _load_state(self, state: dict[str, torch.Tensor]) -> None:
        bank = state["memory_bank"]
        if not isinstance(bank, torch.Tensor) or bank.ndim != 2 or len(bank) == 0:
            raise ValueError("memory_bank must be a non-empty (M, D) tensor")
        self._set_bank(bank)

    def _set_bank(self, bank: torch.Tensor) -> None:
        """Keep the bank as float16 (the model file's) and its float32 search index."""
        self.memory_bank_ = bank.to(torch.float16)
        self._bank32 = self.memory_bank_.float()
        self._index = index_bank(self._bank32)

    def _parts(self, x: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """One pass, three maps: ``learned`` (nearest-neighbour novelty), ``evidence`` (the 4th input channel,
        local heat rise, when hot-spot fusion is on) and ``fused`` (= ``_raw_maps(x)``)."""
        novelty = self._novelty(x)
        parts = {"learned": novelty, "fused": self._fuse(x, novelty)}
        if self.hotspot_fusion and x.shape[1] >= 4:  # the joint-scale rise, the one the pixel map uses
            parts["evidence"] = x[:, 3]
        return parts


__all__ = [
    "BankIndex",
    "FusionSettings",
    "PatchCore",
    "TrainPatches",
    "greedy_coreset",
    "guessed_palette",
    "heat_channels",
    "saturated_rise",
    "index_bank",
    "nearest_distance",
]
