"""Built-in demo data: thermal-looking transformer scenes with injected hot-spot faults and exact masks.

Lets ``thermal-anomaly experiment`` run on a fresh machine with nothing downloaded. A scene is built as
a relative *temperature* field (cool background, warm tank, bushings, terminals and cables, an
occasional warm distractor), blurred like thermal optics, given sensor noise, mapped through a camera
palette and finished with a colour bar on the right edge, so detectors meet the same kinds of content as
in real exports. Faults are extra heat (a loose joint at a terminal or an overloaded cable stretch); the
mask is where that extra heat reaches at least 40 % of its peak, so it is exact by construction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .io import save_png, write_json

#: Palette control points (position, RGB): each path is monotone in brightness, as camera palettes are.
_PALETTE_POINTS: dict[str, list[tuple[float, tuple[float, float, float]]]] = {
    "iron": [
        (0.00, (0.00, 0.00, 0.05)),
        (0.15, (0.15, 0.02, 0.45)),
        (0.35, (0.55, 0.02, 0.60)),
        (0.55, (0.88, 0.22, 0.18)),
        (0.72, (0.98, 0.55, 0.02)),
        (0.88, (1.00, 0.85, 0.15)),
        (1.00, (1.00, 1.00, 0.95)),
    ],
    "rainbow": [
        (0.00, (0.05, 0.00, 0.35)),
        (0.18, (0.00, 0.15, 0.95)),
        (0.36, (0.00, 0.80, 0.95)),
        (0.52, (0.10, 0.85, 0.20)),
        (0.68, (0.95, 0.95, 0.05)),
        (0.84, (0.98, 0.35, 0.02)),
        (1.00, (1.00, 0.95, 0.95)),
    ],
}


def palette_lut(name: str, n: int = 256) -> np.ndarray:
    """The named palette as an n×3 float32 table, cold (row 0) to hot (row n-1)."""
    if name not in _PALETTE_POINTS:
        raise ValueError(f"unknown palette {name!r}; known: {', '.join(sorted(_PALETTE_POINTS))}")
    pos = np.array([p for p, _ in _PALETTE_POINTS[name]])
    rgb = np.array([c for _, c in _PALETTE_POINTS[name]])
    x = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(x, pos, rgb[:, c]) for c in range(3)], axis=1).astype(np.float32)


PALETTES = tuple(sorted(_PALETTE_POINTS))
LAYOUTS = ("pole", "pad")


@dataclass
class Scene:
    """A rendered scene with what was put in it (``render_scene`` returns only ``rgb`` and ``mask``)."""

    rgb: np.ndarray  # H×W×3 float32 in [0, 1]
    mask: np.ndarray  # H×W bool, the injected faults
    temperature: np.ndarray  # H×W float32 relative temperature actually shown (palette position)
    faults: list[dict] = field(default_factory=list)  # {"class": str, "mask": bool H×W}
    bar_x0: int = 0  # first column of the colour-bar strip


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency random field in about [-1, 1] (temperature drifts across a wall or the sky)."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) / 1.5


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 48) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _poly(canvas: np.ndarray, pts: np.ndarray, value: float, thickness: int) -> None:
    cv2.polylines(canvas, [np.round(pts).astype(np.int32)], False, float(value), thickness, cv2.LINE_8)


def _render(rng: np.random.Generator, size: tuple[int, int], fault: bool, palette: str, layout: str) -> Scene:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    h, w = int(size[0]), int(size[1])
    if h < 16 or w < 16:
        raise ValueError(f"size must be at least 16x16, got {size}")
    s = float(min(h, w))
    lut = palette_lut(palette)
    bar_w = max(3, round(0.035 * w))
    strip_x0 = w - bar_w - max(2, round(0.02 * w)) * 2  # UI strip: black margin + bar + margin

    # Viewpoint jitter: one similarity transform applied to every scene point (fractions of W, H).
    zoom = rng.uniform(0.93, 1.07)
    shift = rng.uniform(-0.035, 0.035, 2) * s
    centre = np.array([0.45 * w, 0.55 * h])

    def pt(fx: float, fy: float) -> np.ndarray:
        return centre + zoom * (np.array([fx * w, fy * h]) - centre) + shift

    def px(frac: float) -> int:
        return max(1, round(frac * s * zoom))

    load = rng.uniform(-0.05, 0.05)  # electrical load: every current-carrying part warmer or cooler
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]

    # Background: cooler sky above, warmer ground below, slow drifts.
    temp = 0.10 + 0.10 * yy + 0.025 * _smooth_noise(rng, h, w, 5) + np.zeros((1, w), np.float32)
    if layout == "pole":
        pole_x = pt(0.45 + rng.uniform(-0.01, 0.01), 0)[0]
        cv2.rectangle(temp, (round(pole_x - px(0.03)), 0), (round(pole_x + px(0.03)), h), 0.24, -1)
        tank_c, tank_wh, n_fins = (0.42, 0.60), (0.36, 0.30), 0
    else:
        ground = round(pt(0, 0.88)[1])
        temp[ground:] = np.float32(0.22)
        tank_c, tank_wh, n_fins = (0.42, 0.62), (0.50, 0.30), 7

    # Tank: warmest at the top where the hot oil collects; radiator fins a little cooler.
    x0, y0 = pt(tank_c[0] - tank_wh[0] / 2, tank_c[1] - tank_wh[1] / 2)
    x1, y1 = pt(tank_c[0] + tank_wh[0] / 2, tank_c[1] + tank_wh[1] / 2)
    body = np.zeros((h, w), np.uint8)
    cv2.rectangle(body, (round(x0), round(y0)), (round(x1), round(y1)), 1, -1)
    top_warmth = rng.uniform(0.06, 0.16)
    grad = np.clip((yy - y0 / h) / max((y1 - y0) / h, 1e-3), 0, 1)
    tank_temp = 0.48 + load + top_warmth * (1 - grad) + 0.015 * _smooth_noise(rng, h, w, 4)
    temp = np.where(body > 0, tank_temp, temp)
    for k in range(n_fins):
        fx = x0 + (k + 0.5) * (x1 - x0) / n_fins
        cv2.line(
            temp, (round(fx), round(y0 + 0.15 * (y1 - y0))), (round(fx), round(y1)), 0.40 + load, px(0.012)
        )

    # Bushings with terminal caps, and the cables leaving them.
    spread = tank_wh[0] * rng.uniform(0.26, 0.32)
    terminals, cables = [], []
    bush_h = 0.13 if layout == "pole" else 0.10
    for k, dx in enumerate((-spread, 0.0, spread)):
        bx = tank_c[0] + dx
        base = pt(bx, tank_c[1] - tank_wh[1] / 2)
        top = pt(bx, tank_c[1] - tank_wh[1] / 2 - bush_h)
        cv2.rectangle(
            temp, (round(top[0] - px(0.016)), round(top[1])), (round(base[0] + px(0.016)), round(base[1])),
            0.52 + load, -1,
        )  # fmt: skip
        cap = top - np.array([0.0, px(0.012)])
        cv2.circle(temp, tuple(np.round(cap).astype(int)), px(0.024), 0.56 + load, -1)
        terminals.append(cap)
        end = np.array([cap[0] + (k - 1) * rng.uniform(0.08, 0.2) * w + rng.uniform(-0.04, 0.04) * w, -2.0])
        mid = np.array(
            [(cap[0] + end[0]) / 2 + rng.uniform(-0.05, 0.05) * w, cap[1] * rng.uniform(0.35, 0.6)]
        )
        cable = _bezier(cap, mid, end)
        _poly(temp, cable, 0.44 + load, px(0.013))
        cables.append(cable)

    # A warm distractor in half the scenes, normal or not: a sunlit patch or a lamp, as hot as some faults.
    if rng.random() < 0.5:
        lx, ly = rng.uniform(0.08, 0.25) * w, rng.uniform(0.15, 0.85) * h
        cv2.circle(temp, (round(lx), round(ly)), px(rng.uniform(0.02, 0.045)), rng.uniform(0.65, 0.93), -1)

    sigma = max(0.6, 0.005 * s)  # thermal optics are soft
    temp = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), sigma)

    # Faults: extra heat, blurred by the same optics, masked where it reaches 40 % of its own peak.
    faults = []
    if fault:
        n_faults = 1 if rng.random() < 0.6 else 2
        sites = rng.permutation(3)[:n_faults]
        for site in sites:
            heat = np.zeros((h, w), np.float32)
            if rng.random() < 0.6:
                cls = "loose_joint_red"
                c = terminals[site] + rng.uniform(-0.5, 0.5, 2) * px(0.015)
                cv2.circle(heat, tuple(np.round(c).astype(int)), px(rng.uniform(0.018, 0.03)), 1.0, -1)
            else:
                cls = "point_overload_red"
                cable = cables[site]
                a = int(rng.integers(2, 10))
                b = a + int(rng.integers(8, 16))
                _poly(heat, cable[a:b], 1.0, px(0.016))
            heat = cv2.GaussianBlur(heat, (0, 0), sigma * 1.5)
            peak = float(heat.max())
            if peak <= 0:
                continue
            region = heat >= 0.4 * peak
            local = float(np.median(temp[region]))
            rise = min(rng.uniform(0.30, 0.42), 0.99 - local)  # clearly hotter than where it sits
            temp = temp + heat / peak * rise
            faults.append({"class": cls, "mask": region})

    # Sensor noise: white noise plus faint column stripes (fixed-pattern noise of microbolometers).
    temp = temp + rng.normal(0, 0.008, (h, w)) + rng.normal(0, 0.003, (1, w))
    temp = np.clip(temp, 0.0, 1.0).astype(np.float32)

    idx = np.round(temp * (len(lut) - 1)).astype(np.int32)
    rgb = lut[idx]
    # Camera UI on the right edge: black strip with the colour bar (hot at the top).
    rgb[:, strip_x0:] = 0.0
    temp[:, strip_x0:] = 0.0
    bar_top, bar_bot = round(0.1 * h), round(0.9 * h)
    ramp = np.linspace(1.0, 0.0, max(bar_bot - bar_top, 1))
    bx0 = strip_x0 + (w - strip_x0 - bar_w) // 2
    rgb[bar_top:bar_bot, bx0 : bx0 + bar_w] = lut[np.round(ramp * (len(lut) - 1)).astype(int)][:, None, :]
    temp[bar_top:bar_bot, bx0 : bx0 + bar_w] = ramp[:, None]
    rgb[max(bar_top - 3, 0) : max(bar_top - 1, 0), bx0 : bx0 + bar_w] = 1.0  # tick marks for max / min
    rgb[bar_bot + 1 : bar_bot + 3, bx0 : bx0 + bar_w] = 1.0

    mask = np.zeros((h, w), bool)
    for f in faults:
        f["mask"][:, strip_x0:] = False
        mask |= f["mask"]
    faults = [f for f in faults if f["mask"].any()]
    return Scene(rgb=np.ascontiguousarray(rgb, np.float32), mask=mask, temperature=temp, faults=faults,
                 bar_x0=strip_x0)  # fmt: skip


def render_scene(
    rng: np.random.Generator | int,
    size: tuple[int, int] = (256, 256),
    fault: bool = False,
    *,
    palette: str = "iron",
    layout: str = "pole",
) -> tuple[np.ndarray, np.ndarray]:
    """One thermal-looking transformer scene: (H×W×3 float32 RGB in [0, 1], H×W bool fault mask).

    ``size`` is (height, width). With ``fault=True`` one or two hot spots are injected and the mask is
    non-empty; otherwise the mask is all False.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    scene = _render(rng, size, fault, palette, layout)
    if fault and not scene.mask.any():  # a fault pushed under the UI strip: render again, still seeded
        return render_scene(rng, size, fault, palette=palette, layout=layout)
    return scene.rgb, scene.mask


