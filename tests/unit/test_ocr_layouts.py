"""OCR paid once per camera layout: label boxes and unit signs found again where they were, label crops
binarised once, end labels beyond the nearest number read only when needed; the readings do not change."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal import glyphs, ocr
from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.palette import as_rgb_float

needs_tesseract = pytest.mark.skipif(not ocr.tesseract_available(), reason="tesseract not installed")


@pytest.fixture
def fresh():
    glyphs.set_enabled(True)
    glyphs.clear()
    yield
    glyphs.clear()
    glyphs.set_enabled(None)


def _picture(dev_data, rel: str) -> tuple[np.ndarray, object]:
    rgb = as_rgb_float(read_image(dev_data / rel))
    return rgb, find_colorbar(rgb)


@needs_tesseract
def test_next_picture_of_a_layout_reads_as_if_alone(dev_data, fresh):
    first, second = "T1/normal/T1_normal_003.jpg", "T1/faulty/T1_faulty_030.jpg"
    rgb, bar = _picture(dev_data, second)
    alone = ocr.read_scale(rgb, bar)
    glyphs.clear()
    ocr.read_scale(*_picture(dev_data, first))
    hits = glyphs.LAYOUTS.hits
    assert ocr.read_scale(rgb, bar) == alone
    assert glyphs.LAYOUTS.hits > hits  # its labels (and °C sign) were found where the first picture had them
    assert alone[0] is not None


def test_label_gone_from_its_place_means_a_full_search():
    lo = np.full((120, 80), 40, np.uint8)
    hi = lo.copy()
    assert ocr._words_again(lo, hi, 9, (True, 10.0), [(30, 20, 24, 12)]) is None
    lo[22:32, 32:34] = hi[22:32, 32:34] = 250  # a "1" where the label was: found there again
    lo[22:32, 38:44] = hi[22:32, 38:44] = 250
    lo[24:30, 40:42] = hi[24:30, 40:42] = 40
    got = ocr._words_again(lo, hi, 9, (True, 10.0), [(30, 20, 16, 12)])
    assert got is not None and any(ocr._overlap(w.box, (30, 20, 16, 12)) for w in got)


@needs_tesseract
def test_unit_signs_found_once_per_picture(dev_data, fresh, monkeypatch):
    rgb, _bar = _picture(dev_data, "T1/normal/T1_normal_003.jpg")
    calls = []
    real = ocr._unit_marks
    monkeypatch.setattr(ocr, "_unit_marks", lambda img: calls.append(1) or real(img))
    assert ocr.printed_units(rgb) == {"C"}
    assert {m[0] for m in ocr.unit_marks(rgb)} == {"C"}
    assert len(calls) == 1
