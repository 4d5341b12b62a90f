"""Post-processing on the predict path: fast equivalents give OpenCV's exact results; holes fill from the scene."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.postprocess import (
    clean_mask,
    connected_components,
    fill_holes,
    find_regions,
    foreground_box,
    label_boxes,
    labelled_boxes,
)
from thermal_anomaly.thermal.render import open_disc


def _blobs(shape: tuple[int, int], sigma: float, quantile: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), sigma)
    return field > np.quantile(field, quantile)


@pytest.mark.parametrize(
    "shape,sigma,quantile",
    [((240, 320), 3.0, 0.8), ((97, 131), 1.0, 0.6), ((64, 64), 0.5, 0.5), ((50, 70), 2.0, 1.0)],
)
def test_connected_components_equal_opencv(shape, sigma, quantile):
    mask = _blobs(shape, sigma, quantile, seed=int(sigma * 10))
    n_cv, lab_cv, stats_cv, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    n, lab, stats = connected_components(mask)
    assert n == n_cv
    assert np.array_equal(lab, lab_cv)
    assert np.array_equal(stats[1:], stats_cv[1:])  # boxes and areas of every component
    assert stats[0, 4] == stats_cv[0, 4]


def test_find_regions_boxes_areas_and_peaks():
    rng = np.random.default_rng(3)
    amap = rng.random((120, 160)).astype(np.float32)
    mask = _blobs((120, 160), 2.0, 0.85, seed=4)
    regions = find_regions(amap, mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    expected = sorted(
        (
            float(amap[labels == k].max()),
            [
                int(stats[k, 0]),
                int(stats[k, 1]),
                int(stats[k, 0] + stats[k, 2]),
                int(stats[k, 1] + stats[k, 3]),
            ],
            int(stats[k, 4]),
        )
        for k in range(1, n)
    )[::-1]
    assert n > 5
    assert [(r.score, r.box, r.area) for r in regions] == expected


def test_connected_components_many_speckles():
    mask = np.random.default_rng(5).random((100, 100)) > 0.9  # hundreds of components: OpenCV's own stats
    n_cv, lab_cv, stats_cv, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    n, lab, stats = connected_components(mask)
    assert n == n_cv > 257 and np.array_equal(lab, lab_cv) and np.array_equal(stats[1:], stats_cv[1:])


@pytest.mark.parametrize("k", [3, 5, 11, 19, 31, 61])
def test_open_disc_equals_opencv_ellipse_opening(k):
    rng = np.random.default_rng(k)
    img = cv2.GaussianBlur(rng.random((90, 130)).astype(np.float32), (0, 0), 2.0)
    ref = cv2.morphologyEx(img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    assert np.array_equal(open_disc(img, k), ref)


def test_overlay_fill_keeps_the_scene_and_fills_holes_from_their_surroundings():
    """Camera overlays are filled from the scene around them (push-pull over a pyramid), valid pixels kept."""
    img = np.zeros((64, 96, 3), np.float32)
    img[:, :48] = (0.2, 0.3, 0.4)
    img[:, 48:] = (0.8, 0.6, 0.1)
    valid = np.ones((64, 96), bool)
    valid[10:20, 5:15] = False  # a hole inside the left half
    valid[30:50, 40:56] = False  # a hole across the edge
    marked = img.copy()
    marked[~valid] = 1.0  # an overlay's colour must not leak into the fill
    out = fill_holes(marked, valid)
    assert np.array_equal(out[valid], img[valid])
    assert np.allclose(out[10:20, 5:15], (0.2, 0.3, 0.4), atol=1e-5)
    across = out[30:50, 40:56]
    assert (across >= 0.1 - 1e-5).all() and (across <= 0.8 + 1e-5).all()
    assert np.allclose(out[40, 40], (0.2, 0.3, 0.4), atol=0.1) and np.allclose(
        out[40, 55], (0.8, 0.6, 0.1), atol=0.1
    )


def _masks_near_edges(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    out = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        m = rng.random((h, w)) < rng.random() * 0.3
        if i % 3 == 0:  # a few pixels only, often at the border
            m[:] = False
            m[rng.integers(0, h), [0, w - 1][i % 2]] = True
            m[rng.integers(0, h), rng.integers(0, w)] = True
        out.append(m)
    return out


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_clean_mask_within_the_mask_box_equals_the_full_image_filter(kernel):
    rng = np.random.default_rng(kernel)
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    for m in _masks_near_edges(rng, 200):
        want = m.astype(np.uint8)
        if kernel > 1:
            want = cv2.morphologyEx(cv2.morphologyEx(want, cv2.MORPH_OPEN, se), cv2.MORPH_CLOSE, se)
        assert np.array_equal(clean_mask(m, kernel), want.astype(bool))


def test_find_regions_within_the_mask_box_equals_whole_image_labelling():
    rng = np.random.default_rng(3)
    for m in _masks_near_edges(rng, 200):
        amap = rng.random(m.shape).astype(np.float32)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m.view(np.uint8), connectivity=8)
        want = sorted(
            ([x, y, x + w, y + h], float(amap[labels == k].max()), a)
            for k, (x, y, w, h, a) in enumerate(stats.tolist())
            if k > 0
        )
        got = sorted((r.box, r.score, r.area) for r in find_regions(amap, m))
        assert got == want


def test_foreground_box_grows_within_the_image():
    m = np.zeros((10, 20), bool)
    assert foreground_box(m) is None
    m[2, 18] = True
    assert foreground_box(m) == (slice(2, 3), slice(18, 19))
    assert foreground_box(m, 3) == (slice(0, 6), slice(15, 20))
    assert foreground_box(m.astype(np.float32) * 0.5) == (slice(2, 3), slice(18, 19))


@pytest.mark.parametrize("where", ["corner", "strip", "empty", "whole"])
def test_label_boxes_within_the_labels_box_equal_opencv(where):
    """Boxes found within the labelled pixels' box (given or not) are OpenCV's, in whole-image pixels."""
    mask = np.zeros((90, 130), bool)
    blobs = _blobs((90, 130), 1.5, 0.8, seed=7)
    if where == "corner":
        mask[60:, 100:] = blobs[60:, 100:]
    elif where == "strip":
        mask[:, 40:70] = blobs[:, 40:70]
    elif where == "whole":
        mask = blobs
    n_cv, lab_cv, stats_cv, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    n, lab, boxes = labelled_boxes(mask)
    assert n == n_cv and np.array_equal(lab, lab_cv)
    assert np.array_equal(boxes[1:], stats_cv[1:, :4]) and not boxes[0].any()
    assert np.array_equal(label_boxes(lab, n), boxes)
