"""Reading the numbers printed at a colour bar: real dev images and rendered look-alikes of their layouts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.ocr import (
    STRONG_HAT,
    _char_ok,
    _checked,
    _fit,
    _split_tangled,
    _vote,
    read_scale,
    tesseract_available,
)
from thermal_anomaly.thermal.palette import palette_lut
from thermal_anomaly.thermal.temperature import temperature_map

needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract not installed")
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scene(h: int, w: int, lut: np.ndarray, seed: int = 0) -> np.ndarray:
    """A smooth palette-coloured scene (positions 0.2..0.8 of the palette)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = 0.5 + 0.3 * np.sin(xx / 70.0 + rng.uniform(0, 3)) * np.cos(yy / 50.0)
    return (lut[np.round(f * (len(lut) - 1)).astype(int)] * 255 + 0.5).astype(np.uint8)


def _bar(img: np.ndarray, lut: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> None:
    ramp = np.linspace(1.0, 0.0, y1 - y0)  # hot at the top
    img[y0:y1, x0:x1] = (lut[np.round(ramp * (len(lut) - 1)).astype(int)][:, None, :] * 255).astype(np.uint8)


def _dark_box(img: np.ndarray, text: str, x: int, y: int, lock: bool, grey: int = 255) -> None:
    """A FLIR-style dark box with a number (and a lock icon before it, as on a locked scale)."""
    (tw, th), _b = cv2.getTextSize(text, FONT, 0.8, 2)
    x_text = x + (40 if lock else 10)
    cv2.rectangle(img, (x, y), (x_text + tw + 10, y + th + 16), (12, 16, 30), -1)
    if lock:
        cv2.rectangle(img, (x + 10, y + 12), (x + 24, y + th + 6), (255, 255, 255), 2)
        cv2.ellipse(img, (x + 17, y + 12), (5, 5), 0, 180, 360, (255, 255, 255), 2)
    cv2.putText(img, text, (x_text, y + th + 8), FONT, 0.8, (grey, grey, grey), 2, cv2.LINE_AA)


def _t1_like(top: str, bottom: str, lock: bool) -> np.ndarray:
    """640x640 like T1: bar at the left, max/min in dark boxes above/below, spot reading further up."""
    lut = palette_lut("rainbow_hc")
    img = _scene(640, 640, lut)
    _bar(img, lut, 22, 30, 160, 555)
    _dark_box(img, "38.0 C", 20, 40, lock=False)  # the spot reading: a number, but not the scale's
    _dark_box(img, top, 8, 112, lock=lock, grey=140 if lock else 255)
    _dark_box(img, bottom, 8, 565, lock=lock, grey=140 if lock else 255)
    return img


@needs_tesseract
@pytest.mark.parametrize("top,bottom,lock", [("52.6", "7.8", False), ("47.9", "21.8", True)])
def test_t1_like_end_boxes_read_exactly(top, bottom, lock):
    img = _t1_like(top, bottom, lock)
    bar = find_colorbar(img)
    assert bar is not None and bar.orientation == "vertical" and bar.box[0] <= 30
    reading, why = read_scale(img, bar)
    assert reading is not None, why
    assert (reading.start, reading.stop) == pytest.approx((float(top), float(bottom)), abs=1e-6)
    if not lock:  # the whole decoding once (it costs ~1 s): °C range from the two boxes
        tm = temperature_map(img)
        assert tm.unit == "C" and tm.range == pytest.approx((float(bottom), float(top)), abs=1e-6)


@needs_tesseract
def test_t2_like_tick_labels_right_of_bar():
    """A bar at the right with tick labels every 10 °C beside it (T4/T5 style) and no end labels."""
    lut = palette_lut("rainbow")
    h, w = 380, 560
    img = np.full((h, w, 3), 255, np.uint8)
    img[:, :470] = _scene(h, 470, lut, seed=2)
    y0, y1, t0, t1 = 20, 360, 15.0, 60.0  # the bar spans 15..60 °C, hot at the top
    _bar(img, lut, 480, 496, y0, y1)
    for value in (20, 30, 40, 50):
        y = y0 + (t1 - value) / (t1 - t0) * (y1 - y0)
        cv2.line(img, (496, int(round(y))), (502, int(round(y))), (0, 0, 0), 1)
        cv2.putText(img, f"{value}", (506, int(round(y)) + 8), FONT, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
    bar = find_colorbar(img)
    assert bar is not None and bar.orientation == "vertical"
    reading, why = read_scale(img, bar)
    assert reading is not None, why
    assert reading.n_labels >= 3
    # the reading is at the bar's detected extent: compare the scale where the labels stand
    e0, e1 = bar.extent
    for value in (20, 30, 40, 50):
        y = y0 + (t1 - value) / (t1 - t0) * (y1 - y0)
        got = reading.start + (y - e0) / (e1 - e0) * (reading.stop - reading.start)
        assert got == pytest.approx(value, abs=0.6)


@needs_tesseract
def test_unreadable_end_box_is_relative_with_reason():
    """A smudged max box: no °C rather than a guess, and the reason says which end failed."""
    img = _t1_like("52.6", "7.8", lock=False)
    img[112:150, 8:120] = cv2.GaussianBlur(img[112:150, 8:120], (0, 0), 4)
    bar = find_colorbar(img)
    reading, why = read_scale(img, bar)
    assert reading is None
    assert "top end" in why or "label" in why


def test_lost_decimal_dot_is_put_back_and_extra_digit_rejected():
    tile = np.full((60, 140), 255, np.uint8)
    cv2.putText(tile, "7.8", (10, 48), FONT, 1.5, 0, 4)
    assert _checked("78", tile) == "7.8"  # tesseract dropped the dot: 78 would be ten times off
    assert _checked("7.8", tile) == "7.8"
    assert _checked("71.8", tile) == ""  # a digit read from nothing
    assert _checked("8", tile) == ""  # a digit lost


def test_vote_needs_two_agreeing_sizes():
    assert _vote([("52.6", 90.0), ("52.6", 80.0), ("92.6", 85.0)]) == ("52.6", 80.0)
    assert _vote([("52.6", 90.0), ("92.6", 85.0), ("", -1.0)]) == ("", -1.0)
    assert _vote([("21", 60.0)]) == ("21", 60.0)


def test_fit_rejects_implausible_readings():
    # two end labels the wrong way round (hot end at the bottom) are a misread, not a reversed scale
    assert _fit([], [(0.0, 7.8), (1.0, 52.6)], vertical=True)[0] is None
    # two tick labels only: the ends would be extrapolated from positions a few px off
    reading, why = _fit([(0.3, 50.0), (0.6, 40.0)], [], vertical=True)
    assert reading is None and "3 needed" in why
    # end labels that the tick labels contradict
    ticks = [(0.2, 70.0), (0.4, 60.0), (0.6, 50.0), (0.8, 40.0)]
    assert _fit(ticks, [(0.0, 92.6), (1.0, 21.8)], vertical=True)[0] is None
    reading, _why = _fit(ticks, [], vertical=True)
    assert reading is not None and (reading.start, reading.stop) == pytest.approx((80.0, 30.0))


@needs_tesseract
@pytest.mark.parametrize(
    "rel,ends",
    [
        ("T1/faulty/T1_faulty_001.jpg", (52.6, 7.8)),  # white digits, no icon; HEAD read 92.6 / 1.8
        ("T1/faulty/T1_faulty_023.jpg", (47.9, 21.8)),  # grey digits beside a lock icon
        ("T4/faulty/T4_faulty_001.png", None),  # tick labels only
    ],
)
def test_dev_images_scale_ends(dev_data, rel, ends):
    img = read_image(dev_data / rel)
    bar = find_colorbar(img)
    assert bar is not None
    reading, why = read_scale(img, bar)
    assert reading is not None, why
    if ends is not None:
        assert (reading.start, reading.stop) == pytest.approx(ends, abs=1e-6)
    else:  # T4: labels 50/40/30 at these rows (read by eye, benchmarks/scale_truth.json)
        assert reading.start > reading.stop
        e0, e1 = bar.extent
        for row, value in ((70.0, 50.0), (165.0, 40.0), (260.5, 30.0), (356.0, 20.0)):
            got = reading.start + (row - e0) / (e1 - e0) * (reading.stop - reading.start)
            assert got == pytest.approx(value, abs=0.6)


@pytest.mark.parametrize("seed", range(6))
def test_split_tangled_labels_only_the_strong_strokes_box_with_the_whole_windows_pieces_and_order(seed):
    """Strong digits joined to faint scene strokes, at odd offsets: the pieces, and their order, are those of
    labelling the whole window (as the code did before it labelled only the strong strokes' bounding box)."""
    rng = np.random.default_rng(seed)
    hat = np.zeros((301, 257), np.uint8)
    k = 9
    for _ in range(4):
        x, y = int(rng.integers(3, 200)), int(rng.integers(3, 250))
        # faint scene strokes, one much taller than a character, joining the digits into one big shape
        hat[y : y + 40, x] = 60
        hat[y + 18, x : x + 40] = 60
        for d in range(int(rng.integers(2, 5))):  # strong digits of 9-11 px on one baseline, a few px apart
            dh, dw = int(rng.integers(9, 12)), int(rng.integers(4, 8))
            dx = x + 1 + d * 10
            hat[y + 18 - dh : y + 18, dx : dx + dw] = 200
            hat[y + 18 - dh // 2, dx + 1 : dx + dw - 1] = 0
    _n, lab, stats, _c = cv2.connectedComponentsWithStats((hat > 40).astype(np.uint8), connectivity=8)
    got = _split_tangled(hat, lab, stats, k)
    ws, hs = stats[1:, 2], stats[1:, 3]
    big = np.flatnonzero((hs > 3 * k) | ((hs >= 3) & (ws > 2 * hs + 4))) + 1
    strong = ((hat > STRONG_HAT) & np.isin(lab, big)).astype(np.uint8)
    st = cv2.connectedComponentsWithStats(strong, connectivity=8)[2][1:, :4].astype(np.int64)
    st = st[_char_ok(st, k)]
    assert len(got) >= 2
    assert got.tolist() == [row for row in st.tolist() if row in got.tolist()]
