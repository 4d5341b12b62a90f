"""Pictures keep their shape in the detector's square input: letterboxed, not stretched.

A joint is round in a 4:3 frame, a 16:10 photo and a close crop alike; stretched over the square, a close
crop's joint would become an ellipse the normals never showed. Maps come back at the picture's size, aligned.
"""

from __future__ import annotations

import cv2
import numpy as np

from thermal_anomaly.detectors.base import Detector
from thermal_anomaly.detectors.patchcore import PatchCore
from thermal_anomaly.postprocess import from_working, to_working, working_box

from .test_calibration import MeanDetector


def _disc(shape: tuple[int, int], centre: tuple[int, int], r: int) -> np.ndarray:
    img = np.zeros(shape, np.float32)
    cv2.circle(img, (centre[1], centre[0]), r, 1.0, -1)
    return img


def test_working_box_scales_the_long_side_and_centres_the_short_one():
    assert working_box((100, 300), 96) == (32, 0, 32, 96)
    assert working_box((300, 100), 96) == (0, 32, 96, 32)
    assert working_box((640, 640), 96) == (0, 0, 96, 96)
    assert working_box((100, 300), 96, keep_aspect=False) == (0, 0, 96, 96)


def test_a_round_hot_spot_stays_round_in_the_working_input():
    img = _disc((120, 360), (60, 200), 30)
    small = to_working(img, 96, cv2.INTER_AREA)
    ys, xs = np.nonzero(small > 0.5)
    assert abs((ys.max() - ys.min()) - (xs.max() - xs.min())) <= 1  # stretched it would be 3x taller
    y0, x0, h, w = working_box(img.shape, 96)
    assert small[:y0].max() == 0 and small[y0 + h :].max() == 0  # margins are empty


def test_a_working_map_comes_back_aligned_with_the_picture():
    shape = (120, 360)
    y0, x0, h, w = working_box(shape, 96)
    m = np.zeros((96, 96), np.float32)
    m[y0 + h // 2, x0 + w // 4] = 1.0  # a peak half way down, a quarter across the picture
    back = from_working(cv2.GaussianBlur(m, (0, 0), 1.0), shape)
    assert back.shape == shape
    py, px = np.unravel_index(int(np.argmax(back)), shape)
    assert abs(py - 60) <= 3 and abs(px - 90) <= 4


def test_detector_maps_peak_on_the_hot_spot_of_a_wide_picture():
    det = MeanDetector(img_size=64).fit([np.full((40, 120, 3), 0.5, np.float32)] * 4, progress=False)
    img = np.full((40, 120, 3), 0.5, np.float32)
    img[15:25, 90:100] = 1.0
    amap = det.score([img]).anomaly_map[0]
    py, px = np.unravel_index(int(np.argmax(amap)), amap.shape)
    assert amap.shape == (40, 120) and 12 <= py <= 27 and 87 <= px <= 102


def test_models_saved_before_letterboxing_keep_stretching():
    assert Detector._upgrade_config({"img_size": 320})["keep_aspect"] is False
    assert Detector._upgrade_config({"keep_aspect": True})["keep_aspect"] is True
    assert PatchCore._upgrade_config({})["keep_aspect"] is False  # a subclass's upgrade keeps the base's
    assert MeanDetector().get_config()["keep_aspect"] is True
