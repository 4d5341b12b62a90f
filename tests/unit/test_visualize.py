"""Pictures: valid files of the expected size, readable colours, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from thermal_anomaly.records import Region
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
    regions = [Region(box=[80, 40, 100, 60], score=3.0, area=400)]
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
    out = draw_boxes(img, [Region(box=[10, 20, 30, 40], score=1.0)], labels=[""])
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


# ---------------------------------------------------------------------------- pictures of ``predict``
def _scene(h: int, w: int):
    """A grey photo with a hot region; maps, mask and boxes in its own pixels."""
    img = np.full((h, w, 3), 0.3, np.float32)
    box = [w // 2, h // 3, w // 2 + w // 8, h // 3 + h // 6]
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = 0.9
    amap = np.zeros((h, w), np.float32)
    amap[y0:y1, x0:x1] = 3.0
    return img, amap, amap > 1, [Region(box=box, score=3.0, area=(x1 - x0) * (y1 - y0))]


def test_annotated_picture_of_a_large_photo_fits_a_screen_and_boxes_land_on_the_regions(tmp_path):
    from thermal_anomaly.visualize import REGION_COLOR, SCREEN_SIDE, annotated_picture, save_annotated

    img, _amap, _mask, regions = _scene(1920, 3077)
    out = annotated_picture(img, regions, [""])
    h, w = out.shape[:2]
    assert max(h, w) <= SCREEN_SIDE and abs(w / h - 3077 / 1920) < 0.01
    s = w / 3077
    x0, y0, x1, y1 = (v * s for v in regions[0].box)
    # the yellow outline lies on the scaled box's edges, not in its middle nor far outside
    yellow = np.all(out == REGION_COLOR, axis=2)
    assert yellow[round((y0 + y1) / 2), round(x0) : round(x0) + 3].any()
    assert yellow[round(y1) - 3 : round(y1) + 1, round((x0 + x1) / 2)].any()
    assert not yellow[round((y0 + y1) / 2), round((x0 + x1) / 2)]
    assert not yellow[: round(y0) - 5].any()
    save_annotated(tmp_path / "a.png", img, regions, ["1 major"])
    assert Image.open(tmp_path / "a.png").size == (w, h)


def test_small_photos_keep_their_size_in_the_annotated_picture():
    from thermal_anomaly.visualize import annotated_picture

    img, _amap, _mask, regions = _scene(183, 238)
    assert annotated_picture(img, regions, ["1 not hot"]).shape == (183, 238, 3)


def test_boxes_of_the_full_photo_land_right_on_a_shrunk_copy():
    from thermal_anomaly.visualize import REGION_COLOR, annotated_picture, fit_picture

    img, _amap, _mask, regions = _scene(1920, 3077)
    direct = annotated_picture(img, regions, [""])
    via_copy = annotated_picture(fit_picture(img), regions, [""], box_shape=img.shape)
    assert np.array_equal(np.all(direct == REGION_COLOR, axis=2), np.all(via_copy == REGION_COLOR, axis=2))


@pytest.mark.parametrize("shape", [(1920, 3077), (183, 238), (640, 640)])
def test_six_panel_fits_a_screen_with_six_distinct_panels(shape):
    from thermal_anomaly.visualize import six_panel

    h, w = shape
    img, amap, mask, regions = _scene(h, w)
    temp = 20.0 + 30.0 * img[..., 0]
    rise = np.clip(temp - 29.0, 0, None)
    panel = np.asarray(
        six_panel(img, temp, amap, rise, amap * 0.5, mask, regions, labels=["1 major"], title="t")
    )
    ph, pw = panel.shape[:2]
    assert pw <= 1920 and ph <= 1080 and pw > ph
    # six picture areas: columns of non-white pixels split into three groups, rows into two
    ink = np.any(panel < 250, axis=2)
    cols = np.flatnonzero(ink[ph // 4] | ink[3 * ph // 4])
    assert np.count_nonzero(np.diff(cols) > 8) >= 2
    rows = np.flatnonzero(ink[:, pw // 6])
    assert np.count_nonzero(np.diff(rows) > 8) >= 1
    # the final overlay (bottom right) shows the mask's red tint; the original (top left) does not
    red = (panel[..., 0] > 150) & (panel[..., 1] < 150) & (panel[..., 2] < 150)
    assert red[ph // 2 :, 2 * pw // 3 :].any()
    assert not red[: ph // 2, : pw // 3].any()


def test_six_panel_overlay_tint_is_where_the_mask_is():
    from thermal_anomaly.visualize import PANEL_BOX, fit_size, six_panel

    img, amap, mask, regions = _scene(1920, 3077)
    panel = np.asarray(six_panel(img, None, amap, None, amap, mask, []))
    fw, fh = fit_size(img.shape, PANEL_BOX, upscale=True)
    ph, pw = panel.shape[:2]
    cell = panel[ph // 2 :, 2 * pw // 3 :]  # the final overlay
    red = (cell[..., 0] > 150) & (cell[..., 1] < 120) & (cell[..., 2] < 120)
    ys, xs = np.nonzero(red)
    x0, y0, x1, y1 = regions[0].box
    assert abs((xs.max() - xs.min() + 1) - (x1 - x0) * fw / 3077) <= 3
    assert abs((ys.max() - ys.min() + 1) - (y1 - y0) * fh / 1920) <= 3
    # and it lies where the region is within the overlay's picture (found by its grey, 0.3 × 255)
    grey = np.all(np.abs(cell.astype(int) - 77) <= 2, axis=2)
    top, left = np.flatnonzero(grey.sum(axis=1) > 100)[0], np.flatnonzero(grey.sum(axis=0) > 100)[0]
    assert abs(xs.min() - left - x0 * fw / 3077) <= 3
    assert abs(ys.min() - top - y0 * fh / 1920) <= 3


def test_invalid_temperatures_are_neutral_grey():
    from thermal_anomaly.visualize import NEUTRAL, colorize, shrink_temperature

    t = np.linspace(20, 60, 200 * 300, dtype=np.float32).reshape(200, 300)
    valid = np.ones(t.shape, bool)
    valid[:, :100] = False
    t[0, 200] = np.nan
    small, good = shrink_temperature(t, valid, (150, 100))
    assert not good[:, :49].any() and good[:, 51:].all()
    rgb = colorize(small, 20, 60, "inferno", invalid=~good)
    assert np.all(rgb[:, :49] == NEUTRAL) and not np.any(np.all(rgb[:, 51:] == NEUTRAL, axis=2))
    # valid means are the valid pixels' means (nothing of the invalid ones leaks in)
    ref = np.nanmean(t.reshape(100, 2, 150, 2), axis=(1, 3))
    assert np.allclose(small[:, 51:], ref[:, 51:], atol=1e-3)  # the NaN pixel is left out of its mean
    assert np.all(colorize(np.array([[np.nan, 1.0]]), 0, 1)[0, 0] == NEUTRAL)


def test_six_panel_shows_invalid_temperature_neutral(tmp_path):
    from thermal_anomaly.visualize import NEUTRAL, save_six_panel

    img, amap, mask, regions = _scene(300, 400)
    temp = np.full((300, 400), 30.0, np.float32)
    valid = np.ones(temp.shape, bool)
    valid[:, 300:] = False  # the right quarter: e.g. the camera's colour bar
    save_six_panel(tmp_path / "p.png", img, temp, amap, None, amap, mask, regions, temperature_valid=valid)
    panel = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    grey = np.all(panel == NEUTRAL, axis=2)
    ph, pw = panel.shape[:2]
    top_middle = grey[: ph // 2, pw // 3 : 2 * pw // 3]
    assert top_middle.sum() > 0.2 * 0.25 * 480 * 360  # about a quarter of the temperature panel
    assert not grey[: ph // 2, : pw // 3].any()
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


def test_colorize_matches_matplotlib_bins():
    import matplotlib

    from thermal_anomaly.visualize import colorize

    x = np.linspace(-0.2, 1.2, 301, dtype=np.float32)[None]
    ref = (matplotlib.colormaps["inferno"](np.clip(x, 0, 1))[..., :3] * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(colorize(x, 0.0, 1.0, "inferno"), ref)


def test_six_panel_outlines_hot_spots_on_the_hot_spot_map():
    from thermal_anomaly.visualize import PANEL_BOX, fit_size, six_panel

    img, amap, mask, regions = _scene(1920, 3077)
    rise = np.zeros(amap.shape, np.float32)  # all dark blue, so the white outline stands out
    panel = np.asarray(six_panel(img, None, amap, rise, amap, mask, regions, hotspot_boxes=regions))
    ph, pw = panel.shape[:2]
    cell = panel[ph // 2 :, : pw // 3]  # the hot-spot map
    blue = (cell[..., 2] > 100) & (cell[..., 0] < 50) & (cell[..., 1] < 50)
    rows = np.flatnonzero(blue.sum(axis=1) > 200)  # the map's rows, not its colour scale's
    cols = np.flatnonzero(blue[rows].any(axis=0))
    pic = cell[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fw, fh = fit_size(img.shape, PANEL_BOX, upscale=True)
    assert pic.shape[:2] == (fh, fw)
    wy, wx = np.nonzero(np.all(pic == 255, axis=2))
    x0, y0, x1, y1 = regions[0].box
    assert abs(wx.min() - x0 * fw / 3077) <= 2 and abs(wx.max() + 1 - x1 * fw / 3077) <= 2
    assert abs(wy.min() - y0 * fh / 1920) <= 2 and abs(wy.max() + 1 - y1 * fh / 1920) <= 2
    assert not np.all(pic[(wy.min() + wy.max()) // 2, (wx.min() + wx.max()) // 2] == 255)  # an outline


def test_a_sensor_size_frame_is_enlarged_so_its_labels_do_not_cover_it():
    from thermal_anomaly.visualize import MIN_SCREEN_SIDE, annotated_picture

    frame = np.zeros((60, 80, 3), np.float32)  # an 80×60 radiometric sensor
    out = annotated_picture(frame, [Region(box=[20, 10, 40, 30], score=0.0)], ["1 major ΔT 20.0 °C"])
    assert out.shape[:2] == (MIN_SCREEN_SIDE * 60 // 80, MIN_SCREEN_SIDE)
    # the box is drawn where the frame's box is, scaled by 8
    assert out[80:240, 160].any() and not out[300:, 400:].any()
