"""Palettes and colour bars back to temperature, proved on images rendered from known temperature fields."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.thermal.colorbar import find_colorbar
from thermal_anomaly.thermal.ocr import tesseract_available
from thermal_anomaly.thermal.palette import PALETTES, colors_to_position, fit_palette, palette_lut
from thermal_anomaly.thermal.planck import signal_position
from thermal_anomaly.thermal.temperature import temperature_map

T_MIN, T_MAX = 18.0, 63.0


def _field(h: int = 420, w: int = 560, seed: int = 0) -> np.ndarray:
    """A smooth temperature field in °C spanning most of [T_MIN, T_MAX], with a hot spot."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = 0.5 + 0.35 * np.sin(xx / 80.0 + rng.uniform(0, 3)) * np.cos(yy / 60.0)
    f += 0.45 * np.exp(-((xx - 0.6 * w) ** 2 + (yy - 0.5 * h) ** 2) / (2 * 25.0**2))
    f = np.clip(f, 0.0, 1.0)
    return (T_MIN + f * (T_MAX - T_MIN)).astype(np.float32)


def _render(temp: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """As a camera colours its picture: evenly in its detector's signal over the printed scale."""
    idx = np.round(signal_position(temp, T_MIN, T_MAX) * (len(lut) - 1)).astype(int)
    return (lut[idx] * 255 + 0.5).astype(np.uint8)


def _with_bar(scene: np.ndarray, lut: np.ndarray, style: str) -> np.ndarray:
    """Scene plus a colour bar with the end temperatures printed beside it (FLIR- or margin-style)."""
    h, w = scene.shape[:2]
    margin = 110
    img = (
        np.full((h, w + margin, 3), 255, np.uint8)
        if style == "margin"
        else np.zeros((h, w + margin, 3), np.uint8)
    )
    img[:, :w] = scene
    if style == "dark":
        img[:, w:] = (20, 24, 40)
    y0, y1, x0 = 70, h - 70, w + 20
    ramp = np.linspace(1.0, 0.0, y1 - y0)  # hot at the top
    img[y0:y1, x0 : x0 + 16] = (lut[np.round(ramp * (len(lut) - 1)).astype(int)][:, None, :] * 255).astype(
        np.uint8
    )
    colour = (0, 0, 0) if style == "margin" else (255, 255, 255)
    for value, y in ((T_MAX, y0 - 20), (T_MIN, y1 + 40)):
        cv2.putText(img, f"{value:.1f}", (w + 8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, 2, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("name", PALETTES)
def test_colors_to_position_inverts_each_palette(name):
    lut = palette_lut(name)
    truth = np.linspace(0, 1, 5000, dtype=np.float32).reshape(50, 100)
    img = (lut[np.round(truth * 255).astype(int)] * 255 + 0.5).astype(np.uint8)
    pos, bad = colors_to_position(img, lut)
    assert not bad.any()
    assert np.abs(pos - truth).max() < 0.02
    # grey UI text on a colour palette is flagged as not-a-temperature
    grey = np.full((4, 4, 3), 128, np.uint8)
    grey_pos, grey_bad = colors_to_position(grey, lut)
    if name in ("white_hot", "black_hot"):  # mid grey is a temperature half way up a grey palette
        assert not grey_bad.any() and np.abs(grey_pos - 0.5).max() < 0.02
    else:
        assert grey_bad.all()


def test_fit_palette_names_the_rendering_palette():
    temp = _field()
    for name in ("iron", "rainbow", "rainbow_hc", "lava"):
        assert fit_palette(_render(temp, palette_lut(name)))[0] == name


@pytest.mark.parametrize("name,style", [("iron", "dark"), ("rainbow_hc", "margin"), ("rainbow", "dark")])
def test_colorbar_decoding_relative_and_celsius(name, style):
    lut = palette_lut(name)
    temp = _field(seed=3)
    img = _with_bar(_render(temp, lut), lut, style)
    bar = find_colorbar(img)
    assert bar is not None and bar.orientation == "vertical"
    assert abs(bar.box[0] - (temp.shape[1] + 20)) <= 3
    tm = temperature_map(img)
    scene_valid = tm.valid[:, : temp.shape[1]]
    assert scene_valid.mean() > 0.95
    assert not tm.valid[75:-75, temp.shape[1] + 20 : temp.shape[1] + 36].any()  # the bar is overlay
    if tm.unit == "relative":  # a place on the scale, spread as the picture's colours are
        truth_rel = signal_position(temp, T_MIN, T_MAX)
        rel = tm.values[:, : temp.shape[1]]
    else:
        truth_rel = (temp - T_MIN) / (T_MAX - T_MIN)
        rel = (tm.values[:, : temp.shape[1]] - T_MIN) / (T_MAX - T_MIN)
    err_rel = np.abs(rel - truth_rel)[scene_valid]
    assert np.median(err_rel) < 0.02 and np.percentile(err_rel, 95) < 0.04
    if not tesseract_available():
        pytest.skip("tesseract not installed: °C decoding not testable, relative decoding checked")
    assert tm.unit == "C", tm.reason
    assert tm.source == "colorbar+ocr"
    assert tm.range == pytest.approx((T_MIN, T_MAX), abs=0.05)
    err = np.abs(tm.values[:, : temp.shape[1]] - temp)[scene_valid]
    assert np.median(err) <= 1.0 and np.percentile(err, 95) <= 2.0


def test_no_bar_falls_back_to_named_palette():
    temp = _field(seed=5)
    tm = temperature_map(_render(temp, palette_lut("iron")))
    assert tm.unit == "relative" and tm.source == "palette:iron" and "no colour bar" in tm.reason
    truth_rel = signal_position(temp, T_MIN, T_MAX)
    assert np.median(np.abs(tm.values - truth_rel)[tm.valid]) < 0.02


def test_radiometric_tiff(tmp_path):
    from PIL import Image

    temp = _field(h=60, w=80)
    Image.fromarray(temp.astype(np.float32)).save(tmp_path / "t.tif")
    ck = np.round((temp + 273.15) * 100).astype(np.uint16)
    Image.fromarray(ck).save(tmp_path / "ck.tif")
    rgb = np.zeros((60, 80, 3), np.float32)
    for name in ("t.tif", "ck.tif"):
        tm = temperature_map(rgb, tmp_path / name)
        assert tm.source == "radiometric" and tm.unit == "C"
        assert np.abs(tm.values - temp).max() < 0.01


def test_white_is_above_the_scale_only_next_to_the_hot_end():
    """White that grows out of a palette's hottest colours is a saturated hot spot; white text or marks on
    cold scene are not temperatures (they would otherwise be the hottest thing in the picture)."""
    from thermal_anomaly.thermal.temperature import out_of_range

    lut = palette_lut("rainbow")  # its hot end is red, so pure white is off the palette
    pos = np.full((60, 60), 0.2, np.float32)
    pos[10:30, 10:30] = 0.95
    img = lut[np.clip((pos * 255).astype(int), 0, 255)].astype(np.float32)
    img[16:24, 16:24] = 1.0  # saturated core of the hot spot
    img[45:48, 35:55] = 1.0  # white text on the cold background
    p, bad = colors_to_position(img, lut)
    p2, bad2 = out_of_range(img, p, bad)
    assert not bad2[16:24, 16:24].any() and (p2[16:24, 16:24] == 1.0).all()
    assert bad2[45:48, 35:55].all()


def test_white_reaches_the_hot_end_through_its_blurred_rim_but_marker_text_does_not():
    """A saturated spot's white core is ringed by pale blends of white and the hot end (optics, JPEG), off
    every palette: with the palette given, the rim joins the core and both are above the scale. A camera's
    max-marker label in a blend colour (salmon), on cold scene and touching a dark-red crosshair, is not."""
    from thermal_anomaly.thermal.temperature import out_of_range

    lut = palette_lut("rainbow")
    hot = lut[-1]
    pos = np.full((80, 80), 0.2, np.float32)
    yy, xx = np.mgrid[0:80, 0:80]
    r = np.hypot(yy - 20, xx - 20)
    pos[r < 14] = 1.0
    img = lut[np.clip((pos * 255).astype(int), 0, 255)].astype(np.float32)
    img[r < 10] = 0.5 * hot + 0.5  # the blurred rim: half way from the hot end to white
    img[r < 7] = 1.0  # the saturated core
    img[55:62, 40:70] = 0.4 * hot + 0.6  # a salmon label ...
    img[57:60, 50:54] = 1.0  # ... with a white glint ...
    img[62:64, 45:60] = hot  # ... over a crosshair drawn in the hot end's colour
    p, bad = colors_to_position(img, lut)
    p_old, bad_old = out_of_range(img, p, bad)
    assert bad_old[r < 7].all()  # without the palette the rim cuts the core off the hot end
    p2, bad2 = out_of_range(img, p, bad, lut)
    assert not bad2[r < 10].any() and (p2[r < 10] == 1.0).all()
    assert bad2[55:62, 40:70].all()


def test_colors_to_position_is_the_exact_nearest_lut_colour():
    """Every pixel gets the LUT entry nearest in Lab (brute force over all entries), also for off-palette colours."""
    from thermal_anomaly.thermal.palette import to_lab

    rng = np.random.default_rng(7)
    lut = palette_lut("iron")
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    img[:30] = (lut[rng.integers(0, 256, (30, 80))] * 255 + 0.5).astype(np.uint8)  # on-palette half
    pos, bad = colors_to_position(img, lut)
    lab = to_lab(img.reshape(-1, 3).astype(np.float32) / 255.0)
    dist = np.linalg.norm(lab[:, None, :] - to_lab(lut)[None, :, :], axis=2)
    got = np.round(pos.ravel() * 255).astype(int)
    assert (dist[np.arange(len(dist)), got] <= dist.min(axis=1) + 1e-4).all()  # ties may pick either entry
    assert np.array_equal(bad.ravel(), dist.min(axis=1) > 14.0)


def test_image_scope_runs_the_bar_search_once(monkeypatch):
    """Overlay masking and colour decoding of one image share one strip search inside an image scope."""
    from thermal_anomaly.thermal import colorbar
    from thermal_anomaly.thermal.overlays import overlay_mask
    from thermal_anomaly.thermal.palette import image_scope

    lut = palette_lut("iron")
    img = _with_bar(_render(_field(seed=2), lut), lut, "dark").astype(np.float32) / 255.0
    calls = []
    search = colorbar._search_bar_boxes
    monkeypatch.setattr(colorbar, "_search_bar_boxes", lambda s8: calls.append(1) or search(s8))
    with image_scope(img):
        mask = overlay_mask(img)
        bar = find_colorbar(img)
        assert find_colorbar(img) is bar
    assert len(calls) == 1 and bar is not None and mask[100:300, 580:596].mean() > 0.9
    img2 = img.copy()  # outside a scope nothing is shared by identity: a new image is searched anew
    img2[:, :10] = 0.0
    find_colorbar(img2)
    assert len(calls) == 2
