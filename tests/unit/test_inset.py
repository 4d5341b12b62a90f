"""Picture in picture: a thermal inset in a visible-light photo; the photo around it is overlay, no temperature.

A real FLIR picture-in-picture (the Aqua Tower, iron inset in a grey photo with the FLIR logo and the
read-outs over the photo), one made from a real thermal picture pasted into a grey photo of another, and
pictures without an inset (a sky band off the palette, a night scene, a transformer) that must stay whole.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.inset import thermal_inset
from thermal_anomaly.thermal.palette import as_rgb_float

AQUA = "05_-_Aqua_Tower_thermal_image"


def test_real_picture_in_picture_reads_only_the_inset(flir_data):
    a = ThermalAnalysis(read_image(flir_data / "pictures" / f"{AQUA}.png"))
    temp = a.temperature
    assert "picture in picture" in temp.note
    box = a.inset
    assert box is not None
    x0, y0, x1, y1 = box
    # the inset on the 240 px picture: columns 47..190 and rows 48..191 are chromatic (iron), the photo grey
    assert abs(x0 - 47) <= 2 and abs(y0 - 48) <= 2 and abs(x1 - 191) <= 2 and abs(y1 - 192) <= 2
    # the FLIR logo and the "19.0°F" read-out over the photo decoded as the hottest pixels before
    assert not temp.valid[5:40, 160:235].any()
    assert not temp.valid[5:45, 5:80].any()
    inside = temp.valid[y0:y1, x0:x1]
    assert inside.mean() > 0.6
    hottest = np.unravel_index(np.argmax(np.where(temp.valid, temp.values, -np.inf)), temp.values.shape)
    assert y0 <= hottest[0] < y1 and x0 <= hottest[1] < x1


def _pasted(flir_data) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A grey photo (the luminance of a picture without a bar) with a real iron picture and its bar pasted at its centre, and white
    text over the photo."""
    photo = as_rgb_float(read_image(flir_data / "pictures" / "FLIR.png"))  # no bar, a logo
    thermal = as_rgb_float(read_image(flir_data / "pictures" / "FLIR8565.png"))
    # a daylight photo's greys: the mug's luminance, landscape, spread over mid to light grey
    grey = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (640, 480), interpolation=cv2.INTER_AREA)
    grey = 0.35 + 0.5 * (grey - grey.min()) / max(float(np.ptp(grey)), 1e-6)
    out = np.repeat(grey[..., None], 3, axis=2).copy()
    h, w = out.shape[:2]
    th, tw = h // 2, round(h // 2 * thermal.shape[1] / thermal.shape[0])
    y0, x0 = (h - th) // 2, (w - tw) // 2
    out[y0 : y0 + th, x0 : x0 + tw] = cv2.resize(thermal, (tw, th), interpolation=cv2.INTER_AREA)
    out8 = np.ascontiguousarray(np.round(out * 255).astype(np.uint8))
    cv2.putText(out8, "22.5", (w - 150, h - 30), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 4)
    return out8, (x0, y0, x0 + tw, y0 + th)


def test_pasted_inset_is_found_and_the_photo_is_no_temperature(flir_data):
    rgb, (x0, y0, x1, y1) = _pasted(flir_data)
    a = ThermalAnalysis(rgb)
    temp = a.temperature
    assert "picture in picture" in temp.note
    box = a.inset
    assert box is not None
    # within a few px of the pasted picture, which may lose its own black label margin beside its bar
    bx0, by0, bx1, by1 = box
    assert x0 - 3 <= bx0 and y0 - 3 <= by0 and bx1 <= x1 + 3 and by1 <= y1 + 3
    assert (bx1 - bx0) * (by1 - by0) >= 0.95 * (x1 - x0) * (y1 - y0)
    # the photo's blacks and whites and the white text decode on their own no more
    photo = np.ones(temp.valid.shape, bool)
    photo[y0:y1, x0:x1] = False
    assert not temp.valid[photo].any()
    # it is overlay: the learned model leaves it out too, and so does the heat evidence it is fused with
    assert a.overlay[photo].all()
    pos, valid = a.relative(a.overlay)
    small = cv2.resize(photo.view(np.uint8), valid.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    assert not valid[small].any()


@pytest.mark.parametrize(
    "where",
    [
        ("flir", "14_-_Kujawy_wiatrak"),  # a sky band across the top
        ("flir", "FLIR_E40"),  # a fifth of the scene off the palette
        ("dev", "T6/normal/T6_normal_001.jpg"),  # night, black sky
        ("dev", "T1/faulty/T1_faulty_013.jpg"),  # the camera's box and marker in the scene
    ],
)
def test_pictures_without_an_inset_stay_whole(flir_data, dev_data, where):
    kind, name = where
    path = flir_data / "pictures" / f"{name}.png" if kind == "flir" else dev_data / name
    a = ThermalAnalysis(read_image(path))
    temp = a.temperature
    assert "picture in picture" not in temp.note
    assert a.inset is None
    assert thermal_inset(a.rgb, a.overlay) is None
