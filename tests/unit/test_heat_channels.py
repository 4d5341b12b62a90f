"""Heat evidence on bare frames and close crops: colours off a guessed palette still carry heat, and a
saturated region wider than the joint disc is hot whatever its size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.detectors.fastflow import FastFlow
from thermal_anomaly.detectors.patchcore import PatchCore, guessed_palette, heat_channels, saturated_rise
from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.palette import palette_lut
from thermal_anomaly.thermal.temperature import GUESSED_PREFIX, PictureScale

#: T1's scene without its colour bar, legend, logo and frame band (what benchmarks/crops.py's "bare" cuts)
T1_BARE = (163, 6, 634, 634)


def _fault_and_rest(dev_data, name: str, off: bool, palette: str | None = None) -> tuple[float, float, float]:
    """Mean joint-scale rise on the annotated fault and off it, and the fault's share rising > 2 % of the
    scale, on the bare crop of ``name`` (its colours read through the named ``palette`` when given, as if
    that had been the nearest guess)."""
    img = read_image(dev_data / "T1" / "faulty" / f"{name}.jpg")
    mask = cv2.imread(str(dev_data / "masks" / "T1" / "faulty" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 0
    x0, y0, x1, y1 = T1_BARE
    a = ThermalAnalysis(np.ascontiguousarray(img[y0:y1, x0:x1]))
    if palette is not None:
        a.__dict__["scale"] = PictureScale(palette_lut(palette), f"{GUESSED_PREFIX}{palette}", "guessed")
    assert a.bar is None and guessed_palette(a)
    rise, excess = heat_channels(a, a.overlay, 0.06, 0.25, offpalette=off)
    assert excess is not None and excess.shape == rise.shape
    m = cv2.resize(mask[y0:y1, x0:x1].astype(np.uint8), rise.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    return float(rise[m].mean()), float(rise[~m].mean()), float((rise[m] > 0.02).mean())


@pytest.mark.slow
def test_a_bare_frames_fault_off_the_guessed_palette_carries_heat(dev_data):
    # a camera whose palette is only approximated (FLIR's rainbow read as "rainbow_hc", the nearest guess
    # before FLIR's own tables): strict, the guess explains almost none of the fault's colours, so the fault
    # looks colder than the rest of the scene
    on, rest, share = _fault_and_rest(dev_data, "T1_faulty_002", off=False, palette="rainbow_hc")
    assert on < rest and share < 0.05
    # off-palette colours read at their nearest palette colour: the fault is the warm thing in the frame
    on, rest, share = _fault_and_rest(dev_data, "T1_faulty_002", off=True, palette="rainbow_hc")
    assert on > 3 * rest and share > 0.6
    # the guess is FLIR's own rainbow now: read strictly, the fault is the warm thing already
    on, rest, share = _fault_and_rest(dev_data, "T1_faulty_002", off=False)
    assert on > 3 * rest and share > 0.6


@pytest.mark.slow
def test_a_frame_with_its_colour_bar_keeps_its_heat_evidence(dev_data):
    a = ThermalAnalysis(read_image(dev_data / "T1" / "faulty" / "T1_faulty_002.jpg"))
    assert a.bar is not None and not guessed_palette(a)
    strict = heat_channels(a, a.overlay, 0.06, 0.25, offpalette=False)
    loose = heat_channels(a, a.overlay, 0.06, 0.25, offpalette=True)
    assert all(np.array_equal(s, v) for s, v in zip(strict, loose, strict=True))


def _bare_iron_frame(hot_share: float) -> tuple[np.ndarray, np.ndarray]:
    """A bare iron-palette frame (no bar, no text) of lattice clutter with a hot blob covering ``hot_share``
    of it, its core clipped white (a close-range hot spot): (picture, blob mask)."""
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    pos = 0.25 + 0.15 * np.sin(xx / 60) * np.cos(yy / 45) + 0.02 * rng.standard_normal((h, w))
    pos[(xx % 80) < 6] += 0.2  # warm lattice members: small, warmer than what surrounds them
    pos[(yy % 90) < 5] += 0.15
    r = np.sqrt(hot_share * h * w / np.pi)
    d = np.hypot(yy - 240, xx - 420)
    pos = cv2.GaussianBlur(np.maximum(pos, 1.3 - 0.9 * d / r).astype(np.float32), (0, 0), 2)
    lut = palette_lut("iron")
    rgb = lut[np.round(np.clip(pos, 0, 1) * (len(lut) - 1)).astype(int)]
    return (rgb * 255).astype(np.uint8), d <= r


def _peak_in(rise: np.ndarray, blob: np.ndarray) -> bool:
    m = cv2.resize(blob.astype(np.uint8), rise.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    py, px = np.unravel_index(np.argmax(cv2.GaussianBlur(rise, (0, 0), 3)), rise.shape)
    return bool(m[py, px])


def test_a_saturated_blob_filling_a_fifth_of_a_bare_frame_is_its_hottest_evidence():
    img, blob = _bare_iron_frame(0.2)
    a = ThermalAnalysis(img)
    assert a.bar is None and a.scale.source == "palette:iron"
    # the joint-scale top-hat takes the blob as its own background: only the lattice stands out
    rise, _ = heat_channels(a, a.overlay, 0.06, 0.25, saturated=False)
    assert not _peak_in(rise, blob)
    rise, _ = heat_channels(a, a.overlay, 0.06, 0.25)
    assert _peak_in(rise, blob)


def test_a_small_saturated_spot_keeps_the_top_hats_reading():
    pos = np.full((100, 100), 0.3, np.float32)
    pos[48:52, 48:52] = 1.0  # 4 px: narrower than a 6 px joint disc
    valid = np.ones(pos.shape, bool)
    assert not saturated_rise(pos, valid, 0.06).any()
    pos[30:70, 30:70] = 1.0  # 40 px: wider; it rises over the scene's median, 0.3
    out = saturated_rise(pos, valid, 0.06)
    assert np.allclose(out[30:70, 30:70], 0.7) and not out[:30].any()
    valid[30:70, 30:70] = False  # colours no palette explains cannot make one
    assert not saturated_rise(pos, valid, 0.06).any()


def test_models_saved_before_offpalette_heat_keep_strict_decoding():
    assert PatchCore._upgrade_config({})["offpalette_heat"] is False
    assert PatchCore._upgrade_config({})["saturated_heat"] is False
    assert PatchCore._upgrade_config({})["component_size"] == 0.0  # the earlier upgrade still applies
    assert FastFlow._upgrade_config({"offpalette_heat": True})["offpalette_heat"] is True
    assert FastFlow._upgrade_config({})["offpalette_heat"] is False
    assert PatchCore().offpalette_heat is True and PatchCore().get_config()["offpalette_heat"] is True
    assert PatchCore(offpalette_heat=False).clone().offpalette_heat is False
    assert FastFlow().offpalette_heat is False and FastFlow().saturated_heat is True


@pytest.mark.parametrize("name", ["FLIR", "17_-_Solar_halo_thermal"])
def test_a_real_scenes_bare_frame_peaks_its_heat_on_the_scenes_hottest_part(flir_data, name):
    # a real scene (a hot mug; a sun halo) drawn as a drone or fixed camera exports it: iron, auto-ranged,
    # no bar, its hottest half percent saturated. The joint-scale rise alone took the saturated part for
    # its own background and peaked elsewhere (17-37 % of the diagonal away); with the saturated rise it
    # peaks on the true hot region
    import flyr

    from thermal_anomaly.thermal.camera_picture import bare_frame

    celsius = np.asarray(flyr.unpack(str(flir_data / "radiometric" / f"{name}.jpg")).celsius, np.float32)
    pic = bare_frame(celsius, "flir_iron")
    a = ThermalAnalysis(pic.rgb.astype(np.float32) / 255.0)
    assert a.bar is None and a.scale.source.startswith(GUESSED_PREFIX)
    lo, hi = np.percentile(pic.truth, [1, 99.9])
    hot = pic.truth >= lo + 0.9 * (hi - lo)
    near = cv2.distanceTransform((~hot).astype(np.uint8), cv2.DIST_L2, 5) <= 0.02 * np.hypot(*hot.shape)
    for saturated, on_hot in ((False, False), (True, True)):
        rise, _ = heat_channels(a, a.overlay, 0.06, 0.25, saturated=saturated)
        rise = cv2.resize(rise, hot.shape[::-1], interpolation=cv2.INTER_LINEAR)
        assert bool(near[np.unravel_index(np.argmax(rise), rise.shape)]) is on_hot
