"""Camera measurement markers drawn inside the scene, as a mask of their strokes (``overlays.overlay_mask``).

Cameras draw their measurement UI over the scene: spot meters (a crosshair, or a small ring with four ticks,
often in a colour such as FLIR's red max-temperature marker) and measurement boxes (thin L-shaped corner
brackets). Their strokes decode as whatever the palette says their colour is (red and white are the hot end
of a rainbow palette) and draw the anomaly map to them.

They are found by shape, for any camera and any stroke colour: ink is what differs sharply from the median
of a small window around it (strokes a few pixels wide; heat is blurred by the optics into wider bodies),
and only ink forming a marker's shape is kept:

- a crosshair: four straight arms around one point (``readouts.crosshairs_in``, the spot-read-out finder's);
- a ring with ticks: ink on an ellipse all round, and short strokes off it at its four cardinal points only;
- corner brackets: L-shaped corners whose arms meet at their ends, three or four of them on one rectangle.

Only the strokes (a pixel or two grown) are masked: the scene inside a ring or a box is still analysed.
"""

from __future__ import annotations

import cv2
import numpy as np

from .palette import to_u8
from .readouts import _line_masks, crosshairs_in

#: ink: a channel differs from the median of a window of INK_RADIUS_640 px (at 640 px) around it by more
#: than INK_DIFF (0-255): strokes 1-3 px wide stand out, blurred scene bodies follow their own median
INK_RADIUS_640 = 3
INK_DIFF = 40
#: a ring's diameter, share of the picture's shorter side
RING_MIN, RING_MAX = 0.03, 0.2
#: straight level/plumb runs longer than LINE_CUT of the shorter side (a box's edges and brackets, a line
#: tool) are cut away before rings are looked for: a ring drawn touching them is then a ring of its own
LINE_CUT = 0.05
#: ring pixels lie within RING_BAND_PX of the fitted ellipse (strokes are 1-3 px wide), ...
RING_BAND_PX = 2.5
#: ... cover at least RING_COVER of the 5-degree sectors around it, and make up at least RING_SHARE of its ink
#: off straight runs (RING_SHARE_ALL of all of it)
RING_COVER = 0.85
RING_SHARE = 0.55
RING_SHARE_ALL = 0.5
#: a ring is round, or an ellipse no more elongated than this (a round marker on a picture stretched to
#: another aspect ratio: 4:3 shown square is 1.33)
RING_ASPECT = 1.6
#: ticks: ink off the ring (to 0.5 / 1.6 of its radius) within TICK_SIDE px (+ a tenth of the radius) of
#: the level or plumb line through its centre, at least TICK_PX of the radius (2 px or more) at three or four of its cardinal
#: points; other ink in and around the ring at most STRAY_SHARE of the ring's
TICK_SIDE = 1.5
TICK_PX = 0.15
STRAY_SHARE = 0.3
#: one stroke colour: this share of a marker's ink within STROKE_COLOUR (max channel, 0-255) of its median
STROKE_COLOUR = 80
COLOUR_SHARE = 0.5
#: a bracket's arms: at least BRACKET_MIN (share of the shorter side, at least 5 px) long, ends meeting within
#: CORNER_PX; corners on one rectangle within CORNER_PX of its sides, arms of like length (shortest at least
#: BRACKET_LIKE of the longest)
BRACKET_MIN = 0.012
CORNER_PX = 3
BRACKET_LIKE = 0.5
#: a measurement box is at least BOX_MIN of the shorter side across
BOX_MIN = 0.1
#: strokes are grown by this many px (at 640 px) for their anti-aliased rims
GROW_640 = 2


def marker_strokes(small: np.ndarray) -> np.ndarray:
    """Bool mask of the strokes of measurement markers in ``small`` (float RGB, the overlay working copy)."""
    u8 = to_u8(small)
    h, w = u8.shape[:2]
    ink = colour_ink(u8)
    out = crosshair_strokes(ink) | ring_strokes(ink, u8) | bracket_strokes(ink, u8)
    g = max(1, round(GROW_640 * max(h, w) / 640))
    return cv2.dilate(out.view(np.uint8), np.ones((2 * g + 1, 2 * g + 1), np.uint8)) > 0


