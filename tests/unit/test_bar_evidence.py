"""A colour bar is claimed only with a bar's evidence; saturated hot spots are not camera text.

Bare frames (no bar, no numbers, an iron palette, a saturated white hot spot) are what fixed and drone
cameras export: in them a steel beam or an insulator column must not become a colour bar, and the hot spot's
white core must stay scene.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.colorbar import _framed, _labelled, _sweeps_once
from thermal_anomaly.thermal.palette import palette_lut


def _render(field: np.ndarray, palette: str = "iron", quality: int = 90) -> np.ndarray:
    """A temperature field (0 cold .. 1 hot, clipped) through a palette, JPEG-compressed like a camera's."""
    lut = palette_lut(palette)
    img = (lut[np.round(np.clip(field, 0, 1) * (len(lut) - 1)).astype(int)] * 255 + 0.5).astype(np.uint8)
    _ok, enc = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1])


def _bare_frame(kind: str, x: float, h: int = 480, w: int = 640) -> np.ndarray:
    """A bare scene with a sharp-edged 12 px strip near a side: a beam sunlit at one end (its colours sweep
    the palette once) or an insulator column (its sheds warmer and cooler along it)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = 0.3 + 0.08 * np.sin(xx / 71.0) * np.cos(yy / 53.0)
    t = yy[:, 0] / h
    col = 0.15 + 0.8 * t if kind == "beam" else 0.5 + 0.4 * np.sin(2 * np.pi * 2.5 * t)
    x0, y0, y1 = int(x * w), int(0.1 * h), int(0.95 * h)
    f[y0:y1, x0 : x0 + 12] = col[y0:y1, None]
    return f


@pytest.mark.parametrize("kind", ["beam", "insulator"])
@pytest.mark.parametrize("x", [0.05, 0.9])
@pytest.mark.parametrize("palette", ["iron", "rainbow"])
def test_scene_strip_near_a_side_is_no_bar(kind, x, palette):
    """Both strips were claimed as bars (and blanked with a legend panel) before bars needed evidence."""
    img = _render(_bare_frame(kind, x), palette)
    assert ThermalAnalysis(img).bar is None


def _saturated_spot(h: int = 480, w: int = 640, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bare iron frame whose hot spot (a fifth of the frame's width) sits at the top of the auto-range:
    sensor noise makes its core a field of white specks in the palette's pale yellow. Returns the picture
    and the spot's mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = 0.3 + 0.1 * np.sin(xx / 71.0) * np.cos(yy / 53.0)
    spot = np.zeros((h, w), np.float32)
    cv2.ellipse(spot, (w // 2, h // 2), (int(0.22 * w), int(0.22 * h)), 0, 0, 360, 1.0, -1)
    spot = cv2.GaussianBlur(spot, (0, 0), 2)
    f = np.maximum(f, 0.3 + 3.0 * (0.5 * spot - 0.3) * (spot > 0.6))
    f = f + 0.24 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.0)
    f = cv2.GaussianBlur(f, (0, 0), 1.0)
    return _render(f, quality=85), spot > 0.9


def test_saturated_hot_spot_is_not_camera_text():
    img, spot = _saturated_spot()
    white = img.min(axis=2) > 225
    assert (white & spot).sum() > 200  # the spot's core has white in it
    analysis = ThermalAnalysis(img)
    assert analysis.bar is None
    assert analysis.overlay[white & spot].mean() < 0.02  # was 0.99: every white speck masked as text
    assert analysis.overlay[spot].mean() < 0.01


def test_sweep_is_one_pass_through_a_palette():
    lut = palette_lut("iron")
    assert _sweeps_once(lut)
    assert _sweeps_once(palette_lut("white_hot"))
    # up the palette and back down again: each colour at two places
    assert not _sweeps_once(np.concatenate([lut[:200], lut[200::-1]]))
    assert not _sweeps_once(lut[:5])


def test_frame_edge_or_panel_beside_a_strip():
    img = (np.random.default_rng(0).random((200, 300, 3)) * 255).astype(np.uint8)  # busy scene
    assert _framed(img, (297, 20, 300, 180))  # at the right edge
    assert not _framed(img, (270, 20, 276, 180))  # scene between it and the edge
    img[:, 280:] = 255  # a white margin along the whole side (labels on it are still a panel)
    cv2.putText(img, "40", (282, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    assert _framed(img, (270, 20, 276, 180))
    img[:100, 280:] = (np.random.default_rng(1).random((100, 20, 3)) * 255).astype(np.uint8)
    assert not _framed(img, (270, 20, 276, 180))  # a white patch of scene beside part of it is no panel


def test_numbers_at_a_strip_end_label_it():
    img = np.full((240, 320, 3), 60, np.uint8)
    lut = palette_lut("iron")
    img[50:190, 250:256] = (lut[np.linspace(255, 0, 140).astype(int)] * 255).astype(np.uint8)[:, None]
    assert not _labelled(img, (250, 50, 256, 190), False)
    cv2.putText(img, "52.6", (235, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    assert _labelled(img, (250, 50, 256, 190), False)
    # the same turned: a horizontal bar with its number beyond its end, read upright
    turned = np.ascontiguousarray(cv2.transpose(img))
    upright = np.full_like(turned, 60)
    upright[250:256, 50:190] = turned[250:256, 50:190]
    cv2.putText(upright, "52.6", (195, 258), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    assert _labelled(np.ascontiguousarray(cv2.transpose(upright)), (250, 50, 256, 190), True)


def _bare_crop(analysis: ThermalAnalysis, share: float = 0.05) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the picture with its camera UI cropped away. Edges are peeled while an edge line
    has more than ``share`` overlay (bar included), the fullest edge first (as benchmarks/crops.py does)."""
    ov = analysis.overlay.copy()
    if analysis.bar is not None:
        bx0, by0, bx1, by1 = analysis.bar.box
        ov[by0:by1, bx0:bx1] = True
    h, w = ov.shape
    x0, y0, x1, y1 = 0, 0, w, h
    while x1 - x0 > 1 and y1 - y0 > 1:
        edges = {
            "top": ov[y0, x0:x1].mean(),
            "bottom": ov[y1 - 1, x0:x1].mean(),
            "left": ov[y0:y1, x0].mean(),
            "right": ov[y0:y1, x1 - 1].mean(),
        }
        side = max(edges, key=edges.get)
        if edges[side] <= share:
            break
        x0, y0 = x0 + (side == "left"), y0 + (side == "top")
        x1, y1 = x1 - (side == "right"), y1 - (side == "bottom")
    return x0, y0, x1, y1


