"""Measurement markers (spot rings with ticks, crosshairs, box corner brackets) found by shape.

Real development images (``dev_data``, read in place; skipped when absent): T1's red spot ring is found,
the scene inside it is not; normals of other cameras without markers get nothing added; markers drawn on a
real frame in colours no camera here uses are found where they were drawn, and look-alikes (a ring without
ticks, a filled disc, a lone corner) are not.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.markers import marker_strokes
from thermal_anomaly.thermal.palette import as_rgb_float, work_copy

T1_RING = "T1/faulty/T1_faulty_035.jpg"  # a dark-red ring with four ticks, centred near (390, 305)
#: a real frame to draw on: T1's lower half is blurred ground and tank, free of UI (its own ring and box are
#: above y = 350)
FRAME = "T1/normal/T1_normal_002.jpg"
#: a night frame of another camera (3077 px wide, working copy 640 x 399)
NIGHT = "T7/normal/T7_normal_001.jpg"


def _small(dev_data, rel: str) -> np.ndarray:
    """The overlay working copy (long side 640) of a development image, float RGB."""
    return work_copy(as_rgb_float(read_image(dev_data / rel)), 640)[0]


def _ring(
    img: np.ndarray, centre: tuple[int, int], axes: tuple[int, int], colour, ticks: bool = True
) -> None:
    """Draw a 2 px ring (and four 6 px ticks outside it) into float ``img``, as cameras draw spot markers."""
    cx, cy = centre
    a, b = axes
    cv2.ellipse(img, centre, axes, 0, 0, 360, colour, 2, cv2.LINE_AA)
    if ticks:
        for x0, y0, x1, y1 in (
            (cx - a - 7, cy, cx - a - 1, cy),
            (cx + a + 1, cy, cx + a + 7, cy),
            (cx, cy - b - 7, cx, cy - b - 1),
            (cx, cy + b + 1, cx, cy + b + 7),
        ):
            cv2.line(img, (x0, y0), (x1, y1), colour, 3)


def _added(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Marker strokes on the drawn frame that were not on the frame as it was."""
    return marker_strokes(after) & ~marker_strokes(before)


def test_t1_spot_ring_is_found_but_not_the_scene_inside(dev_data):
    m = marker_strokes(_small(dev_data, T1_RING))  # T1 is 640 px: the working copy is the picture
    # the ring's strokes (left, right, top and bottom of it) and its ticks
    for x, y in ((371, 305), (409, 305), (390, 280), (390, 331), (366, 305), (414, 305)):
        assert m[y - 1 : y + 2, x - 1 : x + 2].any(), (x, y)
    # not the hot scene the camera put the ring on
    assert not m[295:316, 383:398].any()
    ring = m[270:342, 360:420]
    assert 250 < ring.sum() < 0.5 * ring.size


@pytest.mark.parametrize(
    "rel",
    ["T2/normal/T2_normal_001.png", "T6/normal/T6_normal_001.jpg", NIGHT, "T9/normal/T9_normal_002.jpg"],
)
def test_normals_without_markers_get_none(dev_data, rel):
    # T9_normal_002: branches against the night sky once made a "ring" with "ticks"
    assert not marker_strokes(_small(dev_data, rel)).any()


def test_synthetic_ring_with_ticks_on_a_real_frame_is_found(dev_data):
    frame = _small(dev_data, FRAME)
    drawn = frame.copy()
    _ring(drawn, (200, 470), (16, 21), (0.1, 0.9, 0.2))  # green: no camera here draws in it
    added = _added(frame, drawn)
    ink = np.abs(drawn - frame).max(axis=2) > 0.3
    assert added[ink].mean() > 0.9  # the strokes
    assert not added[465:476, 194:207].any()  # not the scene inside the ring
    assert added.sum() < 4 * ink.sum()  # and nothing far from it


def test_ring_without_ticks_and_filled_disc_are_not_markers(dev_data):
    frame = _small(dev_data, FRAME)
    drawn = frame.copy()
    _ring(drawn, (200, 470), (16, 21), (0.1, 0.9, 0.2), ticks=False)  # could be a round part's rim
    cv2.ellipse(drawn, (450, 450), (8, 8), 0, 0, 360, (1.0, 0.2, 0.1), -1)  # a small hot spot
    assert not (marker_strokes(drawn) & ~marker_strokes(frame)).any()


def test_coloured_crosshair_on_a_real_frame_is_found(dev_data):
    frame = _small(dev_data, FRAME)
    drawn = frame.copy()
    cx, cy, arm, gap = 450, 480, 28, 4
    colour = (0.9, 0.1, 0.1)  # red, as FLIR's AX8 draws its spots: neither light nor dark
    cv2.line(drawn, (cx - gap - arm, cy), (cx - gap, cy), colour, 2)
    cv2.line(drawn, (cx + gap, cy), (cx + gap + arm, cy), colour, 2)
    cv2.line(drawn, (cx, cy - gap - arm), (cx, cy - gap), colour, 2)
    cv2.line(drawn, (cx, cy + gap), (cx, cy + gap + arm), colour, 2)
    added = _added(frame, drawn)
    ink = np.abs(drawn - frame).max(axis=2) > 0.3
    assert added[ink].mean() > 0.9
    assert added.sum() < 4 * ink.sum()


def test_corner_brackets_are_found_and_a_lone_corner_is_not(dev_data):
    frame = _small(dev_data, FRAME)
    drawn = frame.copy()
    colour = (1.0, 0.85, 0.0)  # yellow brackets of a measurement box
    x0, y0, x1, y1, arm = 200, 400, 420, 540, 22
    for (x, y), (dx, dy) in (
        ((x0, y0), (1, 1)),
        ((x1, y0), (-1, 1)),
        ((x0, y1), (1, -1)),
        ((x1, y1), (-1, -1)),
    ):
        cv2.line(drawn, (x, y), (x + dx * arm, y), colour, 2)
        cv2.line(drawn, (x, y), (x, y + dy * arm), colour, 2)
    added = _added(frame, drawn)
    ink = np.abs(drawn - frame).max(axis=2) > 0.3
    assert added[ink].mean() > 0.9
    assert not added[y0 + arm + 5 : y1 - arm - 5, x0 + arm + 5 : x1 - arm - 5].any()  # the box's inside

    lone = frame.copy()
    cv2.line(lone, (x0, y0), (x0 + arm, y0), colour, 2)
    cv2.line(lone, (x0, y0), (x0, y0 + arm), colour, 2)
    assert not (marker_strokes(lone) & ~marker_strokes(frame)).any()
