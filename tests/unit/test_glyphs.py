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


def _learn(tiles: list[tuple[np.ndarray, str, float]]) -> None:
    glyphs.learn([t for t, *_ in tiles], [(text, conf) for _t, text, conf in tiles])


def _sure(tiles: list[tuple[np.ndarray, str, float]]) -> list[tuple[np.ndarray, str]]:
    """The tiles tesseract read confidently as a number (the labels the scale reading uses)."""
    return [
        (t, text) for t, text, conf in tiles if conf >= glyphs.LEARN_CONF and glyphs._NUMBER.fullmatch(text)
    ]


@needs_tesseract
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("T1/faulty/T1_faulty_011.jpg", "T1/faulty/T1_faulty_012.jpg"),
        ("T1/normal/T1_normal_005.jpg", "T1/normal/T1_normal_006.jpg"),
    ],
)
def test_one_t1_picture_teaches_the_next_all_its_labels(dev_data, cache, monkeypatch, first, second):
    """Learned from one picture's tiles, the next picture's labels (same digits, another JPEG's binarisation,
    read at ocr's three sizes) are all answered by the templates, with tesseract's text (raw cells: 5 of 6 and
    1 of 4)."""
    _learn(_tiles(dev_data, first, monkeypatch))
    sure = _sure(_tiles(dev_data, second, monkeypatch))
    assert len(sure) >= 4
    _no_tesseract(monkeypatch)
    assert [cache.read(t) and cache.read(t)[0] for t, _x in sure] == [text for _t, text in sure]


@needs_tesseract
def test_touching_digits_are_learned_as_a_ligature(dev_data, cache, monkeypatch):
    """T4's bold digits touch once binarised ('50' is one blob): the number is learned as one template and the
    next picture's same labels are read from it; a ligature of other digits is not taken for it."""
    first = _tiles(dev_data, "T4/faulty/T4_faulty_002.png", monkeypatch)
    _learn(first)
    assert any(len(c) > 1 for c in cache._chars)  # a ligature template
    sure = _sure(_tiles(dev_data, "T4/normal/T4_normal_001.png", monkeypatch))
    got = [(cache.read(t), text) for t, text in sure]
    hits = [(r[0], text) for r, text in got if r is not None]
    assert len(hits) >= 3 and all(a == b for a, b in hits)
    # T5's "60" and "50" share a digit: their whole cells correlate ~0.95, their digits' strips stay apart
    t5 = _tiles(dev_data, "T5/normal/T5_normal_001.png", monkeypatch)
    sixty = [t for t, text, _c in t5 if text == "60"]
    fifty = [t for t, text, _c in t5 if text == "50"]
    assert sixty and fifty
    cache.clear()
    assert all(cache.learn(t, "60", 95.0) for t in sixty)
    assert all(cache.read(t) is None for t in fifty)


@needs_tesseract
def test_an_unseen_digit_of_a_font_is_not_read_as_a_near_one(dev_data, cache, monkeypatch):
    """T1's narrow '5' and '6' are the closest different digits of the dev set's fonts (blurred cells 0.93):
    with only 5s learned, a label holding a 6 goes to tesseract."""
    tiles = _tiles(dev_data, "T1/faulty/T1_faulty_006.jpg", monkeypatch)
    with_six = [(t, text) for t, text in _sure(tiles) if "6" in text]
    assert with_six
    t, _text = with_six[0]
    sp = glyphs._split(t)
    five, six = (sp.glyphs[_text.index(c)].cell for c in "56")
    assert float(five @ six) < glyphs.MATCH
    learned = _sure(_tiles(dev_data, "T1/faulty/T1_faulty_002.jpg", monkeypatch))  # 53.5 and 10.5: no 6
    assert not any("6" in text for _t, text in learned)
    for tile, text in learned:
        cache.learn(tile, text, 95.0)
    assert "5" in cache._chars
    assert all(cache.read(t) is None for t, _x in with_six)


def test_junk_sightings_count_over_its_templates(cache):
    """A shape tesseract reads nothing in, binarised a little differently each time, is stored as several
    templates; its sightings add up, so the third sighting answers "nothing" without tesseract."""
    shapes = []
    for dy, w in ((2, 2), (0, 4), (1, 2), (1, 3)):  # one icon, its box a pixel off each time
        tile = np.full((60, 90), 255, np.uint8)
        cv2.rectangle(tile, (30, 15 + dy), (52 + w, 45), 0, 3)
        cv2.line(tile, (30, 30 + dy), (52 + w, 30 + dy), 0, 3)
        shapes.append(tile)
    for tile in shapes[:3]:
        assert cache.read(tile) is None
        assert cache.learn(tile, "", -1.0)
    assert len(cache) == 3 and (cache._seen == 1).all()  # three templates, each seen once
    assert cache.read(shapes[3]) == ("", -1.0)


def test_tiles_read_together_get_the_answers_read_alone_gives(cache):
    """``read_many`` (one product of all glyphs with the templates) answers each tile as ``read`` does."""
    for text in ("25.0", "73", "81", "4.9"):
        cache.learn(_tile(text), text, 95.0)
    tiles = [_tile(t) for t in ("37.5", "26", "52", "1.8")] + [_tile("73", scale=0.6, thick=1)]
    tiles.append(np.full((60, 90), 255, np.uint8))  # blank
    alone = [cache.read(t) for t in tiles]
    assert alone[0] == ("37.5", 95.0) and alone[1] is None and alone[-1] == ("", -1.0)
    assert cache.read_many(tiles) == alone