def colour_ink(u8: np.ndarray) -> np.ndarray:
    """uint8 0/1: pixels one of whose channels differs sharply from the window median (thin strokes)."""
    h, w = u8.shape[:2]
    r = max(2, round(INK_RADIUS_640 * max(h, w) / 640))
    med = cv2.medianBlur(np.ascontiguousarray(u8), 2 * r + 1)
    c0, c1, c2 = cv2.split(cv2.absdiff(u8, med))
    return (cv2.max(cv2.max(c0, c1), c2) > INK_DIFF).view(np.uint8)


def crosshair_strokes(ink: np.ndarray) -> np.ndarray:
    """Crosshairs' arms and the ink at their centre (a small circle or dot in the gap between the arms).

    Only the arms and that centre: scene edges that touch an arm (a blade, a bright streak) stay scene.
    """
    found, arms = crosshairs_in(ink)
    h, w = ink.shape
    for m in found:
        r = int(np.ceil(m.gap / 2)) + 2
        y0, y1 = max(0, int(m.y) - r), min(h, int(m.y) + r + 2)
        x0, x1 = max(0, int(m.x) - r), min(w, int(m.x) + r + 2)
        arms[y0:y1, x0:x1] |= ink[y0:y1, x0:x1] > 0
    return arms


def _long_lines(ink: np.ndarray, length: int) -> np.ndarray:
    """Level or plumb runs of ink longer than ``length`` (box outlines, scene edges): cut off rings. A run
    may have one-pixel breaks (a thin line resampled or JPEG-compressed)."""
    out = np.zeros(ink.shape, np.uint8)
    for along, bridge in (((length, 1), (1, 3)), ((1, length), (3, 1))):
        joined = cv2.dilate(ink, np.ones(bridge, np.uint8))  # along the run: closes one-pixel breaks
        out |= cv2.morphologyEx(joined, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along))
    return (out & ink) > 0


