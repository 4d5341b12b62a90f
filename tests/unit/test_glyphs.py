"""The glyph cache: learns a camera's digits from tesseract and reads them back only when sure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal import glyphs, ocr
from thermal_anomaly.thermal.colorbar import find_colorbar

needs_tesseract = pytest.mark.skipif(not ocr.tesseract_available(), reason="tesseract not installed")


@pytest.fixture
def cache():
    """An empty cache, on, whatever the environment says; off again (env default) afterwards."""
    glyphs.set_enabled(True)
    glyphs.CACHE.clear()
    yield glyphs.CACHE
    glyphs.CACHE.clear()
    glyphs.set_enabled(None)


def _tile(text: str, font: int = cv2.FONT_HERSHEY_SIMPLEX, scale: float = 1.3, thick: int = 3) -> np.ndarray:
    """A label tile as ``ocr._normalised`` makes them: black digits on white, binarised."""
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    img = np.full((h + base + 24, w + 24), 255, np.uint8)
    cv2.putText(img, text, (12, 12 + h), font, scale, 0, thick, cv2.LINE_AA)
    return np.where(img < 128, 0, 255).astype(np.uint8)


def _no_tesseract(monkeypatch) -> None:
    from thermal_anomaly.thermal import tesseract

    def boom(*_a, **_k):
        raise AssertionError("tesseract called")

    monkeypatch.setattr(tesseract, "read_words", boom)


def test_learned_glyphs_read_new_numbers_and_nothing_else(cache):
    for text in ("25.0", "73", "81", "4.9"):
        assert cache.learn(_tile(text), text, 95.0)
    assert cache.read(_tile("37.5")) == ("37.5", 95.0)  # digits never seen together
    assert cache.read(_tile("2")) is not None
    assert cache.read(_tile("26")) is None  # a 6 was never taught: tesseract
    assert cache.read(_tile("73", scale=0.6, thick=1)) is None  # another size: another font context
    assert cache.read(_tile("73", font=cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)) is None  # another font
    assert not cache.learn(_tile("99"), "99", 60.0)  # an unsure reading teaches nothing
    assert not cache.learn(_tile("99"), "9", 95.0)  # nor one that lost a glyph


def test_a_misread_disputes_the_templates_instead_of_teaching(cache):
    cache.learn(_tile("25"), "25", 95.0)
    assert cache.read(_tile("52")) == ("52", 95.0)
    assert not cache.learn(_tile("50"), "90", 95.0)  # tesseract reads a 5 as 9 (T6's "29.0")
    assert cache.read(_tile("52")) is None  # the 5 is no longer trusted


def test_blank_tile_reads_nothing_without_tesseract(cache, monkeypatch):
    _no_tesseract(monkeypatch)
    tile = np.full((60, 90), 255, np.uint8)
    tile[40:44, 30:34] = 0  # a speck: no digit can be this small
    assert ocr._ocr([tile]) == [("", -1.0)]


def test_switch_off_always_asks_tesseract(cache, monkeypatch):
    from thermal_anomaly.thermal import tesseract

    cache.learn(_tile("25"), "25", 95.0)
    calls = []

    def fake(image):
        calls.append(image.shape)
        return [("25", 91.0, 16, image.shape[0] - 32)]

    monkeypatch.setattr(tesseract, "read_words", fake)
    monkeypatch.setenv("THERMAL_ANOMALY_OCR_CACHE", "0")
    glyphs.set_enabled(None)
    assert not glyphs.enabled()
    assert ocr._ocr([_tile("25")]) == [("25", 91.0)]
    glyphs.set_enabled(False)
    assert ocr._ocr([_tile("25")]) == [("25", 91.0)]
    assert len(calls) == 2
    glyphs.set_enabled(True)
    assert ocr._ocr([_tile("52")]) == [("52", 95.0)] and len(calls) == 2


def _tiles(dev_data, rel: str, monkeypatch) -> list[tuple[np.ndarray, str, float]]:
    """The label tiles of one dev image with tesseract's readings (cache off)."""
    got: list[tuple[np.ndarray, str, float]] = []
    real = ocr._ocr

    def spy(tiles):
        out = real(tiles)
        got.extend((t, text, conf) for t, (text, conf) in zip(tiles, out, strict=True))
        return out

    img = read_image(dev_data / rel)
    bar = find_colorbar(img)
    assert bar is not None
    glyphs.set_enabled(False)
    with monkeypatch.context() as m:
        m.setattr(ocr, "_ocr", spy)
        ocr.read_scale(img, bar)
    glyphs.set_enabled(True)
    return got


@needs_tesseract
def test_one_image_teaches_the_next_of_the_same_camera(dev_data, cache, monkeypatch):
    first = _tiles(dev_data, "T7/normal/T7_normal_002.jpg", monkeypatch)
    second = _tiles(dev_data, "T8/normal/T8_normal_003.jpg", monkeypatch)
    glyphs.learn([t for t, *_ in first], [(text, conf) for _t, text, conf in first])
    sure = [(t, text) for t, text, conf in second if conf >= 85 and text]
    assert len(sure) >= 5
    _no_tesseract(monkeypatch)
    read = [cache.read(t) for t, _text in sure]
    hits = [(r[0], text) for r, (_t, text) in zip(read, sure, strict=True) if r is not None]
    assert len(hits) >= 5  # the same tick labels, read from templates alone
    assert all(a == b for a, b in hits)
    assert ocr._ocr([t for t, _x in sure if cache.read(t) is not None])  # no tesseract call


def test_why_a_tile_goes_to_tesseract_is_counted(cache):
    """Each tile left to tesseract is counted under one reason (what a batch still pays the OCR for)."""
    assert cache.read(_tile("25")) is None  # nothing learned yet
    assert cache.why == {"font": 1}
    cache.learn(_tile("25"), "25", 95.0)
    assert cache.read(_tile("26")) is None  # a 6 was never taught
    assert cache.read(_tile("25", scale=0.6, thick=1)) is None  # another font context
    assert cache.read(_tile("52")) is not None  # answered: not counted
    assert cache.why == {"font": 2, "match": 1}
    assert set(cache.why) <= set(glyphs.WHY)
    assert cache.n_tesseract == sum(cache.why.values())
