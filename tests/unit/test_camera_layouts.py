"""Colour bars in layouts no development camera has (``thermal.camera_picture``): end labels with their unit
sign, bar ends hidden in a scene or panel of their own colour, labels beside a horizontal bar's ends, numbers
cut by the frame. Measured over 1050 such pictures in ``benchmarks/layouts.py``."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.thermal import ocr
from thermal_anomaly.thermal.camera_picture import bare_frame, camera_picture
from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.palette import as_rgb_float
from thermal_anomaly.thermal.temperature import temperature_map

needs_tesseract = pytest.mark.skipif(not ocr.tesseract_available(), reason="tesseract not installed")


def _field(cold_right: bool = False) -> np.ndarray:
    """A 240×320 scene: a 22-38 °C ramp (coldest at the right when ``cold_right``), a warm tank, a 55 °C joint."""
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    ramp = xx / 319.0
    field = 22.0 + 16.0 * ((1.0 - ramp) if cold_right else ramp) + 2.0 * np.sin(yy / 17.0)
    field[120:200, 60:180] += 8.0
    field += 25.0 * np.exp(-((xx - 120) ** 2 + (yy - 110) ** 2) / 60.0)
    return field


def _read_as_printed(pic) -> None:
    """The picture decodes to °C, its scale read as printed and its scene within 1 °C (median)."""
    tm = temperature_map(pic.rgb)
    assert tm.unit == "C", tm.reason
    assert tm.range == pytest.approx(pic.scale, abs=0.05)
    assert _median_error(pic, tm) <= 1.0


def _median_error(pic, tm) -> float:
    lo, hi = tm.range
    m = tm.valid & np.isfinite(pic.truth) & (pic.truth >= lo) & (pic.truth <= hi)
    return float(np.median(np.abs(tm.values[m] - pic.truth[m])))


@needs_tesseract
@pytest.mark.parametrize("layout, style", [("right", "box"), ("right", "outline"), ("left", "plain")])
def test_end_labels_with_their_unit_sign_are_read(layout, style):
    # "57.9°C" above the bar, "21.9°C" below it: before, the sign made every label unreadable (0 of 1050)
    _read_as_printed(camera_picture(_field(), layout, "flir_iron", "C", style=style))


@needs_tesseract
@pytest.mark.parametrize("style", ["box", "plain"])
def test_fahrenheit_labels_with_their_sign_are_converted(style):
    # the labels' own "°F" decides the unit: plain white text over a bright scene hides the sign from the
    # search of the whole picture, and the numbers were taken for °C
    pic = camera_picture(_field(), "left", "flir_iron", "F", style=style)
    tm = temperature_map(pic.rgb)
    assert tm.unit == "C" and tm.converted_from == "F"
    assert tm.range == pytest.approx(pic.scale, abs=0.06)


@needs_tesseract
def test_labels_beside_a_horizontal_bar_are_read():
    # "21.9°C" left of a bottom bar and "47.6°C" right of it: both lie further out than 0.3 bar lengths reach
    _read_as_printed(camera_picture(_field(), "bottom", "flir_rainbow", "C", style="box"))


def _bar_rows(pic) -> tuple[int, int]:
    """The rows the palette was drawn over (the truth is NaN on the bar, which is the only NaN column)."""
    col = np.isnan(pic.truth[:, pic.truth.shape[1] - 30])
    rows = np.flatnonzero(col)
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    longest = max(runs, key=len)
    return int(longest[0]), int(longest[-1]) + 1


def test_dark_bar_end_in_a_dark_scene_is_found():
    # white-hot: the bar's black end on the scene's coldest (black) part has no edge beside it; the strip
    # search stopped 10 % short, so every temperature between was off by 2-3 °C
    pic = camera_picture(_field(cold_right=True), "beside", "white_hot", "C", style="box")
    bar = find_colorbar(as_rgb_float(pic.rgb))
    assert bar is not None
    y0, y1 = _bar_rows(pic)
    assert abs(bar.extent[0] - y0) <= 2 and abs(bar.extent[1] - y1) <= 2


@pytest.mark.parametrize("palette, style", [("lava", "box"), ("flir_iron", "outline")])
def test_black_panel_beside_a_black_bar_end_is_no_palette(palette, style):
    # lava starts at black, and so does the panel the bar stands in; iron's dark end runs into the dark outline
    # of the label below it: neither is part of the scale (the line of the palette the bar follows ends first)
    pic = camera_picture(_field(), "panel", palette, "C", style=style)
    bar = find_colorbar(as_rgb_float(pic.rgb))
    assert bar is not None
    h = pic.rgb.shape[0]
    bh = round(0.6 * h)
    y0 = (h - bh) // 2
    assert abs(bar.extent[0] - y0) <= 2 and abs(bar.extent[1] - (y0 + bh)) <= 3


def test_round_c_is_a_celsius_sign_and_o_g_e_are_not():
    from PIL import Image, ImageDraw, ImageFont

    def glyph(ch: str) -> np.ndarray:
        img = Image.new("L", (40, 40), 0)
        ImageDraw.Draw(img).text((5, 5), ch, font=ImageFont.load_default(size=20), fill=255)
        g = np.asarray(img) > 127
        ys, xs = np.flatnonzero(g.any(1)), np.flatnonzero(g.any(0))
        return g[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]

    assert ocr._classify_unit(glyph("C")) == "C"
    assert ocr._classify_unit(glyph("F")) == "F"
    for other in "OGE2":
        assert ocr._classify_unit(glyph(other)) != "C", other


def _word_tile(text: str, cut_left: int) -> np.ndarray:
    """``ocr._normalised`` of a light word whose first ``cut_left`` px are outside the window it is read in."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (120, 40), 30)
    ImageDraw.Draw(img).text((10, 8), text, font=ImageFont.load_default(size=20), fill=255)
    a = np.asarray(img)[:, 10 + cut_left :].copy()
    ys, xs = np.flatnonzero((a > 127).any(1)), np.flatnonzero((a > 127).any(0))
    word = ocr._Word((int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)), True)
    return ocr._normalised(a, a, word)


