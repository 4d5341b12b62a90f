"""PatchCore and PaDiM on small synthetic thermal-looking scenes: a hot blob must stand out, where it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from thermal_anomaly.detectors import DETECTORS, load_detector
from thermal_anomaly.detectors.padim import Padim, ledoit_wolf_covariance
from thermal_anomaly.detectors.patchcore import PatchCore, greedy_coreset, nearest_distance

SIZE = 128
BLOB = (88, 40)  # row, col of the injected hot spot


def scene(seed: int, blob: bool = False) -> np.ndarray:
    """A warm 'transformer body' on a cool gradient, sensor noise, pseudo-coloured; optional hot spot."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    v = 0.15 + 0.15 * xx / SIZE + 0.03 * np.sin(yy / 7.0 + rng.uniform(0, 6))
    top, left = 24 + rng.integers(-3, 4), 24 + rng.integers(-3, 4)
    v[top : top + 80, left : left + 80] = 0.45 + rng.uniform(-0.03, 0.03)
    v += rng.normal(0, 0.015, v.shape).astype(np.float32)
    if blob:
        v += 0.5 * np.exp(-((yy - BLOB[0]) ** 2 + (xx - BLOB[1]) ** 2) / (2 * 5.0**2))
    v = np.clip(v, 0, 1)
    return np.stack([v, v**2, 1 - v], axis=-1).astype(np.float32)  # simple 'iron'-like palette


NORMALS = [scene(s) for s in range(6)]
HELD_OUT = scene(100)
FAULTY = scene(101, blob=True)
COMMON = dict(img_size=SIZE, mask_overlays=False)
PC_COMMON = dict(COMMON, hotspot_fusion=False)  # the plain memory-bank behaviour


def _peak_position(amap: np.ndarray) -> tuple[int, int]:
    r, c = np.unravel_index(int(np.argmax(amap)), amap.shape)
    return int(r), int(c)


@pytest.fixture(scope="module")
def patchcore() -> PatchCore:
    return PatchCore(coreset_ratio=0.25, **PC_COMMON).fit(NORMALS, progress=False)


@pytest.fixture(scope="module")
def padim() -> Padim:
    return Padim(**COMMON).fit(NORMALS, progress=False)


def test_both_are_registered_and_configs_round_trip():
    assert DETECTORS["patchcore"] is PatchCore and DETECTORS["padim"] is Padim
    for cls in (PatchCore, Padim):
        det = cls(img_size=96, blur_sigma=2.0, seed=3)
        clone = det.clone()
        assert clone.get_config() == det.get_config()
        assert clone.img_size == 96 and clone.blur_sigma == 2.0 and clone.seed == 3
    with pytest.raises(ValueError, match="tap names"):
        PatchCore(layers=("layer3",))


# ---------------------------------------------------------------------------------------- coreset
def test_coreset_is_a_deterministic_k_center_cover():
    pts = torch.from_numpy(np.random.default_rng(0).normal(size=(600, 8)).astype(np.float32))
    idx, radius = greedy_coreset(pts, 40, seed=0)
    idx2, radius2 = greedy_coreset(pts, 40, seed=0)
    assert torch.equal(idx, idx2) and radius == radius2
    assert len(set(idx.tolist())) == 40
    centres = pts[idx]
    # Every point is covered within the reported radius ...
    assert torch.cdist(pts, centres).min(dim=1).values.max().item() <= radius * (1 + 1e-4)
    # ... and the centres are pairwise at least that far apart: the certificate of a 2-approximation.
    d = torch.cdist(centres, centres) + torch.eye(40) * 1e9
    assert d.min().item() >= radius * (1 - 1e-4)
    # Far better than a random subset of the same size.
    rand = pts[torch.randperm(600, generator=torch.Generator().manual_seed(0))[:40]]
    assert radius < 0.9 * torch.cdist(pts, rand).min(dim=1).values.max().item()


def test_nearest_distance_in_blocks_matches_brute_force(monkeypatch):
    import thermal_anomaly.detectors.patchcore as pc

    monkeypatch.setattr(pc, "_DIST_BLOCK", 64)  # force many blocks
    rng = np.random.default_rng(1)
    q = torch.from_numpy(rng.normal(size=(50, 5)).astype(np.float32))
    b = torch.from_numpy(rng.normal(size=(20, 5)).astype(np.float32))
    expect = np.sqrt(((q.numpy()[:, None] - b.numpy()[None]) ** 2).sum(-1)).min(1)
    assert np.allclose(nearest_distance(q, b).numpy(), expect, atol=1e-5)
    drop = torch.zeros(20, dtype=torch.bool)
    drop[:10] = True
    expect2 = np.sqrt(((q.numpy()[:, None] - b.numpy()[None, 10:]) ** 2).sum(-1)).min(1)
    assert np.allclose(nearest_distance(q, b, exclude=drop).numpy(), expect2, atol=1e-5)


