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
