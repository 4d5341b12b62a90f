"""hotspots: rise maps and NETA-rated regions on scenes whose temperatures are known."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from thermal_anomaly.errors import DataError
from thermal_anomaly.thermal.hotspots import find_hotspots, hotspot_map, severity
from thermal_anomaly.thermal.temperature import TemperatureMap

BUSHINGS = (200, 320, 440)


def _render(
    field: np.ndarray, unit: str = "C", valid: np.ndarray | None = None, seed: int = 0
) -> TemperatureMap:
    """Optics blur and sensor noise on a known temperature field."""
    t = cv2.GaussianBlur(field.astype(np.float32), (0, 0), 1.5)
    noise = 0.15 if unit == "C" else 0.003
    t += np.random.default_rng(seed).normal(0.0, noise, t.shape).astype(np.float32)
    valid = np.ones(t.shape, bool) if valid is None else valid
    return TemperatureMap(t, unit, valid, "test")


def _bushings(joint_rise: float, ambient: float = 20.0, body: float = 25.0) -> np.ndarray:
    """Three identical bushings (20×160 px) at ``body`` °C on an ``ambient`` sky; the middle one has a hot
    joint (a 12 px radius disc at its top) ``joint_rise`` above the bushing."""
    h, w = 480, 640
    t = np.full((h, w), ambient, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for k, cx in enumerate(BUSHINGS):
        t[200:360, cx - 10 : cx + 10] = body
        if k == 1:
            t[(yy - 205) ** 2 + (xx - cx) ** 2 < 12**2] = body + joint_rise
    return t


def _inside(box: list[int], x: int, y: int) -> bool:
    return box[0] <= x < box[2] and box[1] <= y < box[3]


def test_hot_joint_on_one_of_three_bushings_is_rated_against_the_other_two():
    regions = find_hotspots(_render(_bushings(10.0)))
    assert len(regions) == 1  # the two healthy bushings are warm, but no warmer than their peers
    r = regions[0]
    assert r.reference == "similar"
    assert r.delta_t == pytest.approx(10.0, abs=1.5)
    assert r.reference_temp == pytest.approx(25.0, abs=1.0)
    assert r.delta_t_ambient == pytest.approx(15.0, abs=1.5)
    assert r.severity_similar == "probable deficiency"
    assert r.severity_ambient == "probable deficiency"
    assert r.severity == "probable deficiency"
    assert r.unit == "C" and r.score == r.delta_t
    assert _inside(r.box, 320, 205) and r.box[3] < 260  # the joint, not the whole bushing
    assert r.fault_type == "loose_joint"


def test_twenty_degree_joint_is_major():
    (r,) = find_hotspots(_render(_bushings(20.0)))
    assert r.delta_t == pytest.approx(20.0, abs=1.5)
    assert r.severity_similar == "major" and r.severity == "major"


def test_rise_map_is_in_degrees_and_zero_on_the_sky():
    temp = _render(_bushings(10.0))
    m = hotspot_map(temp)
    assert m.shape == (480, 640) and m.dtype == np.float32
    assert float(m[205, 320]) == pytest.approx(15.0, abs=1.5)  # joint over the sky behind it
    assert float(m[300, 200]) == pytest.approx(5.0, abs=1.0)  # a healthy bushing: thinner than the window
    assert float(np.percentile(m[:150], 99)) < 0.6


def test_hot_wire_is_full_wire_overload_and_small_spot_is_point_overload():
    h, w = 480, 640
    t = np.full((h, w), 20.0, np.float32)
    cv2.line(t, (80, 400), (330, 150), 35.0, 5)
    yy, xx = np.mgrid[0:h, 0:w]
    t[(yy - 120) ** 2 + (xx - 520) ** 2 < 8**2] = 32.0
    regions = find_hotspots(_render(t))
    assert len(regions) == 2
    wire = next(r for r in regions if _inside(r.box, 205, 275))
    spot = next(r for r in regions if _inside(r.box, 520, 120))
    assert wire.fault_type == "full_wire_overload"
    assert spot.fault_type == "point_overload"
    assert spot.reference == "local"  # nothing like it in the picture: compared with its surroundings
    assert spot.delta_t == pytest.approx(12.0, abs=1.5)
    assert wire.delta_t == pytest.approx(15.0, abs=1.5)
    assert regions[0] is wire  # sorted by rise


def test_uniform_scene_and_large_warm_body_give_nothing():
    flat = np.full((480, 640), 22.0, np.float32)
    assert find_hotspots(_render(flat)) == []
    assert float(hotspot_map(_render(flat)).max()) < 1.0
    body = flat.copy()
    body[100:400, 150:500] = 40.0  # a sun-heated tank: larger than the local window, its own background
    assert find_hotspots(_render(body)) == []


def test_relative_units_get_relative_severities():
    t = _bushings(0.3, ambient=0.2, body=0.4)  # positions on the colour scale, 0 cold .. 1 hot
    (r,) = find_hotspots(_render(t, unit="relative"))
    assert r.unit == "relative"
    assert r.delta_t == pytest.approx(0.3, abs=0.05)
    assert r.severity == "relative: major"
    assert r.severity_similar == "relative: major"
    assert r.severity_ambient.startswith("relative: ")


def test_invalid_pixels_are_filled_before_and_zero_after():
    t = _bushings(10.0)
    valid = np.ones(t.shape, bool)
    valid[20:80, 20:200] = False  # a burned-in label whose colours decode as 90 °C
    temp = _render(t, valid=valid)
    temp.values[~valid] = 90.0
    m = hotspot_map(temp)
    assert float(m[~valid].max()) == 0.0
    assert float(m[10:100, 10:220].max()) < 0.6  # its edges do not light up either
    (r,) = find_hotspots(temp)
    assert r.delta_t == pytest.approx(10.0, abs=1.5)
    assert r.delta_t_ambient == pytest.approx(15.0, abs=1.5)  # ambient from valid pixels only


def test_severity_tables_follow_neta():
    assert severity(2.0, 5.0, "C")[0] == "possible deficiency"
    assert severity(4.0, 5.0, "C")[0] == "probable deficiency"
    assert severity(2.0, 30.0, "C") == ("deficiency", "possible deficiency", "deficiency")
    assert severity(16.0, 12.0, "C")[0] == "major"
    assert severity(0.5, 45.0, "C")[0] == "major"
    assert severity(0.5, 0.5, "C")[0] == "none"
    assert severity(0.04, 0.1, "relative")[0] == "relative: possible deficiency"


def test_large_image_keeps_small_spots():
    """A 6 MP picture is worked on downscaled (timed in benchmarks/unit_speed.py); a small spot survives."""
    h, w = 1920, 3077
    t = np.full((h, w), 25.0, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    t[(yy - 900) ** 2 + (xx - 1500) ** 2 < 15**2] = 45.0  # 30 px across: 5 px at the working size
    temp = TemperatureMap(t, "C", np.ones((h, w), bool), "test")
    m = hotspot_map(temp)
    assert m.shape == (h, w)
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    assert abs(y - 900) < 20 and abs(x - 1500) < 20
    (r,) = find_hotspots(temp)
    assert r.max_temp == pytest.approx(45.0, abs=0.5)  # max-pooled: a 5 px spot keeps its peak
    assert r.delta_t == pytest.approx(20.0, abs=2.0)


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError):
        hotspot_map(TemperatureMap(np.zeros((4, 5), np.float32), "C", np.ones((5, 4), bool), "x.jpg"))
    empty = TemperatureMap(np.zeros((40, 50), np.float32), "C", np.zeros((40, 50), bool), "x")
    assert find_hotspots(empty) == [] and float(hotspot_map(empty).max()) == 0.0


def test_real_image_peak_is_on_the_annotated_fault(dev_data: Path):
    from thermal_anomaly.data import ThermalDataset
    from thermal_anomaly.thermal.temperature import temperature_map

    ds = ThermalDataset(dev_data, mode="test")
    i = next(k for k, r in enumerate(ds) if r.name == "T1/faulty/T1_faulty_021.jpg")
    image, mask = ds.load_image(i), ds.load_mask(i)
    temp = temperature_map(image, ds[i].path)
    assert temp.unit == "C" and temp.range == pytest.approx((21.8, 47.9), abs=0.3)
    m = hotspot_map(temp)
    d = int(0.02 * np.hypot(*mask.shape))
    near = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * d + 1,) * 2))
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    assert near[y, x]
    # The annotator outlined the two bushings; the heat sits in the clamp under the right one (~55 px below
    # the outline, under the camera's measuring line), and that is the hottest rated region: in °C, at least
    # 3 °C warmer than its peers, horizontally under the bushing and below it by less than 10 % of the height.
    regions = find_hotspots(temp)
    assert regions and regions[0].unit == "C" and regions[0].delta_t >= 3.0
    x0, y0, x1, y1 = regions[0].box
    cols = np.nonzero(mask[:, x0:x1].any(axis=0))[0]
    assert len(cols) and 0 <= y0 - np.nonzero(mask[:, x0 + cols[0]])[0].max() < 0.1 * mask.shape[0]


def test_a_drawn_speck_is_not_a_hot_spot_but_a_thin_hot_wire_is():
    """A camera's max marker (a few px of a hot palette colour, unblurred) is no heat source; a hot wire
    one pixel wide but long is one."""
    t = _bushings(joint_rise=0.0)
    marker = t.copy()
    marker[100:102, 500:502] = 60.0  # 2×2 px drawn in the hottest colour, no optics blur
    tm = TemperatureMap(marker, "C", np.ones(marker.shape, bool), "test")
    assert not [r for r in find_hotspots(tm) if _inside(r.box, 500, 100)]
    wire = _bushings(joint_rise=0.0)
    wire[60, 100:400] = 45.0  # a long 1 px conductor 25 °C over the sky
    found = find_hotspots(_render(wire))
    assert any(r.box[0] <= 250 <= r.box[2] and r.box[1] <= 60 < r.box[3] for r in found)


def test_a_drawn_glyph_is_not_heat_but_the_same_shape_blurred_by_optics_is():
    """A camera logo's white block on the sky jumps from the cold end to the hot end within a pixel; a hot
    object of the same size is blurred by the optics, so its edge falls gradually."""
    t = _bushings(joint_rise=0.0)[:, :512]  # the working copy's size: no resampling softens the glyph
    t[60:84, 470:486] = 60.0  # 24×16 px, 40 °C over the sky
    drawn = TemperatureMap(t, "C", np.ones(t.shape, bool), "test")
    assert not [r for r in find_hotspots(drawn) if _inside(r.box, 478, 70)]
    blurred = [r for r in find_hotspots(_render(t)) if _inside(r.box, 478, 70)]
    assert len(blurred) == 1 and blurred[0].edge_drop < 0.5


def test_in_raw_sensor_data_a_sharp_edged_block_is_heat():
    """Radiometric data hold no drawn UI: the unblurred block a picture would have drawn (a logo's white) is
    a small sensor's hot part there, and is rated."""
    t = _bushings(joint_rise=0.0)[:, :512]
    t[60:84, 470:486] = 60.0
    drawn = TemperatureMap(t, "C", np.ones(t.shape, bool), "test")
    assert not [r for r in find_hotspots(drawn) if _inside(r.box, 478, 70)]
    raw = TemperatureMap(t, "C", np.ones(t.shape, bool), "radiometric")
    block = [r for r in find_hotspots(raw) if _inside(r.box, 478, 70)]
    assert len(block) == 1 and block[0].severity == "major" and block[0].delta_t > 30


def test_real_radiometric_file_hottest_element_is_the_top_hot_spot(flir_data: Path):
    """FLIR's "linear load" file (a 120 px sensor): its 89 °C element was taken for a drawn glyph (its edge
    falls within a working pixel) while cooler parts were rated."""
    from thermal_anomaly.thermal.analysis import ThermalAnalysis

    temp = ThermalAnalysis.from_file(flir_data / "radiometric" / "15_-_Linear_load.jpg").temperature
    assert temp.source == "radiometric"
    spots = find_hotspots(temp)
    y, x = np.unravel_index(int(np.argmax(temp.values)), temp.values.shape)
    assert spots and _inside(spots[0].box, x, y), (spots[0].box, (x, y))
    assert spots[0].max_temp > 85 and spots[0].severity == "major"


def test_a_hot_spot_names_the_peers_it_was_compared_with_and_its_peak():
    (r,) = find_hotspots(_render(_bushings(10.0)))
    assert len(r.peers) == 2  # the two healthy bushings, nothing else
    assert sorted(_inside(b, cx, 280) for b in r.peers for cx in (200, 440)).count(True) == 2
    assert _inside(r.box, *r.peak) and abs(r.peak[0] - 320) <= 6 and abs(r.peak[1] - 205) <= 8


def test_sister_components_in_the_same_row_are_the_peers_not_a_similar_shape_elsewhere():
    """Three bushings side by side; a warm post of the same size lower down (another kind of part) would pull
    the reference down if it counted as a peer."""
    t = _bushings(10.0)
    for cx in (520, 590):  # two warm posts of the bushings' shape, below their row, cooler
        t[366:462, cx - 10 : cx + 10] = 22.5
    (r,) = [h for h in find_hotspots(_render(t)) if _inside(h.box, 320, 205)]
    assert len(r.peers) == 2 and all(b[3] < 366 for b in r.peers)  # only the sister bushings
    assert r.reference_temp > 25.0  # the bushings' level, not pulled toward the posts' 22.5 °C


def test_an_overheated_bushing_is_rated_against_its_sisters_not_a_horizontal_band_as_warm():
    """One bushing of three is overheated along its length, so its warm blob is several times larger than its
    sisters', which show only their warm tops; beside them, in the same row, a horizontal warm band (a tank
    top) as warm and as large as the hot bushing. A vertical bushing's sisters are the other bushings (same
    direction, smaller because cooler), not the band (the same size, lying across)."""
    h, w = 480, 640
    t = np.full((h, w), 20.0, np.float32)
    t[160:320, 190:210] = 34.0  # the overheated bushing, 20×160 px
    for cx in (280, 360):  # its sisters: only their tops (14×60 px) rise above the sky
        t[160:220, cx - 7 : cx + 7] = 26.0
    t[290:310, 440:600] = 34.0  # the tank top's band, 160×20 px, in the bushings' row
    spots = find_hotspots(_render(t))
    hot = [s for s in spots if _inside(s.box, 200, 240)]
    assert len(hot) == 1, [(s.box, s.delta_t, s.peers) for s in spots]  # not dropped against the band
    r = hot[0]
    assert r.reference == "similar"
    assert r.reference_temp == pytest.approx(26.0, abs=1.0)
    assert r.delta_t == pytest.approx(8.0, abs=1.5)
    assert len(r.peers) == 2
    assert sorted(_inside(b, cx, 190) for b in r.peers for cx in (280, 360)).count(True) == 2


def test_isotherm_outlines_the_hot_joint_half_way_down_its_rise():
    from thermal_anomaly.thermal.hotspots import isotherm

    temp = _render(_bushings(10.0))
    (r,) = find_hotspots(temp)
    outline = isotherm(temp, r)
    assert outline[205, 320]  # the joint's centre
    # the joint is a 12 px radius disc (452 px) blurred by the optics; half way down its rise keeps its core
    assert 150 <= outline.sum() <= 900
    assert not outline[:, :300].any() and not outline[:, 340:].any()  # not the sister bushings


def test_outline_regions_replace_a_learned_speck_by_the_joints_isotherm():
    from thermal_anomaly.thermal.outlines import outline_regions

    temp = _render(_bushings(10.0))
    amap = np.zeros(temp.values.shape, np.float32)
    amap[203:207, 318:322] = 1.0  # the map's threshold caught a speck of the joint
    out = outline_regions(temp, amap, amap > 0)
    assert out[205, 320] and 150 <= out.sum() <= 900  # the joint's half-rise core, not the speck
    assert not out[:, :300].any() and not out[:, 340:].any()  # not the sister bushings
    assert not out[300:, :].any()  # nor the bushing's cooler body below the joint


def test_outline_regions_outline_a_warm_bushing_and_keep_regions_without_heat_or_temperature():
    from thermal_anomaly.thermal.outlines import outline_regions

    temp = _render(_bushings(0.0))
    amap = np.zeros(temp.values.shape, np.float32)
    amap[280:284, 438:442] = 1.0  # the right bushing's middle (no joint: a warm component)
    out = outline_regions(temp, amap, amap > 0)
    assert out[282, 440] and not out[282, 400] and not out[282, 480]  # its width, not the sky beside it
    assert out[:, 428:453].sum() > 0.95 * out.sum() and out.sum() > 20 * 60
    # a region on the flat sky has nothing warm to outline: the learned outline stays
    sky = np.zeros_like(amap)
    sky[100:104, 600:604] = 1.0
    assert np.array_equal(outline_regions(temp, sky, sky > 0), sky > 0)
    # no valid temperature under a region: the learned outline stays as it is
    blind = TemperatureMap(temp.values, "C", np.zeros_like(temp.valid), "test")
    assert np.array_equal(outline_regions(blind, amap, amap > 0), amap > 0)


@pytest.mark.parametrize("shape", [(640, 640), (1920, 3077), (347, 450), (1024, 1536), (300, 900)])
def test_downscaled_copy_equals_separate_area_resizes(shape):
    """One two-channel area resize gives exactly the two single-channel ones it replaced (an OpenCV
    upgrade that broke this would change every hot spot by float rounding)."""
    from thermal_anomaly.thermal.hotspots import WORK_SIDE, _downscaled

    rng = np.random.default_rng(shape[1])
    h, w = shape
    values = (rng.random(shape, dtype=np.float32) * 40 + 10).astype(np.float32)
    valid = rng.random(shape) > 0.1
    f = min(1.0, WORK_SIDE / max(h, w))
    size, k = (max(1, round(w * f)), max(1, round(h * f))), int(np.ceil(1.0 / f))
    vz, wt, vmax, lo = _downscaled(values, valid, size, k)
    weight = valid.astype(np.float32)
    plain = (values - lo) * weight
    assert np.array_equal(vz, cv2.resize(plain, size, interpolation=cv2.INTER_AREA))
    assert np.array_equal(wt, cv2.resize(weight, size, interpolation=cv2.INTER_AREA))
    pooled = cv2.dilate(plain, np.ones((k, k), np.uint8))
    assert np.array_equal(vmax, cv2.resize(pooled, size, interpolation=cv2.INTER_NEAREST))


def _fill_whole_image(v: np.ndarray, has: np.ndarray) -> np.ndarray:
    """The filling as it was before it filtered only the unfilled pixels' box: every pass over the whole map."""
    from thermal_anomaly.thermal.hotspots import FILL_RADII

    out = v.copy()
    todo = ~has
    w = has.astype(np.float32)
    vw = np.where(has, v, 0.0).astype(np.float32)
    for k in FILL_RADII:
        num, den = cv2.blur(vw, (k, k)), cv2.blur(w, (k, k))
        ok = todo & (den > 1e-3)
        np.divide(num, den, out=out, where=ok)
        todo &= ~ok
        if not todo.any():
            return out
    out[todo] = float(np.median(v[has])) if has.any() else 0.0
    return out


@pytest.mark.parametrize("scale", [1.0, 60.0])
def test_fill_within_the_unfilled_box_equals_filling_over_the_whole_map(scale):
    """Box filters sum float32 in double, exactly for such maps: where the sums start does not matter."""
    from thermal_anomaly.thermal.hotspots import _fill

    rng = np.random.default_rng(3)
    v = (rng.random((384, 512), dtype=np.float32) * scale + 0.2 * scale).astype(np.float32)
    has = np.ones(v.shape, bool)
    has[40:48, 60:200] = False  # a text line
    has[100:380, 470:505] = False  # a colour bar's panel near the edge
    has[:6, :] = False  # a banner on the frame's edge
    has[200:203, 10:12] = False
    assert np.array_equal(_fill(v, has.copy()), _fill_whole_image(v, has.copy()))
