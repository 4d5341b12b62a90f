"""A thermal picture set into a visible-light photo (picture-in-picture): the photo is camera presentation.

Cameras with a second, visible-light lens can save the thermal image as a rectangle inside the photo of the
same scene (FLIR's "picture in picture"). The photo's blacks and whites, and the camera's white logo and
read-outs printed over it (which do not stand out from a light photo as strokes), match a palette's ends:
read as temperatures, they were the picture's coldest and hottest pixels. The inset is found from the
colours alone, before any decoding: a rectangle, away from every edge of the frame, in which nearly every
pixel is chromatic (a palette colour: iron, rainbow, lava), in a frame where most of the rest is grey. The
photo around it joins the overlay (``ThermalAnalysis.overlay``): no temperature, nothing the learned model
sees. A picture is left as it is when its photo is in colour or its palette is grey (photo and thermal then
look alike), or when a grey region crosses the frame to an edge (a sky band: the photo must show on every
side).
"""

from __future__ import annotations

import cv2
import numpy as np

from .palette import chan_max, chan_min

#: the test runs on a copy this many px on the long side (the inset's edges need only a few pixels' precision)
INSET_SIDE = 256
#: a window (this share of the long side) counts as thermal when this share of its scene pixels are chromatic
WINDOW = 0.05
DENSE = 0.9
#: ... and is judged only where scene (not overlay) makes up at least this share of it
MIN_SCENE = 0.3
#: the thermal region fills at least this share of its bounding rectangle (an inset is a rectangle; a scene's
#: chromatic area is whatever shape the scene has)
FILL = 0.9
#: the inset covers at least MIN_AREA of the frame, and the scene outside it at least MIN_OUTSIDE ...
MIN_AREA = 0.1
MIN_OUTSIDE = 0.15
#: ... of which at most OUTSIDE_THERMAL is chromatic
OUTSIDE_THERMAL = 0.5
#: the photo shows on every side: the inset lies at least this share of the frame's side from each edge (a
#: scene whose sky band is off the palette is no inset)
EDGE_GAP = 0.03
#: chromatic: channel spread (0..1) at least this (twice the UI greys' ``overlays.NEUTRAL_SAT``)
CHROMA = 0.12


def thermal_inset(rgb: np.ndarray, overlay: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), exclusive ends, of the thermal inset of a picture-in-picture, or None.

    ``rgb``: the picture (H×W×3, 0..1); ``overlay``: the camera's UI as found (neither photo nor thermal, left
    out of every share), H×W bool.
    """
    h, w = overlay.shape
    f = min(1.0, INSET_SIDE / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(np.asarray(rgb, np.float32), size, interpolation=cv2.INTER_NEAREST)[..., :3]
    scene = cv2.resize((~overlay).view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    dec = (chan_max(small) - chan_min(small) >= CHROMA) & scene  # chromatic: thermal-looking
    sh, sw = scene.shape
    # the photo shows on every side: a frame whose border band is mostly chromatic has no inset (the
    # common case, decided here without the windowed test)
    band = np.ones(scene.shape, bool)
    band[
        round(EDGE_GAP * sh) : sh - round(EDGE_GAP * sh), round(EDGE_GAP * sw) : sw - round(EDGE_GAP * sw)
    ] = False
    band &= scene
    if not band.any() or dec[band].sum() > OUTSIDE_THERMAL * band.sum():
        return None
    n_scene = int(scene.sum())
    if n_scene < MIN_OUTSIDE * scene.size:
        return None
    k = max(3, round(WINDOW * max(size))) | 1
    share_scene = cv2.blur(scene.astype(np.float32), (k, k))
    share_dec = cv2.blur(dec.astype(np.float32), (k, k))
    dense = (share_scene >= MIN_SCENE) & (share_dec >= DENSE * share_scene)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dense.view(np.uint8), connectivity=4)
    if n <= 1:
        return None
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = (int(v) for v in stats[i])
    if bw * bh < MIN_AREA * scene.size or area < FILL * bw * bh:
        return None
    x, y, x1, y1 = _to_edges(dec, scene, (x, y, x + bw, y + bh))
    if min(x, sw - x1) < EDGE_GAP * sw or min(y, sh - y1) < EDGE_GAP * sh:
        return None  # the photo must show on every side
    inside = np.zeros(scene.shape, bool)
    inside[y:y1, x:x1] = True
    outside = scene & ~inside
    n_out = int(outside.sum())
    if n_out < MIN_OUTSIDE * scene.size or dec[outside].sum() > OUTSIDE_THERMAL * n_out:
        return None
    return (
        int(np.floor(x / f)),
        int(np.floor(y / f)),
        min(w, int(np.ceil(x1 / f))),
        min(h, int(np.ceil(y1 / f))),
    )


#: an edge line of the box belongs to the inset while at least this share of its scene pixels look thermal
EDGE_THERMAL = 0.75


def _to_edges(
    thermal: np.ndarray, scene: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """``box`` (x0, y0, x1, y1) grown, one line at a time, while the line beyond each side looks thermal:
    the windowed test stops about half a window short of the inset's edges."""
    x0, y0, x1, y1 = box
    h, w = thermal.shape

    def thermal_line(t: np.ndarray, s: np.ndarray) -> bool:
        n = int(s.sum())
        return n > 0 and int((t & s).sum()) >= EDGE_THERMAL * n

    grown = True
    while grown:
        grown = False
        if x0 > 0 and thermal_line(thermal[y0:y1, x0 - 1], scene[y0:y1, x0 - 1]):
            x0, grown = x0 - 1, True
        if x1 < w and thermal_line(thermal[y0:y1, x1], scene[y0:y1, x1]):
            x1, grown = x1 + 1, True
        if y0 > 0 and thermal_line(thermal[y0 - 1, x0:x1], scene[y0 - 1, x0:x1]):
            y0, grown = y0 - 1, True
        if y1 < h and thermal_line(thermal[y1, x0:x1], scene[y1, x0:x1]):
            y1, grown = y1 + 1, True
    return x0, y0, x1, y1


def photo_around(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """H×W bool: everything outside the inset ``box``."""
    x0, y0, x1, y1 = box
    out = np.ones(shape, bool)
    out[y0:y1, x0:x1] = False
    return out


def inset_note(box: tuple[int, int, int, int] | None) -> str:
    """What a temperature map's ``note`` says of a picture-in-picture ("" without one)."""
    if box is None:
        return ""
    x0, y0, x1, y1 = box
    return (
        f"picture in picture: only the thermal inset ({x0}, {y0})-({x1}, {y1}) is read as temperature, "
        "the visible-light photo around it is not"
    )
