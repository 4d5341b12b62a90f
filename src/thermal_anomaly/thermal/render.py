"""Re-rendering a picture's temperatures on one fixed scale, so learned detectors see heat, not palette.

Cameras auto-range: the same component is yellow in one shot and red in the next because the scale's
ends moved. Decoding colours back to a position on the image's own colour bar and standardising that
position by the scene's own robust spread removes the offset and most of the stretch; re-rendering the
result through one fixed colour map gives every image the same meaning for the same colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..postprocess import fill_holes, to_working, working_box
from .analysis import ThermalAnalysis, as_analysis

#: standardised temperature range mapped onto the fixed colour map (scene median at 0)
Z_RANGE = (-3.0, 7.0)
#: invalid pixels (overlays) are filled from their surroundings only when more than this share of the
#: picture is valid: with less, the fill would invent most of the image
MIN_VALID_TO_FILL = 0.3


def relative_temperature(
    image: np.ndarray | ThermalAnalysis, overlay: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Position on the image's own colour scale (0 cold .. 1 hot) and a valid-temperature mask, both at a
    decoding size of at most ``DECODE_SIDE`` px on the long side (see :meth:`ThermalAnalysis.relative`)."""
    return as_analysis(image).relative(overlay)


def standardise(pos: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(position - scene median) / robust spread, over valid pixels; invalid pixels get the median (0)."""
    vals = pos[valid] if valid.any() else pos.ravel()
    med = float(np.median(vals))
    q25, q75 = np.percentile(vals, [25, 75])
    spread = max(float(q75 - q25) / 1.349, 0.02)
    z = (pos - med) / spread
    z[~valid] = 0.0
    return z.astype(np.float32)


def _colormap() -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["inferno"](np.linspace(0, 1, 256))[:, :3].astype(np.float32)


_CMAP = _colormap()


def render_fixed_scale(
    image: np.ndarray | ThermalAnalysis, overlay: np.ndarray | None, size: int, keep_aspect: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``image`` re-rendered as standardised temperature through one colour map, at ``size``×``size``
    (``keep_aspect``: letterboxed, see :func:`~thermal_anomaly.postprocess.working_box`).

    Returns (RGB float32 in [0, 1], valid mask) — invalid pixels (and margins) are filled from their
    surroundings.
    """
    pos, valid = relative_temperature(image, overlay)
    z = standardise(pos, valid)
    lo, hi = Z_RANGE
    idx = np.clip((z - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    rgb = _CMAP[idx]
    rgb = to_working(rgb, size, cv2.INTER_AREA, keep_aspect)
    valid_s = to_working(valid.astype(np.uint8), size, cv2.INTER_NEAREST, keep_aspect) > 0
    inside = working_box(pos.shape, size, keep_aspect)[2:]
    if not valid_s.all() and valid_s.sum() > MIN_VALID_TO_FILL * inside[0] * inside[1]:
        rgb = fill_holes(rgb, valid_s)
    return rgb.astype(np.float32), valid_s


def open_disc(image: np.ndarray, k: int) -> np.ndarray:
    """Morphological opening by OpenCV's k×k ellipse, as erosions and dilations by the rectangles whose union
    the ellipse is (its rows narrow monotonically away from the centre): the same result, ~1.5x faster than
    OpenCV's generic non-rectangular kernel."""
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    c = k // 2
    widest: dict[int, int] = {}  # half-width -> largest row offset that still has it
    for dy in range(c + 1):
        cols = np.flatnonzero(se[c + dy])
        if len(cols):
            hw = int(cols.max()) - c
            widest[hw] = max(widest.get(hw, 0), dy)
    rects = [np.ones((2 * dy + 1, 2 * hw + 1), np.uint8) for hw, dy in widest.items()]
    eroded = cv2.erode(image, rects[0])
    for r in rects[1:]:
        np.minimum(eroded, cv2.erode(image, r), out=eroded)
    out = cv2.dilate(eroded, rects[0])
    for r in rects[1:]:
        np.maximum(out, cv2.dilate(eroded, r), out=out)
    return out


def _median_filled(pos: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Float32 copy of ``pos`` with invalid pixels set to the valid pixels' median (a neutral background)."""
    p = pos.astype(np.float32, copy=True)
    if valid.any() and not valid.all():
        p[~valid] = float(np.median(pos[valid]))
    return p


def local_rise(pos: np.ndarray, valid: np.ndarray, size_frac: float = 0.06) -> np.ndarray:
    """How much warmer each pixel is than its local background (white top-hat), in scale fractions.

    The background is a morphological opening with a disc of ``size_frac`` of the long side: anything
    smaller than that and warmer than its surroundings (a joint, a clamp, a short wire run) stands out,
    while large warm bodies (a sun-heated tank) are their own background. Invalid pixels (overlays,
    colours off the palette) take the scene median first and are 0 afterwards.
    """
    return _local_rise(_median_filled(pos, valid), valid, size_frac)


def _local_rise(p: np.ndarray, valid: np.ndarray, size_frac: float) -> np.ndarray:
    k = max(3, int(size_frac * max(p.shape))) | 1
    background = open_disc(p, k)
    rise = np.clip(p - background, 0, None)
    rise[~valid] = 0.0
    return rise


#: long side of the copy the component-scale background is computed on (it is smooth at that scale)
COMPONENT_SIDE = 80


def component_rise(pos: np.ndarray, valid: np.ndarray, size_frac: float = 0.25) -> np.ndarray:
    """How much warmer each pixel is than the scene around a whole component (white top-hat with a disc of
    ``size_frac`` of the long side, wider than a limb, a tank section or a bushing column).

    ``local_rise`` sees a joint against its clamp; a whole phase limb or wire run that overheats is its own
    background there. Thermographers compare such a component with the scene and its sister phases, which is
    this wider top-hat. The background is computed on a copy of ``COMPONENT_SIDE`` px and upsampled, so it
    costs ~1 ms whatever the image size.
    """
    return _component_rise(_median_filled(pos, valid), valid, size_frac)


def _component_rise(p: np.ndarray, valid: np.ndarray, size_frac: float) -> np.ndarray:
    h, w = p.shape
    s = min(1.0, COMPONENT_SIDE / max(h, w))
    small = cv2.resize(p, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    k = max(3, int(size_frac * max(small.shape))) | 1
    background = cv2.resize(open_disc(small, k), (w, h), interpolation=cv2.INTER_LINEAR)
    rise = np.clip(p - background, 0, None)
    rise[~valid] = 0.0
    return rise


#: a pixel whose component rises this much over the scene (share of the colour scale) is on a warm component
WARM_COMPONENT_RISE = 0.05


def component_excess(pos: np.ndarray, valid: np.ndarray, size_frac: float = 0.25) -> np.ndarray:
    """How much warmer each pixel's component is than the scene's typical warm component: the NETA comparison
    between similar components (one phase's limb against the others), on ``component_rise``.

    The reference is the median component rise over all warm pixels (rise ≥ ``WARM_COMPONENT_RISE``): with
    three limbs, two of them normal, that is a normal limb's level. A scene whose components are all equally
    warm (a loaded transformer in the sun) has no excess; one limb running hotter than its sisters has.
    """
    return _component_excess(_median_filled(pos, valid), valid, size_frac)


def _component_excess(p: np.ndarray, valid: np.ndarray, size_frac: float) -> np.ndarray:
    rise = _component_rise(p, valid, size_frac)
    warm = rise >= WARM_COMPONENT_RISE
    if not warm.any():
        return np.zeros_like(rise)
    return np.clip(rise - float(np.median(rise[warm])), 0, None)


def heat_evidence(
    pos: np.ndarray, valid: np.ndarray, joint_frac: float, component_frac: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """(``local_rise`` at ``joint_frac``, ``component_excess`` at ``component_frac`` or None when it is 0),
    from one median-filled copy of ``pos`` (the two used to take the scene's median each)."""
    p = _median_filled(pos, valid)
    rise = _local_rise(p, valid, joint_frac)
    return rise, (_component_excess(p, valid, component_frac) if component_frac > 0 else None)
