"""Score normalisation per asset and thresholds learned from normal images only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermal_anomaly import NotFittedError
from thermal_anomaly.detectors.base import Detector
from thermal_anomaly.detectors.calibration import ALL_GROUPS, lognormal_threshold


class MeanDetector(Detector):
    """Toy detector: the map is the distance of each pixel's brightness to the normal mean."""

    name = "toy-mean"

    def __init__(
        self,
        *,
        img_size: int = 32,
        blur_sigma: float = 0.0,
        mask_overlays: bool = False,
        mask_kernel: int = 1,
        **common,
    ) -> None:
        super().__init__(
            img_size=img_size,
            blur_sigma=blur_sigma,
            mask_overlays=mask_overlays,
            mask_kernel=mask_kernel,
            **common,
        )
        self.mean_ = torch.zeros(())

    def _fit(self, x, valid, *, progress):
        self.mean_ = x.mean()

    def _raw_maps(self, x):
        return (x.mean(dim=1) - self.mean_).abs() + 0.01

    def _state(self):
        return {"mean": self.mean_}

    def _load_state(self, state):
        self.mean_ = state["mean"]


def _flat(v: float, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(v + noise * rng.standard_normal((32, 32, 3)), 0, 1).astype(np.float32)


def test_scores_are_normalised_per_group_so_one_threshold_fits_both():
    # group "quiet" has small normal variation, group "noisy" large: raw scores differ ~5x.
    imgs = [_flat(0.5, 0.01, i) for i in range(6)] + [_flat(0.5, 0.05, 10 + i) for i in range(6)]
    groups = ["quiet"] * 6 + ["noisy"] * 6
    det = MeanDetector().fit(imgs, groups=groups, progress=False)
    assert det.calibration_["noisy"] > 3 * det.calibration_["quiet"]
    assert set(det.calibration_) == {"quiet", "noisy", ALL_GROUPS}
    normal = det.score([_flat(0.5, 0.01, 50), _flat(0.5, 0.05, 51)], groups=["quiet", "noisy"])
    assert np.all(np.abs(normal.pred_score - 1.0) < 0.5)
    assert not normal.pred_label.any()
    # the same faint defect is anomalous on the quiet asset
    bad = _flat(0.5, 0.01, 52)
    bad[10:14, 10:14] = 0.75
    pred = det.score([bad], groups=["quiet"])
    assert pred.pred_label[0] and pred.pred_score[0] > det.threshold_
    assert pred.pred_mask[0][11, 11] and not pred.pred_mask[0][0, 0]
    assert pred.regions[0][0].box[0] <= 10 and pred.regions[0][0].area >= 4
    # an unknown asset falls back to the pooled scale
    assert det._scale("elsewhere") == det.calibration_[ALL_GROUPS]


def test_flagged_image_is_outlined_even_when_its_map_stays_under_the_pixel_threshold():
    det = MeanDetector().fit([_flat(0.5, 0.01, i) for i in range(6)], progress=False)
    bad = _flat(0.5, 0.01, 52)
    bad[10:14, 10:14] = 0.75
    pred = det.score([bad], pixel_threshold=1e9)  # no pixel reaches it
    assert pred.pred_label[0]
    mask = pred.pred_mask[0]
    assert mask[11, 11] and not mask[0, 0] and mask.sum() < 0.1 * mask.size  # the half-maximum contour
    assert len(pred.regions[0]) == 1 and pred.regions[0][0].box[0] <= 11


def test_half_maximum_outline_is_the_peak_component_of_the_whole_map():
    """Labelled within the core's box: the same component as labelling the whole map."""
    import cv2

    det = MeanDetector()
    rng = np.random.default_rng(4)
    for i in range(100):
        h, w = (int(v) for v in rng.integers(2, 60, 2))
        amap = rng.random((h, w)).astype(np.float32) ** (1 + i % 5)
        core = (amap >= 0.5 * amap.max()).view(np.uint8)
        _n, labels = cv2.connectedComponents(core, connectivity=8)
        want = labels == labels.flat[int(np.argmax(amap))]
        assert np.array_equal(det._outline(amap, pixel_threshold=1e9), want)


def test_flagged_image_whose_map_passes_the_threshold_only_in_a_speck_is_still_outlined():
    """The mask's cleaning (an opening) removes a one-pixel pass; the decision must still point somewhere
    (seen on 120×160 radiometric FLIR maps: flagged, no region)."""
    from thermal_anomaly.postprocess import clean_mask

    det = MeanDetector(mask_kernel=3)
    amap = np.zeros((40, 50), np.float32)
    amap[17:24, 27:34] = 0.3  # the peak's surroundings, under half of it
    amap[18:23, 28:33] = 0.6  # and over half of it, still under the threshold
    amap[20, 30] = 1.0  # one pixel over the threshold
    mask = det._outline(amap, pixel_threshold=0.9)
    assert mask[20, 30] and mask.sum() == 25  # the half-maximum core around the peak
    amap[18:23, 28:33] = 0.95  # a blob over the threshold: the cleaned threshold mask, as before
    mask = det._outline(amap, pixel_threshold=0.9)
    assert mask[20, 30] and np.array_equal(mask, clean_mask(amap >= 0.9, 3))


def test_threshold_override_and_label_consistency():
    imgs = [_flat(0.5, 0.02, i) for i in range(8)]
    det = MeanDetector().fit(imgs, progress=False)
    pred = det.score(imgs[:3], threshold=0.0)
    assert pred.pred_label.all() and pred.threshold == 0.0
    pred = det.score(imgs[:3], threshold=1e9)
    assert not pred.pred_label.any() and not any(m.any() for m in pred.pred_mask)


def test_lognormal_threshold_uses_prior_with_few_normals():
    assert lognormal_threshold(np.array([1.0]), 0.95) == pytest.approx(np.exp(1.6449 * 0.15), rel=1e-3)
    vals = np.exp(np.random.default_rng(0).normal(0, 0.1, 400))
    thr = lognormal_threshold(vals, 0.95)
    assert 0.93 <= (vals < thr).mean() <= 0.99


def test_unfitted_detector_refuses_to_score():
    with pytest.raises(NotFittedError):
        MeanDetector().score([_flat(0.5, 0.0, 0)])


def test_maps_come_back_at_original_size():
    det = MeanDetector().fit([_flat(0.5, 0.02, i) for i in range(4)], progress=False)
    img = np.full((50, 77, 3), 0.5, np.float32)
    pred = det.score([img])
    assert pred.anomaly_map[0].shape == (50, 77) and pred.pred_mask[0].shape == (50, 77)