def test_nearest_distance_of_a_query_on_a_bank_row_is_near_zero_not_rounding_noise():
    """Patch features have norms of ~10-100: the expansion |q|² + |b|² - 2 q·b leaves float32 noise of
    ~1e-4..1e-2 under the square root where q lies on a bank row (a training image's own patches)."""
    rng = np.random.default_rng(3)
    b = torch.from_numpy(rng.normal(0, 3, size=(300, 300)).astype(np.float32))
    q = torch.cat([b[:40] + 1e-5, torch.from_numpy(rng.normal(0, 3, size=(60, 300)).astype(np.float32))])
    d = nearest_distance(q, b).numpy()
    expect = np.sqrt(((q.numpy()[:, None].astype(np.float64) - b.numpy()[None]) ** 2).sum(-1)).min(1)
    assert np.abs(d[:40] - expect[:40]).max() < 1e-6  # ~1.7e-4 apart: a thousandth of that, not ~1e-2
    assert np.allclose(d[40:], expect[40:], rtol=1e-5)


def test_nearest_distance_with_a_kept_index_is_the_same(monkeypatch):
    import thermal_anomaly.detectors.patchcore as pc

    rng = np.random.default_rng(2)
    q = torch.from_numpy(rng.normal(size=(700, 16)).astype(np.float32))
    b = torch.from_numpy(rng.normal(size=(90, 16)).astype(np.float32))
    whole = nearest_distance(q, b)
    assert torch.equal(nearest_distance(q, b, index=pc.index_bank(b)), whole)
    monkeypatch.setattr(pc, "_QUERY_BLOCK", 7)  # query blocks change a distance by float rounding at most
    assert torch.allclose(nearest_distance(q, b, index=pc.index_bank(b)), whole, rtol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        nearest_distance(q, b, exclude=torch.ones(90, dtype=torch.bool))


# ---------------------------------------------------------------------------------------- PatchCore
def test_patchcore_finds_the_hot_blob(patchcore):
    pred = patchcore.score([HELD_OUT, FAULTY])
    assert pred.pred_score[1] > 1.5 * pred.pred_score[0]
    r, c = _peak_position(pred.anomaly_map[1])
    assert abs(r - BLOB[0]) <= 12 and abs(c - BLOB[1]) <= 12
    assert pred.pred_label[1] and not pred.pred_label[0]
    assert patchcore.memory_bank_.dtype == torch.float16
    # 6 images x 16 x 16 patches at stride 8, a quarter kept
    assert patchcore.memory_bank_.shape == (384, 40 + 112)


@pytest.mark.slow
def test_patchcore_bank_excludes_overlay_patches_and_loo_equals_refit():
    x, valid = PatchCore(**PC_COMMON).prepare(NORMALS[:3])
    valid[:, :32, :32] = False  # a 'logo': 4 x 4 patches of each image
    full = PatchCore(coreset_ratio=1.0, **PC_COMMON)
    fitted = full._fit(x, valid, progress=False)
    assert len(full.memory_bank_) == 3 * (256 - 16)
    _, loo = full._calibration_maps(x, valid, fitted, progress=False)
    # Without a coreset, leave-one-out by masking equals refitting without the image.
    other = PatchCore(coreset_ratio=1.0, **PC_COMMON)
    other._fit(x[1:], valid[1:], progress=False)
    assert torch.allclose(loo[0], other._raw_maps(x[:1])[0], atol=1e-5)
    # An image scored against a bank that holds its own patches is (almost) zero away.
    assert full._raw_maps(x[:1])[0, 8:, 8:].max().item() < 1e-2 * loo[0].max().item()


@pytest.mark.slow
def test_patchcore_save_load_gives_identical_scores(patchcore, tmp_path):
    path = patchcore.save(tmp_path / "pc.pt")
    again = load_detector(path)
    assert isinstance(again, PatchCore) and again.get_config() == patchcore.get_config()
    a, b = patchcore.score([HELD_OUT, FAULTY]), again.score([HELD_OUT, FAULTY])
    assert np.array_equal(a.pred_score, b.pred_score)
    assert all(np.array_equal(m, n) for m, n in zip(a.anomaly_map, b.anomaly_map, strict=True))
    assert again.threshold_ == patchcore.threshold_


# ---------------------------------------------------------------------------------------- PaDiM
def test_ledoit_wolf_matches_sklearn_and_is_invertible_with_few_samples():
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(2, 7, 20)))  # 7 samples, 20 dims
    mean, cov = ledoit_wolf_covariance(x)
    ref, _ = ledoit_wolf(x[0].numpy())
    mu = np.trace(ref) / 20
    floor = 1e-3 * mu + 1e-6
    assert np.allclose(cov[0].numpy() - floor * np.eye(20), ref, atol=1e-10)
    assert np.allclose(mean.numpy(), x.mean(1).numpy())
    assert torch.linalg.eigvalsh(cov).min().item() > 0
    assert torch.isfinite(torch.linalg.inv(cov)).all()


