"""The side-by-side picture of a comparison (``<name>.baseline.png``): the baseline brought into the
inspection's frame, the inspection, and the rise since the baseline, with the regions that warmed boxed
on the last two, so a person sees at once whether the alignment holds and what changed."""

from __future__ import annotations

import os

import cv2
import numpy as np
from PIL import Image

from ..visualize import PANEL_BOX, Panel, compose, draw_labelled, fit_size, resize_to, save_png, to_uint8
from .reference import BaselineOutcome, _rise_text

#: diverging colours of the rise: blue cooler, red warmer than the baseline
RISE_CMAP = "coolwarm"
#: the rise scale's ends: ±this (°C), or ±this share of a relative scale's span
RISE_SPAN_C = 10.0
RISE_SPAN_REL = 0.2
#: regions boxed and labelled (largest rise first)
MAX_BOXES = 8
BOX_COLOR = (255, 255, 0)


def baseline_picture(inspection_rgb: np.ndarray, outcome: BaselineOutcome, title: str = "") -> Image.Image:
    """The three panels of an aligned comparison (``outcome.aligned`` must be True)."""
    from ..visualize import colorize

    if not outcome.aligned:
        raise ValueError("a baseline picture needs an aligned comparison")
    ref, reg, cmp = outcome.reference, outcome.registration, outcome.comparison
    assert ref is not None and reg is not None and cmp is not None and cmp.difference is not None
    h, w = reg.inspection_shape
    size = fit_size((h, w), PANEL_BOX, upscale=True)
    base = to_uint8(ref.analysis.rgb)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # dst(x) = baseline(H x), H: inspection -> baseline
    warped = cv2.warpPerspective(base, reg.homography, (w, h), flags=flags, borderValue=(128, 128, 128))
    span = RISE_SPAN_C if cmp.unit == "C" else RISE_SPAN_REL
    rise = colorize(cmp.difference, -span, span, RISE_CMAP)
    items = [(r.box, _rise_text(r.max_rise, cmp.unit), BOX_COLOR) for r in cmp.regions[:MAX_BOXES]]
    scale_px = size[0] / w
    small = [([round(v * scale_px) for v in box], text, col) for box, text, col in items]
    unit = "°C" if cmp.unit == "C" else "relative"
    worst = f", max {_rise_text(cmp.regions[0].max_rise, cmp.unit)}" if cmp.regions else ", nothing warmed"
    residual = f", {reg.residual:.1f} px" if np.isfinite(reg.residual) else ""
    panels = [
        Panel(f"baseline {ref.label} ({reg.inliers} inliers{residual})", resize_to(warped, size)),
        Panel("inspection", draw_labelled(resize_to(to_uint8(inspection_rgb), size), small)),
        Panel(
            f"rise since baseline{worst}",
            draw_labelled(resize_to(rise, size), [(b, "", c) for b, _t, c in small]),
            (RISE_CMAP, -span, span, f"{unit}, uniform change {cmp.offset:+.1f} taken out"),
        ),
    ]
    return compose(panels, 3, title, size)


def save_baseline_picture(
    path: str | os.PathLike, inspection_rgb: np.ndarray, outcome: BaselineOutcome, title: str = ""
) -> None:
    """:func:`baseline_picture` written atomically as PNG."""
    save_png(path, baseline_picture(inspection_rgb, outcome, title))