@pytest.mark.parametrize(
    "name",
    [
        "T1/faulty/T1_faulty_003.jpg",  # a measurement box's line was taken for a horizontal bar
        "T1/faulty/T1_faulty_017.jpg",
        "T3/faulty/T3_faulty_001.png",
        "T9/faulty/T9_faulty_001.jpg",  # a band of night sky between speckle was taken for a bar
    ],
)
def test_bare_crop_of_a_dev_picture_has_no_bar_and_the_full_picture_keeps_it(dev_data, name):
    img = read_image(dev_data / name)
    full = ThermalAnalysis(img)
    assert full.bar is not None and full.bar.orientation == "vertical"
    x0, y0, x1, y1 = _bare_crop(full)
    assert (x1 - x0) * (y1 - y0) > 0.5 * img.shape[0] * img.shape[1]
    bare = ThermalAnalysis(np.ascontiguousarray(img[y0:y1, x0:x1]))
    assert bare.bar is None


def test_dev_pictures_keep_their_bars(dev_data):
    """Every transformer's pictures still get their bar where it is drawn (left for T1, right otherwise)."""
    paths = sorted(p for p in dev_data.glob("T*/*/*") if p.suffix.lower() in (".jpg", ".png"))[::4]
    assert len(paths) >= 20
    for p in paths:
        img = read_image(p)
        bar = ThermalAnalysis(img).bar
        assert bar is not None and bar.orientation == "vertical", p.name
        centre = (bar.box[0] + bar.box[2]) / 2 / img.shape[1]
        assert (centre < 0.1) if p.parts[-3] == "T1" else (centre > 0.6), p.name
