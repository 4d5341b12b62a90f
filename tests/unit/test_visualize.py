"""Pictures: valid files of the expected size, readable colours, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from thermal_anomaly.visualize import (
    draw_boxes,
    heatmap_rgb,
    save_contact_sheet,
    save_error_analysis,
    save_mask_png,
    save_result_panel,
    save_six_panel,
)


def test_heatmap_red_for_high_blue_for_low():
    rgb = heatmap_rgb(np.array([[0.0, 2.0]]), 0.0, 2.0)
    low, high = rgb[0, 0].astype(int), rgb[0, 1].astype(int)
    assert high[0] > 100 and high[0] > high[2] + 50
    assert low[2] > low[0] + 50


def test_mask_png_round_trip(tmp_path):
    mask = np.zeros((37, 53), bool)
    mask[5:9, 10:30] = True
    path = tmp_path / "m.png"
    save_mask_png(path, mask)
    back = np.asarray(Image.open(path))
    assert back.shape == (37, 53) and set(np.unique(back)) == {0, 255}
    assert np.array_equal(back == 255, mask)


def test_result_and_six_panels_are_wide_pngs(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.random((120, 200, 3)).astype(np.float32)
    amap = np.zeros((120, 200), np.float32)
    amap[40:60, 80:100] = 3.0
    mask = amap > 1
    regions = [{"box": [80, 40, 100, 60], "score": 3.0, "area": 400}]
    save_result_panel(
        tmp_path / "r.png",
        img,
        None,
        amap,
        mask,
        title="t",
        score=3.0,
        threshold=1.2,
        vmax=2.4,
        regions=regions,
    )
    save_six_panel(tmp_path / "s.png", img, img[..., 0], amap, amap, amap, mask, regions, labels=["joint"])
    for name in ("r.png", "s.png"):
        w, h = Image.open(tmp_path / name).size
        assert w > h > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png", "s.png"]  # no temporary files left


def test_boxes_are_drawn_where_the_region_is():
    img = np.zeros((50, 50, 3), np.float32)
    out = draw_boxes(img, [{"box": [10, 20, 30, 40], "score": 1.0}], labels=[""])
    assert out[20, 15].any() and out[39, 15].any() and not out[30, 20].any()


def test_error_analysis_and_contact_sheet(tmp_path):
    save_error_analysis(tmp_path / "e.png", [0.8, 0.9, 1.5, 2.0], [0, 0, 1, 1], 1.2)
    save_contact_sheet(
        tmp_path / "c.png", [(f"img {k}", np.full((30, 40, 3), k * 40, np.uint8)) for k in range(5)]
    )
    assert Image.open(tmp_path / "e.png").size[0] > 300
    assert Image.open(tmp_path / "c.png").size[1] >= 2 * 30


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "file-not-dir"
    target.write_text("x")
    with pytest.raises(OSError):
        save_mask_png(target / "m.png", np.zeros((4, 4), bool))
    assert [p.name for p in tmp_path.iterdir()] == ["file-not-dir"]