def ring_strokes(ink: np.ndarray, u8: np.ndarray) -> np.ndarray:
    """Rings with ticks: components of ink (long straight lines cut away) on an ellipse all round, of one
    colour, with short strokes just off it at three or four of its cardinal points."""
    h, w = ink.shape
    side = min(h, w)
    lo, hi = max(6, int(RING_MIN * side)), int(RING_MAX * side)
    work = ink & ~_long_lines(ink, max(lo, int(LINE_CUT * side))).view(np.uint8)
    # shorter straight runs (another tool's lines cut where they cross the ring) are no stray ink either
    straight = _long_lines(work, max(lo, int(LINE_CUT * side)) // 2)
    # a stroke broken by JPEG noise or a crossing line is one stroke: pieces within 2 px join
    joined = cv2.dilate(work, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out = np.zeros((h, w), bool)
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if not lo <= max(bw, bh) <= hi or max(bw, bh) > 2.5 * min(bw, bh) or area < 20:
            continue
        sub = (lab[y : y + bh, x : x + bw] == i) & (work[y : y + bh, x : x + bw] > 0)
        ellipse = _ring_fit(sub, straight[y : y + bh, x : x + bw]) if sub.sum() >= 20 else None
        if ellipse is None or not _one_colour(u8[y : y + bh, x : x + bw][sub]):
            continue
        # ticks: ink around the ring, in a window half a ring larger on every side
        y0, y1, x0, x1 = (
            max(0, y - bh // 2),
            min(h, y + bh + bh // 2),
            max(0, x - bw // 2),
            min(w, x + bw + bw // 2),
        )
        cx, cy, a, b = ellipse
        ticks = _ticks(work[y0:y1, x0:x1] > 0, straight[y0:y1, x0:x1], cx + x - x0, cy + y - y0, a, b)
        if ticks is not None:
            out[y : y + bh, x : x + bw] |= sub
            out[y0:y1, x0:x1] |= ticks
    return out


def _ring_fit(sub: np.ndarray, straight: np.ndarray) -> tuple[float, float, float, float] | None:
    """(cx, cy, a, b) of the level ellipse most of the component's pixels lie on, all round (a ring drawn on
    a picture stretched to another aspect ratio is an ellipse), or None for a filled blob, an arc or an
    outline that is no ellipse. A robust fit: other strokes touching the ring (a box's edge) do not pull it,
    and ``straight`` runs off the ring (another tool's lines) do not count against it."""
    ys, xs = np.nonzero(sub)
    loose = ~straight[ys, xs]
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    best = _ellipse_ransac(xs, ys, loose)
    if best is None:
        return None
    cx, cy, a, b = best
    band = RING_BAND_PX / min(a, b)
    on = np.abs(np.hypot((xs - cx) / a, (ys - cy) / b) - 1.0) <= band
    if (
        max(a, b) > RING_ASPECT * min(a, b)
        or on.mean() < RING_SHARE_ALL
        or on.sum() < RING_SHARE * (on | loose).sum()
    ):
        return None
    sector = (np.degrees(np.arctan2(ys[on] - cy, xs[on] - cx)) // 5).astype(np.int64) % 72
    if (np.bincount(sector, minlength=72) > 0).mean() < RING_COVER:
        return None
    return best


def _ellipse_through(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Level ellipses A x^2 + C y^2 + D x + E y = 1 through point sets (``xs``, ``ys``: n x k, k >= 4; least
    squares when k > 4), as rows (cx, cy, a, b); NaN where the conic is no ellipse."""
    m = np.stack([xs**2, ys**2, xs, ys], -1)  # n x k x 4
    mt = np.swapaxes(m, 1, 2)
    with np.errstate(all="ignore"):
        # a whisker of ridge keeps degenerate sets (repeated or collinear points) solvable; they fit nothing
        ata = mt @ m + 1e-9 * np.eye(4)
        A, C, D, E = np.linalg.solve(ata, mt.sum(axis=2, keepdims=True))[..., 0].T
        cx, cy = -D / (2 * A), -E / (2 * C)
        k = 1 + A * cx**2 + C * cy**2
        a, b = np.sqrt(k / A), np.sqrt(k / C)
    out = np.stack([cx, cy, a, b], 1)
    out[~((A > 0) & (C > 0) & (k > 0))] = np.nan
    return out


#: RANSAC trials for a ring's ellipse (4 points each)
RANSAC_TRIALS = 150


def _ellipse_ransac(
    xs: np.ndarray, ys: np.ndarray, loose: np.ndarray
) -> tuple[float, float, float, float] | None:
    """The level ellipse (cx, cy, a, b) that the pixels cover most of the way round (then: most pixels on
    it), refitted to them; None if none fits. Sampled from the ``loose`` pixels (off straight runs)."""
    n = len(xs)
    pool = np.flatnonzero(loose)
    if n < 8 or len(pool) < 8:
        return None
    ox, oy = xs.mean(), ys.mean()
    scale = max(xs.std(), ys.std(), 1.0)
    u, v = (xs - ox) / scale, (ys - oy) / scale
    idx = pool[np.random.default_rng(0).integers(0, len(pool), (RANSAC_TRIALS, 4))]
    hyp = _ellipse_through(u[idx], v[idx])
    ok = np.isfinite(hyp).all(1) & (hyp[:, 2] > 2 / scale) & (hyp[:, 3] > 2 / scale)
    if not ok.any():
        return None
    hyp = hyp[ok]
    cx, cy, a, b = (hyp[:, i : i + 1] for i in range(4))
    r = np.hypot((u[None] - cx) / a, (v[None] - cy) / b)
    inl = np.abs(r - 1.0) <= RING_BAND_PX / (np.minimum(a, b) * scale)
    # coverage: 5-degree bins around the centre holding an inlier (a line's pixels crowd into a few)
    sector = (np.degrees(np.arctan2(v[None] - cy, u[None] - cx)) // 5).astype(np.int64) % 72
    rows = np.repeat(np.arange(len(hyp))[:, None], n, 1)
    covered = np.zeros((len(hyp), 72), bool)
    covered[rows[inl], sector[inl]] = True
    best = int(np.argmax(covered.sum(1) * (n + 1) + inl.sum(1)))
    keep = inl[best]
    fit = _ellipse_through(u[keep][None], v[keep][None])[0]
    if not np.isfinite(fit).all():
        fit = hyp[best]
    fcx, fcy, fa, fb = fit
    return float(ox + fcx * scale), float(oy + fcy * scale), float(fa * scale), float(fb * scale)


def _ticks(
    ink: np.ndarray, straight: np.ndarray, cx: float, cy: float, a: float, b: float
) -> np.ndarray | None:
    """The tick strokes of a ring (centre ``cx, cy``, semi-axes ``a, b`` in ``ink``'s pixels): ink just
    outside or inside it on the level and plumb lines through its centre, at three or four of its cardinal
    points, with little other ink (``straight`` runs aside) in and around it; None when there are none."""
    counts, stray, ring_px, keep = _tick_counts(ink, straight, cx, cy, a, b)
    if int((counts >= max(2, round(TICK_PX * min(a, b)))).sum()) < 3 or stray > STRAY_SHARE * ring_px:
        return None
    return keep


def _tick_counts(
    ink: np.ndarray, straight: np.ndarray, cx: float, cy: float, a: float, b: float
) -> tuple[np.ndarray, int, int, np.ndarray]:
    """(tick pixels at right, bottom, left, top; stray pixels; ring pixels; tick mask) around a ring.

    A tick pixel lies off the ring (to 0.5 / 1.6 of its radius) within TICK_SIDE px (+ a tenth of the
    radius) of the level or plumb line through the centre; stray pixels are all other ink off the ring,
    its inside included (a marker frames smooth scene; speckle or branches around a dark gap do not)."""
    ys, xs = np.nonzero(ink)
    dx, dy = xs - cx, ys - cy
    r = np.hypot(dx / a, dy / b)
    band = RING_BAND_PX / min(a, b)
    on = np.abs(r - 1.0) <= band
    zone = ((r > 1.0 + band) & (r <= 1.6)) | ((r < 1.0 - band) & (r >= 0.5))
    level = np.abs(dy) <= TICK_SIDE + 0.1 * b  # on the level line: left/right ticks
    plumb = np.abs(dx) <= TICK_SIDE + 0.1 * a
    tick = zone & (level ^ plumb)
    side = np.where(level, np.where(dx > 0, 0, 2), np.where(dy > 0, 1, 3))
    counts = np.bincount(side[tick], minlength=4)
    stray = int(((r <= 1.6) & ~on & ~tick & ~straight[ys, xs]).sum())
    keep = np.zeros(ink.shape, bool)
    keep[ys[tick], xs[tick]] = True
    return counts, stray, int(on.sum()), keep


def _one_colour(colours: np.ndarray) -> bool:
    """Whether most of a marker's ink is one colour (drawn UI), not the many colours of a scene's edges."""
    if len(colours) == 0:
        return False
    med = np.median(colours, axis=0)
    close = np.abs(colours.astype(np.int16) - med).max(axis=1) <= STROKE_COLOUR
    return bool(close.mean() >= COLOUR_SHARE)


def _segments(mask: np.ndarray, level: bool) -> np.ndarray:
    """(x0, y0, x1, y1) of each straight run's box (inclusive), from the components of a line mask."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    s = stats[1:, :4].astype(np.int64)
    out = np.stack([s[:, 0], s[:, 1], s[:, 0] + s[:, 2] - 1, s[:, 1] + s[:, 3] - 1], 1)
    # a run's own thickness is small across it; keep those long along it
    along = s[:, 2] if level else s[:, 3]
    across = s[:, 3] if level else s[:, 2]
    return out[along > 2 * across]


def _corners(hs: np.ndarray, vs: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """L-shaped corners: (kind, x, y, level run index, plumb run index) where a level run's end meets a
    plumb run's end. kind: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right (where the corner is on
    its rectangle)."""
    out = []
    if len(hs) == 0 or len(vs) == 0:
        return out
    for kind, (hx, vy) in enumerate(((0, 1), (2, 1), (0, 3), (2, 3))):
        # level run's left (0) or right (2) end, plumb run's top (1) or bottom (3) end
        hxe = hs[:, hx][:, None]
        hy = ((hs[:, 1] + hs[:, 3]) / 2)[:, None]
        vx = ((vs[:, 0] + vs[:, 2]) / 2)[None, :]
        vye = vs[:, vy][None, :]
        meet = (np.abs(hxe - vx) <= CORNER_PX) & (np.abs(hy - vye) <= CORNER_PX)
        for i, j in zip(*np.nonzero(meet), strict=True):
            out.append((kind, int(vx[0, j]), int(hy[i, 0]), int(i), int(j)))
    return out


def bracket_strokes(ink: np.ndarray, u8: np.ndarray) -> np.ndarray:
    """Corner brackets of measurement boxes: three or four L-corners on one rectangle, arms of like length
    and one colour, the arms not joined (a bracket, not a scene's closed outline)."""
    h, w = ink.shape
    length = max(5, int(round(BRACKET_MIN * min(h, w))))
    thick = int(round(0.01 * min(h, w))) + 2
    hor, ver = _line_masks(ink, length, thick)
    hs, vs = _segments(hor, True), _segments(ver, False)
    corners = _corners(hs, vs)
    out = np.zeros((h, w), bool)
    by_kind: list[list[tuple[int, int, int, int, int]]] = [[], [], [], []]
    for c in corners:
        by_kind[c[0]].append(c)
    for tl in by_kind[0] + by_kind[3]:
        box = _rectangle(tl, by_kind, hs, vs, BOX_MIN * min(h, w))
        if box is not None and _one_colour(_stroke_colours(box, hs, vs, u8)):
            for _, _, _, i, j in box:
                x0, y0, x1, y1 = hs[i]
                out[y0 : y1 + 1, x0 : x1 + 1] |= hor[y0 : y1 + 1, x0 : x1 + 1]
                x0, y0, x1, y1 = vs[j]
                out[y0 : y1 + 1, x0 : x1 + 1] |= ver[y0 : y1 + 1, x0 : x1 + 1]
    return out


def _rectangle(
    seed: tuple[int, int, int, int, int],
    by_kind: list[list[tuple[int, int, int, int, int]]],
    hs: np.ndarray,
    vs: np.ndarray,
    least: float,
) -> list[tuple[int, int, int, int, int]] | None:
    """The corners on one rectangle with ``seed`` (a top-left or bottom-right corner), when three or four
    are found with arms of like length that do not reach half-way along its sides, the rectangle at least
    ``least`` px across; else None."""
    kind, sx, sy = seed[:3]
    # the other corners share the seed's x or y: top-left (x0, y0) -> top-right (?, y0), bottom-left (x0, ?)
    pick = []
    for k in range(4):
        if k == kind:
            pick.append(seed)
            continue
        same_x = (k % 2) == (kind % 2)  # 0/2 on the left side, 1/3 on the right
        same_y = (k // 2) == (kind // 2)  # 0/1 on top, 2/3 at the bottom
        cands = [
            c
            for c in by_kind[k]
            if (not same_x or abs(c[1] - sx) <= CORNER_PX)
            and (not same_y or abs(c[2] - sy) <= CORNER_PX)
            and (same_x or (c[1] > sx) == (kind % 2 == 0))
            and (same_y or (c[2] > sy) == (kind // 2 == 0))
        ]
        pick.append(cands[0] if len(cands) == 1 else None)
    found = [c for c in pick if c is not None]
    if len(found) < 3:
        return None
    xs = [c[1] for c in found]
    ys = [c[2] for c in found]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    if min(width, height) < least:
        return None  # a measurement box frames a part of the scene; tiny L-pairs are scene texture
    arms_h = [hs[c[3], 2] - hs[c[3], 0] + 1 for c in found]
    arms_v = [vs[c[4], 3] - vs[c[4], 1] + 1 for c in found]
    if max(arms_h) >= width / 2 or max(arms_v) >= height / 2:
        return None  # arms joined: a closed outline, which a scene's edges can make too
    if min(arms_h) < BRACKET_LIKE * max(arms_h) or min(arms_v) < BRACKET_LIKE * max(arms_v):
        return None
    # the fourth corner, when missing, must not be contradicted: nothing to check (hidden under a label)
    return found


def _stroke_colours(
    box: list[tuple[int, int, int, int, int]], hs: np.ndarray, vs: np.ndarray, u8: np.ndarray
) -> np.ndarray:
    """The colours along the arms of a rectangle's corners (their middle lines)."""
    cols = []
    for _, _, _, i, j in box:
        x0, y0, x1, y1 = hs[i]
        cols.append(u8[(y0 + y1) // 2, x0 : x1 + 1])
        x0, y0, x1, y1 = vs[j]
        cols.append(u8[y0 : y1 + 1, (x0 + x1) // 2])
    return np.concatenate(cols, 0)
