"""Aligning an inspection image to a baseline image of the same asset.

Two shots of one transformer months apart differ in viewpoint (a step to the side, a zoom), in colour
scale (the camera auto-ranges, or another palette was chosen) and in what is warm. Colours therefore do not
match, but the *order* of temperatures within each scene mostly does: the tank stays warmer than the sky.
Features are found on each image's temperature map ranked within itself (contrast-limited histogram
equalisation over its valid pixels), which is nearly unchanged by a monotonic change of scale or palette;
camera overlays (logo, bar, text) stay in the frame while the scene moves, so they are left out of the
keypoints and of the refinement.

Keypoints (ORB, then SIFT when ORB does not align: OpenCV 5 keeps AKAZE in contrib) are matched, a
homography is fitted robustly (MAGSAC; a similarity when the inliers cover too little of the picture to pin
a tilt), then refined by ECC where that converges, stays near, keeps the feature inliers and raises the
correlation. Every result carries its evidence (inliers, their share and spread, residual, correlation,
overlap) and a verdict: aligned, or not aligned with the reason. A pair that does not pass is never given a
homography: a wrong alignment would invent differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..postprocess import fill_holes
from ..thermal.analysis import ThermalAnalysis, as_analysis

#: long side of the working copies: enough detail for joints and bushings, fast on a shared CPU
WORK_SIDE = 640
#: working sizes tried in turn: 640 px, then 320 px, where a blurry scene has corners again (measured on
#: the development pairs of one blurry view: 0 -> 10 of 30 faulty-on-normal pairs aligned)
WORK_SIDES = (WORK_SIDE, WORK_SIDE // 2)
#: blur (px) before the gradients that test the alignment: JPEG noise is no structure
EDGE_SIGMA = 1.5
#: equalisation bins, and the most a bin may hold as a multiple of an even share: a flat region (night
#: sky, lab background) keeps a limited share of the grey range instead of its noise being stretched
HIST_BINS = 256
EQUALISE_CLIP = 3.0
#: keypoints closer than this to an invalid pixel (overlay, image edge) are dropped: their patch sees
#: the overlay's edge, which does not move with the scene
EDGE_MARGIN = 4
#: ORB's FAST corner threshold: thermal scenes are smooth, OpenCV's default (20) finds too few
ORB_FAST_THRESHOLD = 7
#: keypoints kept per image (strongest first): more only adds ambiguous matches and time
MAX_KEYPOINTS = 4000
#: Lowe's ratio test: a match must be clearly better than the second best
RATIO = 0.8
#: MAGSAC inlier threshold in working pixels
RANSAC_THRESHOLD = 3.0
#: fewest inliers for an alignment; chance matches between different scenes give a few (measured on
#: the dev set's pairs of different transformers: at most ~10)
MIN_INLIERS = 20
#: a homography whose inliers span less of the picture than this (convex hull) is replaced by a similarity:
#: its tilt would be a guess outside them (measured: a re-shot whose inliers all sat on the tank, 5 % of
#: the picture, had a 28 px corner error as a homography)
MIN_SPREAD_HOMOGRAPHY = 0.15
#: smallest share of the ratio-tested matches that are inliers: blurry scenes give many ambiguous
#: matches, so the inlier count carries the evidence and this only stops a count drowned in noise
MIN_INLIER_RATIO = 0.08
#: smallest correlation of the two ranked maps over the overlap once aligned: the same scene correlates
#: well even after a load change (measured pairs of one transformer ≥ 0.89), a wrong fit less (one
#: transformer's picture fitted onto another's at the wrong scale: 0.67)
MIN_CORRELATION = 0.75
#: feature kinds tried in turn: ORB (fast, sharp scenes), then SIFT (blob-like, holds on blurry ones)
FEATURES = ("orb", "sift")
#: the inspection may be at most this much larger or smaller than the baseline (a zoom step)
MAX_SCALE = 2.0
#: largest ratio of the local scales along two directions at the centre (shear, squash): a re-shot scales
#: both axes nearly alike, but screenshots are exported at other aspect ratios (two screenshots of one
#: lab transformer exported at different aspect ratios: 1.33, correct)
MAX_ANISOTROPY = 1.5
#: largest ratio of the local area scale between the image's corners (perspective tilt)
MAX_PERSPECTIVE = 2.5
#: smallest share of the inspection's valid pixels that must land on valid baseline pixels
MIN_OVERLAP = 0.3
#: ECC may move a corner at most this far (working px) from the feature fit: a larger jump is a
#: different basin, not a refinement
ECC_MAX_SHIFT = 8.0
#: the overlay mask grown by this many px when a synthetic re-shot redraws the camera display: the
#: mask hugs text and boxes, the anti-aliased rims around them belong to the display too
RESHOOT_UI_MARGIN = 3
#: refine by ECC at all (switch for measurements)
USE_ECC = True
#: ECC is kept only while the feature inliers still agree with it: its median reprojection error may grow
#: by at most this much (working px). ECC is not robust: static overlay remnants or a changed region can
#: pull it off by pixels while its correlation rises (measured on synthetic re-shots)
ECC_RESIDUAL_SLACK = 0.1
#: ECC iterations and the correlation increment at which it stops
ECC_ITERATIONS = 60
ECC_EPS = 1e-5
#: ECC's own Gaussian pre-blur (px): thermal images carry JPEG and decoding noise
ECC_BLUR = 5


@dataclass
class View:
    """One image prepared for registration: its ranked temperature map at working size and where it is a
    scene temperature (not overlay, not off-palette)."""

    image: np.ndarray  # uint8, working size
    valid: np.ndarray  # bool, working size
    to_work: np.ndarray  # 3×3: full-size pixel → working pixel (pixel centres kept)
    shape: tuple[int, int]  # full size (h, w)
    #: keypoints and descriptors by feature kind, found once (a baseline meets every inspection of a batch)
    features: dict = field(default_factory=dict, repr=False)


class Views:
    """An image's registration views by working size, each prepared once: an inspection is registered to
    several baselines, and a baseline to every inspection of a batch."""

    def __init__(self, image: ThermalAnalysis | np.ndarray) -> None:
        self.analysis = as_analysis(image)
        self._by_side: dict[int, View] = {}

    def at(self, side: int) -> View:
        if side not in self._by_side:
            self._by_side[side] = prepare(self.analysis, side)
        return self._by_side[side]


@dataclass
class Registration:
    """How an inspection maps onto its baseline, and how sure that is.

    ``homography`` maps inspection pixels (full size, x right, y down) to baseline pixels (full size); it is
    None unless ``aligned``. ``reason`` says why a pair is not aligned. Quality figures: ``matches``
    (after the ratio test), ``inliers`` and ``inlier_ratio`` of the robust fit, ``residual`` (median inlier
    reprojection error, working px at ``side`` on the long side), ``correlation`` (ECC correlation of the
    ranked maps over the overlap, -1..1),
    ``edge_correlation`` (the same for their gradient magnitudes: reported, not a criterion),
    ``overlap`` (share of the inspection's valid pixels that land on the baseline's), ``refined`` ("ecc"
    when ECC improved the feature fit, else "features"), ``model`` of the feature fit ("homography", or
    "similarity" when the inliers sit in too small a part of the picture to pin a tilt), ``spread`` (share
    of the inspection inside the inliers' convex hull).
    """

    aligned: bool
    reason: str
    homography: np.ndarray | None
    inspection_shape: tuple[int, int]
    baseline_shape: tuple[int, int]
    matches: int = 0
    inliers: int = 0
    inlier_ratio: float = 0.0
    residual: float = float("nan")
    correlation: float = float("nan")
    overlap: float = 0.0
    refined: str = ""
    model: str = ""
    spread: float = 0.0
    features: str = ""
    side: int = WORK_SIDE
    edge_correlation: float = float("nan")
    work_homography: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The verdict and its evidence as JSON-ready values."""
        return {
            "aligned": self.aligned,
            "reason": self.reason,
            "homography": None if self.homography is None else self.homography.tolist(),
            "matches": self.matches,
            "inliers": self.inliers,
            "inlier_ratio": round(self.inlier_ratio, 3),
            "residual_px": None if not np.isfinite(self.residual) else round(self.residual, 2),
            "correlation": None if not np.isfinite(self.correlation) else round(self.correlation, 3),
            "edge_correlation": None
            if not np.isfinite(self.edge_correlation)
            else round(self.edge_correlation, 3),
            "overlap": round(self.overlap, 3),
            "refined": self.refined,
            "model": self.model,
            "features": self.features,
            "work_side": self.side,
            "inlier_spread": round(self.spread, 3),
        }


def _to_work(shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Full-size → working-size pixel map of a resize, pixel centres matched (cv2.resize's convention)."""
    h, w = shape
    sx, sy = size[0] / w, size[1] / h
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


def _ranked(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Values equalised over the valid ones, 0..255, contrast-limited: nearly the same picture whatever
    monotonic scale or palette rendered it, without stretching a flat sky's sensor stripes into texture."""
    sample = values[valid]
    if sample.size == 0:
        return np.zeros(values.shape, np.uint8)
    lo, hi = np.percentile(sample, [0.5, 99.5])
    if hi <= lo:
        return np.full(values.shape, 128, np.uint8)
    hist, edges = np.histogram(sample, bins=HIST_BINS, range=(lo, hi))
    hist = hist.astype(np.float64)
    cap = EQUALISE_CLIP * sample.size / HIST_BINS
    excess = np.maximum(hist - cap, 0).sum()
    hist = np.minimum(hist, cap) + excess / HIST_BINS
    cdf = np.concatenate([[0.0], np.cumsum(hist)]) / hist.sum()
    ranked = np.interp(values, edges, cdf * 255)
    return np.clip(ranked, 0, 255).astype(np.uint8)


def prepare(analysis: ThermalAnalysis | np.ndarray, side: int = WORK_SIDE) -> View:
    """The registration view of an image: temperature map (°C or relative) with overlays and
    non-temperature pixels filled from around them, ranked, at ≤ ``side`` px."""
    a = as_analysis(analysis)
    temp = a.temperature
    values = np.asarray(temp.values, np.float32)
    valid = temp.valid & ~a.overlay & np.isfinite(values)
    h, w = values.shape
    scale = side / max(h, w)  # small pictures are enlarged: ORB's patches need the pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    fill = float(np.median(values[valid])) if valid.any() else 0.0
    values = np.where(valid, values, fill).astype(np.float32)
    if size != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        values = cv2.resize(values, size, interpolation=interp)
        share = cv2.resize(valid.astype(np.float32), size, interpolation=interp)
        valid = share > 0.99
    if valid.any() and not valid.all():  # push-pull fill (it works on colour images: 3 equal channels)
        values = fill_holes(np.repeat(values[..., None], 3, axis=2), valid)[..., 0]
    return View(_ranked(values, valid), valid, _to_work((h, w), size), (h, w))


def _keypoint_mask(view: View) -> np.ndarray:
    inner = np.pad(view.valid, 1).astype(np.uint8)  # the image edge counts as invalid
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_MARGIN + 1, 2 * EDGE_MARGIN + 1))
    return cv2.erode(inner, k)[1:-1, 1:-1] * 255


def _detector(kind: str) -> cv2.Feature2D:
    """ORB with a low corner threshold and small patches (smooth scenes), or SIFT with a low contrast
    threshold."""
    if kind == "orb":
        return cv2.ORB_create(
            nfeatures=MAX_KEYPOINTS, fastThreshold=ORB_FAST_THRESHOLD, edgeThreshold=15, patchSize=15
        )
    if kind == "sift":
        return cv2.SIFT_create(nfeatures=MAX_KEYPOINTS, contrastThreshold=0.02)
    raise ValueError(f"unknown feature kind {kind!r}")


def _features(view: View, kind: str = "orb") -> tuple[list, np.ndarray | None]:
    """Keypoints and descriptors within the scene, strongest ``MAX_KEYPOINTS`` (kept on the view)."""
    if kind not in view.features:
        kps, desc = _detector(kind).detectAndCompute(view.image, _keypoint_mask(view))
        view.features[kind] = (list(kps), desc)
    return view.features[kind]


def _matches(desc_a: np.ndarray | None, desc_b: np.ndarray | None) -> list[tuple[int, int]]:
    """(index in a, index in b) pairs passing the ratio test, each b used once."""
    if desc_a is None or desc_b is None or len(desc_a) < 2 or len(desc_b) < 2:
        return []
    norm = cv2.NORM_HAMMING if desc_a.dtype == np.uint8 else cv2.NORM_L2
    knn = cv2.BFMatcher(norm).knnMatch(desc_a, desc_b, k=2)
    best: dict[int, tuple[float, int]] = {}
    for pair in knn:
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx][0]:
                best[m.trainIdx] = (m.distance, m.queryIdx)
    return [(q, t) for t, (_, q) in best.items()]


def _corners(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)


def project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (N×2) through a homography."""
    p = np.c_[pts, np.ones(len(pts))] @ h.T
    return p[:, :2] / p[:, 2:3]


def _local_scales(h: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Singular values of the homography's Jacobian at a point (local stretch along two axes)."""
    x, y = pt
    d = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u, v = project(h, pt[None])[0]
    jac = np.array(
        [[h[0, 0] - u * h[2, 0], h[0, 1] - u * h[2, 1]], [h[1, 0] - v * h[2, 0], h[1, 1] - v * h[2, 1]]]
    )
    return np.linalg.svd(jac / d, compute_uv=False)


def implausible(h: np.ndarray, shape: tuple[int, int]) -> str:
    """Why a homography (working px, inspection → baseline) cannot be a re-shot of the same scene, or ""."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return "degenerate homography"
    corners = _corners(shape)
    denom = np.c_[corners, np.ones(4)] @ h[2]
    if np.any(denom <= 0):
        return "degenerate homography: the image would fold over the horizon"
    quad = project(h, corners).astype(np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return "degenerate homography: the image would fold"
    centre = np.array([(shape[1] - 1) / 2, (shape[0] - 1) / 2])
    s = _local_scales(h, centre)
    scale = float(np.sqrt(s[0] * s[1]))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE:
        return f"implausible homography: scale {scale:.2f} (allowed {1 / MAX_SCALE:.2f}-{MAX_SCALE:.2f})"
    if s[0] / max(s[1], 1e-12) > MAX_ANISOTROPY:
        return f"implausible homography: shear/squash {s[0] / s[1]:.2f} (allowed ≤ {MAX_ANISOTROPY})"
    areas = [float(np.prod(_local_scales(h, c))) for c in corners]
    if max(areas) / max(min(areas), 1e-12) > MAX_PERSPECTIVE:
        tilt = max(areas) / min(areas)
        return f"implausible homography: perspective {tilt:.2f} (allowed ≤ {MAX_PERSPECTIVE})"
    return ""


def _warp_to(view_from: View, h: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``view_from`` (the baseline) resampled into a frame of ``shape`` through ``h`` (frame → baseline)."""
    size = (shape[1], shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    img = cv2.warpPerspective(view_from.image, h, size, flags=flags)
    ok = cv2.warpPerspective(
        view_from.valid.astype(np.uint8), h, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    return img, ok > 0


def overlap_and_correlation(insp: View, base: View, h: np.ndarray) -> tuple[float, float]:
    """(share of the inspection's valid pixels on valid baseline pixels, correlation of the ranked maps
    there) for a working-size homography inspection → baseline."""
    warped, ok = _warp_to(base, h, insp.valid.shape)
    both = ok & insp.valid
    overlap = float(both.sum()) / max(int(insp.valid.sum()), 1)
    if both.sum() < 100:
        return overlap, float("nan")
    a = insp.image[both].astype(np.float64)
    b = warped[both].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return overlap, float((a * b).sum() / denom) if denom > 0 else float("nan")


def _edges(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the lightly blurred ranked map: where the scene's structure is."""
    g = cv2.GaussianBlur(image.astype(np.float32), (0, 0), EDGE_SIGMA)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def edge_correlation(insp: View, base: View, h: np.ndarray) -> float:
    """Correlation of the two maps' gradient magnitudes over the overlap: do the edges fall on the same
    places? Large smooth regions make the maps themselves correlate for any rough overlap (a bright body on
    a dark background), their edges do not."""
    shape = insp.valid.shape
    warped = cv2.warpPerspective(
        _edges(base.image), h, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    _, ok = _warp_to(base, h, shape)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_MARGIN + 1,) * 2)
    both = cv2.erode((ok & insp.valid).astype(np.uint8), k) > 0
    if both.sum() < 100:
        return float("nan")
    a = _edges(insp.image)[both].astype(np.float64)
    b = warped[both].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def _refine_ecc(insp: View, base: View, h: np.ndarray) -> np.ndarray | None:
    """ECC refinement of ``h`` (working px), or None when it does not converge."""
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, ECC_ITERATIONS, ECC_EPS)
    warp = (h / h[2, 2]).astype(np.float32)
    try:
        _, warp = cv2.findTransformECCWithMask(
            insp.image.astype(np.float32),
            base.image.astype(np.float32),
            insp.valid.astype(np.uint8),
            base.valid.astype(np.uint8),
            warp,
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            ECC_BLUR,
        )
    except cv2.error:
        return None
    return warp.astype(np.float64)


def _max_corner_shift(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> float:
    c = _corners(shape)
    return float(np.linalg.norm(project(a, c) - project(b, c), axis=1).max())


def corner_error(registration: Registration, truth: np.ndarray) -> np.ndarray:
    """Distances (px at ``WORK_SIDE`` on the long side) between where the registration and the true
    homography (inspection → baseline, full size) send the inspection's four corners."""
    c = _corners(registration.inspection_shape)
    err = np.linalg.norm(project(registration.homography, c) - project(truth, c), axis=1)
    return err * WORK_SIDE / max(registration.baseline_shape)


def _residual(h: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    """Median reprojection error of matched points (working px)."""
    return float(np.median(np.linalg.norm(project(h, src.astype(np.float64)) - dst, axis=1)))


def _spread(pts: np.ndarray, shape: tuple[int, int]) -> float:
    """Share of the picture inside the convex hull of the points: how much of it the fit is pinned to."""
    if len(pts) < 3:
        return 0.0
    hull = cv2.convexHull(pts.astype(np.float32))
    return float(cv2.contourArea(hull)) / float(shape[0] * shape[1])


def _steadier_model(
    insp: View, base: View, h: np.ndarray, inl: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, str]:
    """(transform, inliers, model name): the homography, or a similarity (shift, rotation, zoom) when the
    homography's inliers sit in a small part of the picture and the similarity agrees at least as well with
    the whole overlap (correlation of the ranked maps). Eight free parameters pinned to one component can
    extrapolate wildly (a tilt nothing contradicts); four cannot, but they miss a real tilt, which the
    correlation over the rest of the scene shows."""
    shape = insp.valid.shape
    if _spread(src[inl], shape) >= MIN_SPREAD_HOMOGRAPHY:
        return h, inl, "homography"
    m, inl2 = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD, maxIters=5000, confidence=0.999
    )
    if m is None or inl2 is None or inl2.sum() < MIN_INLIERS:
        return h, inl, "homography"
    sim = np.vstack([m, [0.0, 0.0, 1.0]])
    corr_h = overlap_and_correlation(insp, base, h)[1] if not implausible(h, shape) else -1.0
    if np.nan_to_num(overlap_and_correlation(insp, base, sim)[1], nan=-1.0) < np.nan_to_num(corr_h, nan=-1.0):
        return h, inl, "homography"
    return sim, inl2.ravel().astype(bool), "similarity"


def _not_aligned(insp: View, base: View, reason: str, **evidence) -> Registration:
    return Registration(False, reason, None, insp.shape, base.shape, **evidence)


def register_views(insp: View, base: View, kinds: tuple[str, ...] = FEATURES) -> Registration:
    """:func:`register` on prepared views: each kind of features in turn until one aligns; when none does,
    the attempt that came closest (most inliers) with its reason."""
    return _first_aligned((_register_with(insp, base, kind) for kind in kinds), "no feature kinds given")


def _first_aligned(attempts: Iterator[Registration], none_given: str) -> Registration:
    """The first of ``attempts`` (made one by one, as asked for) that aligns; when none does, the one that
    came closest (most inliers, the earlier of equals)."""
    best: Registration | None = None
    for reg in attempts:
        if reg.aligned:
            return reg
        if best is None or reg.inliers > best.inliers:
            best = reg
    assert best is not None, none_given
    return best


def _register_with(insp: View, base: View, kind: str) -> Registration:
    """One attempt: ``kind`` features, robust fit, plausibility, ECC, overlap and agreement checks."""
    kp_i, desc_i = _features(insp, kind)
    kp_b, desc_b = _features(base, kind)
    pairs = _matches(desc_i, desc_b)
    if len(pairs) < MIN_INLIERS:
        reason = f"too few matches: {len(pairs)} (need {MIN_INLIERS})"
        return _not_aligned(insp, base, reason, matches=len(pairs), features=kind)
    src = np.float32([kp_i[q].pt for q, _ in pairs])
    dst = np.float32([kp_b[t].pt for _, t in pairs])
    h, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, RANSAC_THRESHOLD, maxIters=5000, confidence=0.999)
    evidence: dict = {"matches": len(pairs), "features": kind}
    if h is None or inl is None:
        return _not_aligned(insp, base, "no homography fits the matches", **evidence)
    inl = inl.ravel().astype(bool)
    h, inl, evidence["model"] = _steadier_model(insp, base, h, inl, src, dst)
    evidence["spread"] = _spread(src[inl], insp.valid.shape)
    evidence["inliers"] = int(inl.sum())
    evidence["inlier_ratio"] = float(inl.mean())
    evidence["residual"] = _residual(h, src[inl], dst[inl])
    if inl.sum() < MIN_INLIERS:
        return _not_aligned(insp, base, f"too few inliers: {inl.sum()} (need {MIN_INLIERS})", **evidence)
    if inl.mean() < MIN_INLIER_RATIO:
        reason = f"too few inliers: {inl.mean():.0%} of the matches (need {MIN_INLIER_RATIO:.0%})"
        return _not_aligned(insp, base, reason, **evidence)
    why = implausible(h, insp.valid.shape)
    if why:
        return _not_aligned(insp, base, why, **evidence)
    overlap, corr = overlap_and_correlation(insp, base, h)
    refined = "features"
    ecc = _refine_ecc(insp, base, h) if USE_ECC else None
    if ecc is not None and not implausible(ecc, insp.valid.shape):
        ecc_residual = _residual(ecc, src[inl], dst[inl])
        if (
            _max_corner_shift(ecc, h, insp.valid.shape) <= ECC_MAX_SHIFT
            and ecc_residual <= evidence["residual"] + ECC_RESIDUAL_SLACK
        ):
            ecc_overlap, ecc_corr = overlap_and_correlation(insp, base, ecc)
            if np.isfinite(ecc_corr) and not ecc_corr <= corr:
                h, overlap, corr, refined = ecc, ecc_overlap, ecc_corr, "ecc"
                evidence["residual"] = ecc_residual
    evidence.update(correlation=corr, overlap=overlap, refined=refined)
    evidence["edge_correlation"] = edge_correlation(insp, base, h)
    if overlap < MIN_OVERLAP:
        reason = f"too little overlap: {overlap:.0%} of the inspection (need {MIN_OVERLAP:.0%})"
        return _not_aligned(insp, base, reason, **evidence)
    if not corr >= MIN_CORRELATION:
        reason = f"aligned maps disagree: correlation {corr:.2f} (need {MIN_CORRELATION})"
        return _not_aligned(insp, base, reason, **evidence)
    full = np.linalg.inv(base.to_work) @ h @ insp.to_work
    full /= full[2, 2]
    return Registration(True, "", full, insp.shape, base.shape, work_homography=h, **evidence)


def register(
    inspection: ThermalAnalysis | np.ndarray | Views,
    baseline: ThermalAnalysis | np.ndarray | Views,
    sides: tuple[int, ...] = WORK_SIDES,
) -> Registration:
    """Align an inspection image to a baseline image of the same asset (see the module's docstring).

    Takes analyses (or pictures; pass analyses to reuse their decoding, or :class:`Views` to reuse the
    prepared maps and keypoints across pairs); works at each of ``sides`` px on the long side in turn until
    one aligns, and returns the homography at full size. When none does, the attempt with the most
    inliers, with its reason.
    """
    insp = inspection if isinstance(inspection, Views) else Views(inspection)
    base = baseline if isinstance(baseline, Views) else Views(baseline)

    def at(side: int) -> Registration:
        reg = register_views(insp.at(side), base.at(side))
        reg.side = side
        return reg

    return _first_aligned((at(side) for side in sides), "no working sizes given")


def reshoot(
    analysis: ThermalAnalysis, homography: np.ndarray, palette_lut: np.ndarray | None = None
) -> np.ndarray:
    """A synthetic second shot of the same scene, for tests and benchmarks: the picture's temperatures
    repainted through ``palette_lut`` (N×3, cold first; colour bar included, so the new picture decodes to
    the same °C), the scene (overlays filled from around them: the camera does not see its own display)
    moved by ``homography`` (baseline px → new px, same size), and the camera overlays drawn where they
    were, as a real camera draws them. Pixels the scene leaves are black."""
    rgb = analysis.rgb.copy()
    if palette_lut is not None:
        temp = analysis.temperature
        idx = np.clip(np.rint(temp.position * (len(palette_lut) - 1)), 0, len(palette_lut) - 1).astype(int)
        rgb[temp.decodable] = palette_lut[idx[temp.decodable]]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RESHOOT_UI_MARGIN + 1,) * 2)
    ui = cv2.dilate(analysis.overlay.astype(np.uint8), k) > 0
    scene = fill_holes(rgb, ~ui) if ui.any() else rgb
    h, w = rgb.shape[:2]
    out = cv2.warpPerspective(scene, homography, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    out[ui] = rgb[ui]
    return out