def test_number_cut_short_by_the_window_is_not_read():
    whole = _word_tile("26.0", 0)
    assert (whole < 128).any()
    cut = _word_tile("26.0", 5)  # the "2" half outside: "6.0" must not be read
    assert not (cut < 128).any()


def test_unit_sign_after_a_number_is_left_out_of_its_tile():
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (160, 40), 30)
    ImageDraw.Draw(img).text((10, 8), "18.8°C", font=ImageFont.load_default(size=20), fill=255)
    a = np.asarray(img).copy()
    ys, xs = np.flatnonzero((a > 127).any(1)), np.flatnonzero((a > 127).any(0))
    word = ocr._Word((int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)), True)
    tile = ocr._normalised(a, a, word)
    n_big, dot_after = ocr._glyphs(tile)
    assert (n_big, dot_after) == (3, 2)  # "1", "8", "8" with the dot after the second: no ring, no letter


@needs_tesseract
def test_labels_level_with_the_bar_ends_name_them():
    # "57.9°C" left of the bar with its top level with the bar's top, "21.9°C" with its bottom level with the
    # bottom: both lie within the bar's extent, and were taken for two tick labels (a line through only two
    # ticks is refused: every such picture was relative)
    _read_as_printed(camera_picture(_field(), "beside", "flir_iron", "C", style="box"))


def test_a_bare_frame_is_the_scene_alone_its_hottest_share_saturated_where_asked():
    field = _field()
    auto = bare_frame(field, "white_hot")
    clipped = bare_frame(field, "white_hot", 90.0)
    assert auto.rgb.shape == (480, 640, 3) and auto.truth.shape == (480, 640)
    assert find_colorbar(as_rgb_float(auto.rgb)) is None  # no bar drawn: the scene fills the frame
    white = np.all(clipped.rgb == 255, axis=2)
    # the hottest tenth of the field is one saturated colour, and that colour is the hottest tenth
    assert abs(white.mean() - 0.10) < 0.01
    assert clipped.truth[white].min() >= clipped.scale[1] - 0.1
    assert np.all(auto.rgb == 255, axis=2).mean() < 0.01  # auto-ranged: only its top half percent
