"""PatchCore's bounded-memory fit (issue 15): the chunked coreset selects what plain greedy k-center does,
and fitting in chunks gives the bank and calibration of fitting all images at once."""

from __future__ import annotations

import pytest
import torch

import thermal_anomaly.detectors.patchcore as pc
from thermal_anomaly.detectors.base import Detector
from thermal_anomaly.detectors.patchcore import PatchCore, greedy_coreset


def reference_coreset(features: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Plain greedy k-center on a float32 copy of all rows, every row updated every step (the old code)."""
    f = features.float()
    sq = (f * f).sum(1)
    gen = torch.Generator().manual_seed(seed)
    first = int(torch.randint(len(f), (1,), generator=gen))
    selected = [first]
    mind = torch.addmv(sq, f, f[first], alpha=-2.0).add_(sq[first]).clamp_(min=0)
    mind[first] = 0.0
    for _ in range(1, n):
        i = int(torch.argmax(mind))
        selected.append(i)
        mind = torch.minimum(mind, torch.addmv(sq, f, f[i], alpha=-2.0).add_(sq[i]))
        mind[i] = 0.0
    return torch.tensor(selected), float(mind.max().clamp(min=0).sqrt())


def clustered(m: int, k: int, seed: int) -> torch.Tensor:
    """Points around 20 centres with varying spread: like patch features, pruning has rows to skip."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(20, k, generator=gen) * 4
    spread = torch.rand(m, 1, generator=gen) + 0.05
    return centres[torch.randint(20, (m,), generator=gen)] + torch.randn(m, k, generator=gen) * spread


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_lazy_coreset_selects_what_plain_greedy_does(monkeypatch, dtype):
    """Small integer features: every distance is exact in float32, so rounding cannot tell the two apart
    and the selection (ties included: the lowest index) must be the same."""
    monkeypatch.setattr(pc, "CORESET_BLOCK", 97)  # many blocks, a partial last one
    monkeypatch.setattr(pc, "CENTRE_SLICE", 13)  # centres applied in slices
    pts = (clustered(1500, 12, seed=0) * 2).round().to(dtype)
    idx, radius = greedy_coreset(pts, 150, seed=3)
    ref, ref_radius = reference_coreset(pts, 150, seed=3)
    assert torch.equal(idx, ref)
    assert radius == ref_radius


def test_lazy_coreset_keeps_the_k_center_guarantee(monkeypatch):
    """Real-valued features: distances may round differently from plain greedy's, but the result is still
    a greedy k-center cover: every row within the radius, the centres pairwise at least that far apart."""
    monkeypatch.setattr(pc, "CORESET_BLOCK", 256)
    pts = clustered(3000, 32, seed=1).half()
    idx, radius = greedy_coreset(pts, 200, seed=0)
    assert len(set(idx.tolist())) == 200
    f = pts.float()
    assert torch.cdist(f, f[idx]).min(dim=1).values.max().item() <= radius * (1 + 1e-4)
    between = torch.cdist(f[idx], f[idx]) + torch.eye(200) * 1e9
    assert between.min().item() >= radius * (1 - 1e-4)
    assert radius == pytest.approx(reference_coreset(pts, 200)[1], rel=1e-3)


@pytest.fixture(scope="module")
def real_images(dev_data):
    """Five development normals as analyses: their overlays and heat are computed once for every fit."""
    from thermal_anomaly.data import ThermalDataset
    from thermal_anomaly.thermal.analysis import ThermalAnalysis

    ds = ThermalDataset(dev_data, mode="train")
    recs = [ds[i] for i in range(5)]
    return [ThermalAnalysis(r.load_image()) for r in recs], [r.group for r in recs]


def test_fit_in_chunks_gives_the_bank_and_calibration_of_fitting_at_once(monkeypatch, real_images):
    images, groups = real_images
    opts = dict(img_size=64, coreset_ratio=0.3)
    # 5 images in chunks of 2, 2 and 1; backbone batches of 2 either way, so the features are the same
    monkeypatch.setattr(pc, "EMBED_BATCH", 2)
    whole = PatchCore(**opts)
    # the generic path: every image prepared at once, the bank built and calibrated from all of them
    Detector._fit_and_calibrate(whole, images, groups, progress=False)
    monkeypatch.setattr(pc, "FIT_CHUNK", 2)
    chunked = PatchCore(**opts)
    sizes = []
    prepare = chunked.prepare

    def counting_prepare(imgs):
        sizes.append(len(imgs))
        return prepare(imgs)

    chunked.prepare = counting_prepare  # type: ignore[method-assign]
    chunked.fit(images, groups=groups, progress=False)
    assert sizes == [2, 2, 1]  # never more than a chunk prepared at once
    assert torch.equal(chunked.memory_bank_, whole.memory_bank_)
    assert chunked.threshold_ == whole.threshold_
    assert chunked.pixel_threshold_ == whole.pixel_threshold_
    assert chunked.calibration_ == whole.calibration_
    assert chunked.calibration_scores_ == whole.calibration_scores_

    # recalibrating in chunks (against the whole bank) matches the generic path too
    Detector._recalibrate(whole, images, groups, progress=False)
    chunked.recalibrate(images, groups=groups, progress=False)
    assert chunked.threshold_ == whole.threshold_
    assert chunked.calibration_ == whole.calibration_
