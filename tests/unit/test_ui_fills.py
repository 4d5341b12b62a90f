"""Small white fills against the camera's UI (FLIR's logo diamond) are no temperature: real pictures in,
the logo's body out of the decoded map, a white spot in the scene kept."""

from __future__ import annotations

import cv2
import numpy as np

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.overlays import ui_fills
from thermal_anomaly.thermal.palette import chan_max, chan_min

#: FLIR's logo at the top right of T1's 640 px pictures (y0, y1, x0, x1)
LOGO = (20, 75, 505, 620)


def _t1(dev_data) -> ThermalAnalysis:
    return ThermalAnalysis(read_image(dev_data / "T1" / "faulty" / "T1_faulty_040.jpg"))


def test_flir_logo_body_is_no_temperature(dev_data):
    a = _t1(dev_data)
    # the diamond's white upper half, left of "FLIR" (white is the top of FLIR's rainbow)
    assert not a.overlay[34, 531] and a.ui_fills[34, 531]
    temp = a.temperature
    assert not temp.valid[34, 531] and not temp.decodable[34, 531]
    # the logo's pixels read at the top of the scale: most of them are gone
    y0, y1, x0, x1 = LOGO
    top = temp.values[y0:y1, x0:x1] >= temp.range[1] - 0.01 * (temp.range[1] - temp.range[0])
    now = int((top & temp.valid[y0:y1, x0:x1]).sum())
    before = int((top & (temp.valid | a.ui_fills)[y0:y1, x0:x1]).sum())
    assert before > 50 and now < 0.5 * before, (now, before)


def test_a_white_spot_in_the_scene_stays_a_temperature(dev_data):
    a = _t1(dev_data)
    rgb = a.rgb.copy()
    # a small clipped-white spot where the scene is farthest from any UI
    far = cv2.distanceTransform((~a.overlay).view(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(far)), far.shape)
    rgb[y - 3 : y + 3, x - 3 : x + 3] = 1.0
    assert not ui_fills(a.overlay, chan_min(rgb), chan_max(rgb))[y - 3 : y + 3, x - 3 : x + 3].any()
    # the same spot drawn against the UI counts as the UI's
    overlay = a.overlay.copy()
    overlay[y - 3 : y + 3, x + 3 : x + 6] = True
    assert ui_fills(overlay, chan_min(rgb), chan_max(rgb))[y - 3 : y + 3, x - 3 : x + 3].all()
