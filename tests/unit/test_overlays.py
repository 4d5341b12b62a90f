"""overlay_mask: camera UI found from image evidence, hot components left alone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from thermal_anomaly.thermal.overlays import BORDER_SHARE, overlay_mask


def _scene(h: int = 480, w: int = 640, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 'thermal' scene through the JET palette with one hot blob; returns (uint8 RGB, hot mask)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = 0.3 + 0.2 * np.sin(xx / 90.0) * np.cos(yy / 70.0) + 0.02 * rng.standard_normal((h, w))
    field = cv2.GaussianBlur(field.astype(np.float32), (0, 0), 3)
    hot = (xx - 400) ** 2 + (yy - 260) ** 2 < 30**2
    field = np.where(hot, 0.97, field)
    field = cv2.GaussianBlur(field, (0, 0), 1.5)
    rgb = cv2.applyColorMap((np.clip(field, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return np.ascontiguousarray(rgb), hot


def _add_ui(rgb: np.ndarray) -> dict[str, tuple[slice, slice]]:
    """Burn a colour bar with its end values, a label on a dark box, a white measurement box and a timestamp
    into ``rgb``."""
    h, w = rgb.shape[:2]
    y0, y1 = int(0.19 * h), int(0.81 * h)
    ramp = np.linspace(255, 0, y1 - y0).astype(np.uint8)[:, None]
    bar = cv2.applyColorMap(np.repeat(ramp, 12, axis=1), cv2.COLORMAP_JET)[..., ::-1]
    rgb[y0:y1, w - 30 : w - 18] = bar
    # its end values, as every camera prints them (a strip with neither numbers nor the frame's edge beside
    # it is no bar)
    for text, y in (("45", y0 - 8), ("20", y1 + 22)):
        cv2.putText(rgb, text, (w - 40, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.rectangle(rgb, (10, 10), (150, 45), (15, 18, 30), -1)
    cv2.putText(rgb, "38.0 C", (18, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.rectangle(rgb, (150, 150), (260, 240), (255, 255, 255), 1)
    cv2.putText(rgb, "12/19/2024 8:01 PM", (200, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return {
        "bar": (slice(y0 + 5, y1 - 5), slice(w - 29, w - 19)),
        "label": (slice(12, 44), slice(12, 148)),
        "box_top": (slice(150, 151), slice(152, 258)),
    }


def test_synthetic_ui_is_masked_and_hot_blob_is_not():
    rgb, hot = _scene()
    parts = _add_ui(rgb)
    m = overlay_mask(rgb)
    assert m.shape == rgb.shape[:2] and m.dtype == bool
    assert m[parts["bar"]].mean() > 0.95
    assert m[parts["label"]].mean() > 0.9  # text and its dark backing box
    assert m[parts["box_top"]].mean() > 0.9
    assert m[hot].mean() < 0.02
    assert m.mean() < 0.15


def _logo(rgb: np.ndarray, x: int, y: int, grey: int) -> np.ndarray:
    """A FLIR-like mark: a flat grey diamond band (20 px across, 6 px wide) around a dark centre, with a
    light outline; returns the mask of its grey body."""

    def diamond(r: int) -> np.ndarray:
        return np.array([[x, y - r], [x + r, y], [x, y + r], [x - r, y]], np.int32)

    body = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(body, [diamond(9)], 1)
    cv2.fillPoly(body, [diamond(4)], 0)
    rgb[body > 0] = grey
    cv2.fillPoly(rgb, [diamond(4)], (15, 18, 30))
    cv2.polylines(rgb, [diamond(10)], True, (255, 255, 255), 1, cv2.LINE_AA)
    return body > 0


def test_flat_grey_logo_fill_is_masked_in_a_colour_palette_but_not_in_white_hot():
    rgb, hot = _scene(seed=2)
    inner = _logo(rgb, 520, 80, 190)
    m = overlay_mask(rgb)
    assert m[inner].mean() > 0.9  # the solid grey body, not only its outline
    assert m[hot].mean() < 0.02
    # in a white-hot picture grey is temperature: strokes do not grow into it
    from thermal_anomaly.thermal.overlays import _grey_fills

    lo = np.full((100, 100), 0.5, np.float32)
    strokes = np.zeros((100, 100), bool)
    strokes[50, 40:60] = True
    hi = lo + 0.5  # a chromatic scene ...
    hi[45:56, 35:66] = lo[45:56, 35:66]  # ... with a flat grey patch under the stroke
    grown = _grey_fills(strokes, lo, hi)
    assert grown[45:56, 35:66].all() and grown.sum() == 11 * 31
    assert np.array_equal(_grey_fills(strokes, lo, lo + 0.01), strokes)  # neutral everywhere: grey palette


def test_plain_scene_has_almost_no_overlay():
    rgb, _hot = _scene(seed=1)
    m = overlay_mask(rgb)
    b = max(1, round(BORDER_SHARE * max(m.shape)))
    assert m[:b].all() and m[:, -b:].all()  # the frame band is always left out
    assert m[b:-b, b:-b].mean() < 0.01


def test_accepts_float_rgba_grey_and_keeps_size():
    rgb, _ = _scene(h=300, w=420)
    _add_ui(rgb)
    ref = overlay_mask(rgb)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(overlay_mask(rgba), ref)
    assert np.mean(overlay_mask(rgb.astype(np.float32) / 255.0) == ref) > 0.999
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert overlay_mask(grey).shape == grey.shape


def test_large_image_downscaled_finds_the_bar_again():
    """The 640 px and 6 MP cases are timed in benchmarks/unit_speed.py; here only what they find."""
    rgb, _ = _scene(h=640, w=640)
    bar_rows, bar_cols = _add_ui(rgb)["bar"]
    assert overlay_mask(rgb)[bar_rows, bar_cols].mean() > 0.9  # the bar at the working size
    big = cv2.resize(rgb, (3077, 1920), interpolation=cv2.INTER_LINEAR)
    m = overlay_mask(big)
    assert m.shape == (1920, 3077)
    sy, sx = 1920 / 640, 3077 / 640
    rows = slice(int(bar_rows.start * sy), int(bar_rows.stop * sy))
    cols = slice(int(bar_cols.start * sx), int(bar_cols.stop * sx))
    assert m[rows, cols].mean() > 0.9  # the bar, found again at the big scale


def _dev_images(dev_data: Path) -> list[Path]:
    return sorted(p for p in dev_data.glob("T*/*/*") if p.suffix.lower() in (".jpg", ".png"))


def _read(p: Path) -> np.ndarray:
    from thermal_anomaly.io import read_image

    return read_image(p)


def test_dev_t1_camera_ui_covered(dev_data: Path):
    paths = [p for p in _dev_images(dev_data) if p.parts[-3] == "T1"][::5]
    for p in paths:
        m = overlay_mask(_read(p))
        assert m[35:65, 530:605].mean() > 0.5, f"{p.name}: FLIR logo"  # logo strokes + surroundings
        assert m[25:75, 20:150].mean() > 0.7, f"{p.name}: spot temperature label"
        assert m[200:540, 17:29].mean() > 0.9, f"{p.name}: colour bar"
        assert m.mean() < 0.25


@pytest.mark.slow
def test_dev_lab_colour_bar_right_and_faults_not_masked(dev_data: Path):
    flagged = total = 0
    for p in _dev_images(dev_data):
        img = _read(p)
        m = overlay_mask(img)
        h, w = m.shape
        assert m.mean() < 0.3, p.name  # T6-T9: white margin ~17 % plus the frame band
        if p.parts[-3] in {"T2", "T3", "T4", "T5"}:
            cols = m[h // 4 : 3 * h // 4, int(0.8 * w) :].mean(axis=0)
            assert cols.max() > 0.95, f"{p.name}: no right-hand colour bar column covered"
            # the whole legend panel (bar, labels painted on it, its white rim) to the right edge is covered
            panel = np.nonzero(cols > 0.95)[0]
            assert cols[panel.min() :].min() > 0.95, f"{p.name}: part of the legend panel left as scene"
        gt = dev_data / "masks" / p.parts[-3] / p.parts[-2] / (p.name.split(".")[0] + ".png")
        if gt.exists():
            g = cv2.imread(str(gt), cv2.IMREAD_GRAYSCALE) > 127
            flagged += int((g & m).sum())
            total += int(g.sum())
    assert total > 0
    assert flagged / total < 0.05  # measured 0.016