@pytest.mark.slow
def test_padim_finds_the_hot_blob(padim):
    pred = padim.score([HELD_OUT, FAULTY])
    assert pred.pred_score[1] > 1.5 * pred.pred_score[0]
    r, c = _peak_position(pred.anomaly_map[1])
    assert abs(r - BLOB[0]) <= 12 and abs(c - BLOB[1]) <= 12
    assert padim.inv_cov_.shape == (16 * 16, 100, 100)


@pytest.mark.slow
def test_padim_save_load_gives_identical_scores(padim, tmp_path):
    path = padim.save(tmp_path / "padim.pt")
    again = load_detector(path)
    assert isinstance(again, Padim)
    a, b = padim.score([HELD_OUT, FAULTY]), again.score([HELD_OUT, FAULTY])
    assert np.array_equal(a.pred_score, b.pred_score)
    assert all(np.array_equal(m, n) for m, n in zip(a.anomaly_map, b.anomaly_map, strict=True))


@pytest.mark.slow
def test_hotspot_fusion_peaks_on_the_injected_fault():
    """On thermal-looking scenes with a colour bar, the fused map's maximum sits on the hot fault."""
    import cv2

    from thermal_anomaly.synthetic import render_scene

    rng = np.random.default_rng(3)
    normals = [render_scene(rng, size=(192, 192))[0] for _ in range(6)]
    held_out = render_scene(rng, size=(192, 192))[0]
    det = PatchCore(img_size=192, coreset_ratio=0.5).fit(normals, progress=False)
    assert det.hotspot_fusion
    normal_score = det.score([held_out]).pred_score[0]
    for _ in range(3):
        faulty, mask = render_scene(rng, size=(192, 192), fault=True)
        pred = det.score([faulty])
        assert pred.pred_score[0] > normal_score
        near = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        assert near[_peak_position(pred.anomaly_map[0])]


@pytest.mark.slow
def test_image_score_weighs_novelty_more_than_the_pixel_map(tmp_path):
    """The fused default decides with novelty² × heat (two scales) and draws novelty × heat, each on its own
    scale."""
    from thermal_anomaly.synthetic import render_scene

    rng = np.random.default_rng(5)
    normals = [render_scene(rng, size=(160, 160))[0] for _ in range(5)]
    det = PatchCore(img_size=160, coreset_ratio=0.5).fit(normals, progress=False)
    assert det.score_novelty_weight == 2.0 and det.novelty_weight == 1.0
    x, _valid = det.prepare(normals[:2])
    with torch.no_grad():
        novelty = det._embed(x)
        n = nearest_distance(novelty.reshape(-1, novelty.shape[-1]), det._bank32).reshape(novelty.shape[:3])
        raw = det._raw_maps(x)
    up = torch.nn.functional.interpolate(n[:, None], size=(160, 160), mode="bilinear", align_corners=False)[
        :, 0
    ]
    # pixel map: novelty × joint-scale heat; image score: novelty² × mean of joint- and component-scale heat
    assert x.shape[1] == 5
    assert torch.allclose(raw, up * (x[:, 3] + det.hotspot_floor), rtol=1e-4, atol=1e-6)
    heat = x[:, 3:5].mean(1) + det.hotspot_floor
    assert torch.allclose(det._score_maps(raw, x), up.clamp_min(1e-12) ** 2 * heat, rtol=1e-4, atol=1e-6)
    # two scales, both ~1 for a typical normal, saved and restored
    assert det.map_calibration_ != det.calibration_
    again = load_detector(det.save(tmp_path / "m.pt"))
    assert again.map_calibration_ == det.map_calibration_ and again.calibration_ == det.calibration_
    faulty, _mask = render_scene(rng, size=(160, 160), fault=True)
    a, b = det.score([faulty]), again.score([faulty])
    assert a.pred_score[0] == b.pred_score[0] and np.array_equal(a.anomaly_map[0], b.anomaly_map[0])
    # the pixel map's peak is on its own scale, not the image score
    assert abs(float(a.anomaly_map[0].max()) - float(a.pred_score[0])) > 1e-3


def test_a_model_saved_before_the_component_scale_loads_without_it(tmp_path):
    """Model files from before ``component_size`` existed were calibrated without it: they load with it off."""
    from thermal_anomaly.synthetic import render_scene

    rng = np.random.default_rng(9)
    det = PatchCore(img_size=128, coreset_ratio=0.5).fit(
        [render_scene(rng, size=(128, 128))[0] for _ in range(3)], progress=False
    )
    path = det.save(tmp_path / "new.pt")
    assert load_detector(path).component_size == 0.25
    payload = torch.load(path, weights_only=True)
    del payload["config"]["component_size"]
    torch.save(payload, tmp_path / "old.pt")
    assert load_detector(tmp_path / "old.pt").component_size == 0.0
