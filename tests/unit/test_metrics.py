"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from thermal_anomaly.metrics import aupro, best_f1, confusion_at, evaluate, image_auroc, iou, pixel_auroc


def test_image_auroc_with_ties():
    # pairs (pos, neg): 0.8>0.1, 0.8>0.4, 0.4=0.4 (half), 0.4>0.1 -> (1+1+0.5+1)/4
    assert image_auroc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(3.5 / 4)
    assert math.isnan(image_auroc([0, 0], [0.1, 0.2]))


def test_best_f1_finds_the_known_threshold():
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.2, 0.6, 0.7, 0.65, 0.9]
    f1, thr = best_f1(labels, scores)
    # threshold 0.6 flags 0.6, 0.65, 0.7, 0.9: tp 3, fp 1, fn 0 -> F1 = 6/7
    assert f1 == pytest.approx(6 / 7)
    assert thr == pytest.approx(0.6)
    c = confusion_at(labels, scores, 0.65)
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (2, 1, 1, 2)


def test_iou_pooled_over_images():
    a = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True  # 4 px
    b = np.zeros((4, 4), bool)
    b[1:3, 1:3] = True  # 4 px, overlap 1 -> union 7
    assert iou([a], [b]) == pytest.approx(1 / 7)
    normal_gt = np.zeros((4, 4), bool)
    false_alarm = np.zeros((4, 4), bool)
    false_alarm[3, 3] = True
    assert iou([a, normal_gt], [b, false_alarm]) == pytest.approx(1 / 8)


def test_pixel_auroc_matches_sklearn_exact_and_binned():
    rng = np.random.default_rng(0)
    masks = [rng.random((40, 50)) < 0.1 for _ in range(3)]
    maps = [m * 0.5 + rng.random(m.shape) for m in masks]
    ref = roc_auc_score(np.concatenate([m.ravel() for m in masks]), np.concatenate([a.ravel() for a in maps]))
    assert pixel_auroc(masks, maps) == pytest.approx(ref, abs=1e-9)
    assert pixel_auroc(masks, maps, max_exact_pixels=100) == pytest.approx(ref, abs=1e-3)


def test_aupro_perfect_constant_and_two_regions():
    gt = np.zeros((10, 10), bool)
    gt[1:3, 1:3] = True  # region A, 4 px
    gt[6:9, 6:9] = True  # region B, 9 px
    perfect = gt.astype(float)
    assert aupro([gt], [perfect]) == pytest.approx(1.0)
    # constant map: every threshold flags all or nothing -> PRO jumps 0->1 at FPR 1; linear between -> 0.15
    assert aupro([gt], [np.zeros((10, 10))]) == pytest.approx(0.15, abs=1e-6)
    # region A found at FPR 0, region B only together with every normal pixel: PRO 0.5 until FPR 1
    half = np.zeros((10, 10))
    half[gt] = 0.0
    half[1:3, 1:3] = 2.0
    val = aupro([gt], [half])
    # curve: (0, 0.5) then linear to (1, 1) -> area on [0, 0.3] = 0.3*0.5 + 0.5*0.3*0.15 = 0.1725
    assert val == pytest.approx(0.1725 / 0.3, abs=1e-6)


def test_evaluate_reports_every_key():
    gt = [np.zeros((8, 8), bool), np.pad(np.ones((2, 2), bool), 3)]
    maps = [np.zeros((8, 8)), gt[1] * 2.0]
    out = evaluate([0, 1], [0.5, 2.0], 1.0, masks=gt, maps=maps)
    assert out["image_auroc"] == 1.0 and out["tpr_at_threshold"] == 1.0 and out["fpr_at_threshold"] == 0.0
    assert out["pixel_auroc"] == pytest.approx(1.0) and out["pixel_aupro"] == pytest.approx(1.0)
    assert out["pixel_iou"] == pytest.approx(1.0)


def test_aupro_regions_are_8_connected_and_normal_images_count():
    # faulty image: region A = 2 diagonal pixels (one region under 8-connectivity) scored 1.0,
    # region B = 2x4 block scored 0.5; a normal image adds 100 normal pixels (190 in all).
    gt = np.zeros((10, 10), bool)
    gt[1, 1] = gt[2, 2] = True
    gt[6:8, 5:9] = True
    amap = np.zeros((10, 10))
    amap[1, 1] = amap[2, 2] = 1.0
    amap[6:8, 5:9] = 0.5
    normal = np.zeros((10, 10))
    normal.ravel()[:38] = 0.7  # 38/190 = FPR 0.2 at threshold 0.7
    # curve (0,0) (0,0.5) (0.2,0.5) (0.2,1) (1,1): area to 0.3 = 0.2*0.5 + 0.1*1 = 0.2
    val = aupro([gt, np.zeros((10, 10), bool)], [amap, normal])
    assert val == pytest.approx(0.2 / 0.3, abs=1e-9)  # 4-connectivity would give 0.7778


def test_aupro_binned_matches_exact_and_random_is_near_015():
    rng = np.random.default_rng(1)
    masks, maps = [], []
    for k in range(6):
        m = np.zeros((120, 160), bool)
        if k % 2:
            m[20:60, 30:90] = True
            m[80:100, 120:140] = True
        masks.append(m)
        maps.append(rng.random(m.shape) + 0.4 * m)
    exact = aupro(masks, maps)
    assert aupro(masks, maps, num_thresholds=1000) == pytest.approx(exact, abs=1e-3)
    assert aupro(masks, [rng.random(m.shape) for m in masks]) == pytest.approx(0.15, abs=0.01)


def test_best_f1_prefers_highest_threshold_and_handles_no_faults():
    # thresholds 0.9 and 0.5 both give F1 = 2/3 (tp1 fn1 vs tp2 fp2): the higher one wins
    f1, thr = best_f1([1, 0, 1, 0], [0.9, 0.6, 0.5, 0.55])
    assert f1 == pytest.approx(2 / 3) and thr == pytest.approx(0.9)
    assert all(math.isnan(v) for v in best_f1([0, 0], [0.1, 0.2]))


def test_mean_iou_and_bad_inputs():
    from thermal_anomaly.errors import DataError
    from thermal_anomaly.metrics import mean_iou

    a = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3, 1:3] = True
    # per faulty image: 1/7 and 4/4; the normal image (None mask) is skipped
    assert mean_iou([a, a, None], [b, a, b]) == pytest.approx((1 / 7 + 1) / 2)
    with pytest.raises(DataError):
        iou([a], [np.zeros((3, 3), bool)])
    with pytest.raises(DataError):
        image_auroc([0, 1], [0.1, float("nan")])