def _polygons(mask: np.ndarray, cls: str) -> list[dict]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [
        {"class": cls, "polygon": [[float(x), float(y)] for x, y in c[:, 0, :]]}
        for c in contours
        if len(c) >= 3
    ]


#: the demo's assets: (folder, palette, layout)
DEMO_ASSETS = (("T1", "iron", "pole"), ("T2", "rainbow", "pad"))


def make_demo_dataset(
    root: str | os.PathLike,
    n_normal: int = 24,
    n_faulty: int = 12,
    size: tuple[int, int] = (256, 256),
    seed: int = 0,
) -> Path:
    """Write a small dataset in the development layout and return its root.

    ``T1`` (iron palette, pole-mounted) and ``T2`` (rainbow palette, pad-mounted) each get about half of
    the images: ``T*/normal/*.png``, ``T*/faulty/*.png``, ``masks/T*/faulty/<stem>.png`` (0/255) and an
    ``annotations.json`` with the fault outlines. The same arguments always give the same files.
    """
    if n_normal < 0 or n_faulty < 0:
        raise ValueError("n_normal and n_faulty must not be negative")
    root = Path(root)
    annotations: dict[str, list[dict]] = {}
    n_assets = len(DEMO_ASSETS)
    for a, (group, palette, layout) in enumerate(DEMO_ASSETS):
        for label, kind, total in ((0, "normal", n_normal), (1, "faulty", n_faulty)):
            count = total // n_assets + (1 if a < total % n_assets else 0)
            for i in range(count):
                rng = np.random.default_rng([seed, a, label, i])
                scene = _render(rng, size, bool(label), palette, layout)
                while label and not scene.mask.any():
                    scene = _render(rng, size, True, palette, layout)
                name = f"{group}_{kind}_{i + 1:03d}"
                save_png(root / group / kind / f"{name}.png", scene.rgb)
                rel = f"{group}/{kind}/{name}.png"
                annotations[rel] = [p for f in scene.faults for p in _polygons(f["mask"], f["class"])]
                if label:
                    save_png(root / "masks" / group / kind / f"{name}.png", scene.mask)
    write_json(root / "annotations.json", annotations)
    return root
