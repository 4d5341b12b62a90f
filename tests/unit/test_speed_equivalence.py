"""The fast paths of overlay and colour-bar detection give exactly what the plain OpenCV/numpy forms give."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thermal_anomaly.postprocess import connected_components
from thermal_anomaly.thermal.colorbar import _close_v, _open_v, _strip_evidence
from thermal_anomaly.thermal.palette import chan_max, component_boxes


def _masks(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    out = []
    for t in range(n):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        m = rng.random((h, w)) < rng.random() * 0.7
        if t % 3 == 0:  # grids: rings with components inside their holes
            m = np.zeros((h, w), bool)
            m[::7], m[:, ::9], m[3::7, 4::9] = True, True, True
        out.append(m)
    return out


def test_component_boxes_match_labelled_components() -> None:
    for m in _masks(np.random.default_rng(0), 300):
        n, _, stats = connected_components(m)
        want = sorted(tuple(int(v) for v in stats[i, :4]) for i in range(1, n))
        assert sorted(component_boxes(m)) == want
        assert sorted(component_boxes(m.astype(np.uint8) * 255)) == want


@pytest.mark.parametrize("n", [1, 2, 3, 8, 25, 64, 128, 129])
def test_vertical_open_close_match_opencv(n: int) -> None:
    rng = np.random.default_rng(n)
    for m in _masks(rng, 40) + [rng.integers(0, 256, (70, 5)).astype(np.uint8)]:
        a = m.astype(np.uint8)
        k = np.ones((n, 1), np.uint8)
        assert np.array_equal(_open_v(a, n), cv2.morphologyEx(a, cv2.MORPH_OPEN, k))
        assert np.array_equal(_close_v(a, n), cv2.morphologyEx(a, cv2.MORPH_CLOSE, k))


def _strip_evidence_reference(img: np.ndarray, maxw: int) -> np.ndarray:
    """The plain numpy form the fast version replaced."""
    d = np.pad(chan_max(cv2.absdiff(img[:, 1:], img[:, :-1])), ((0, 0), (0, 1)))
    dl = np.pad(d[:, :-1], ((0, 0), (1, 0)))
    uniform = (np.maximum(dl, d) < 14).astype(np.uint8)
    k = np.ones((1, maxw), np.uint8)
    has_left = cv2.dilate((dl > 28).astype(np.uint8), k, anchor=(maxw - 1, 0))
    has_right = cv2.dilate((d > 28).astype(np.uint8), k, anchor=(0, 0))
    return uniform & has_left & has_right


def test_strip_evidence_matches_reference() -> None:
    rng = np.random.default_rng(1)
    for t in range(60):
        h, w = int(rng.integers(2, 80)), int(rng.integers(2, 60))
        img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        if t % 2:
            img = (img // 40 * 40).astype(np.uint8)  # flat patches with sharp steps, like a bar
        maxw = int(rng.integers(1, 20))
        assert np.array_equal(_strip_evidence(img, maxw), _strip_evidence_reference(img, maxw))


@pytest.mark.parametrize("chosen_share", [0.05, 1.0])
def test_holding_matches_labelling_every_mask_pixel(chosen_share: float) -> None:
    """``temperature._holding`` (each chosen component looked at in its own box, or all at once beyond
    ``MAX_BOXED``) says which components hold a mask pixel exactly as labelling every mask pixel does."""
    from thermal_anomaly.thermal.temperature import _holding, _LabelBoxes

    rng = np.random.default_rng(7)
    for m in _masks(rng, 120):
        n, lab = cv2.connectedComponents(m.view(np.uint8), connectivity=8)
        mask = rng.random(m.shape) < 0.1
        chosen = rng.random(n) < chosen_share
        chosen[0] = False
        want = np.zeros(n, bool)
        want[lab[mask]] = True
        assert np.array_equal(_holding(lab, mask, chosen, _LabelBoxes(lab, n)), want & chosen)


def test_ink_levels_match_ndimage_per_label_extremes() -> None:
    """``ocr._ink_levels`` (a minus sign's or dot's strongest ink, per labelled speck) gives what
    ``scipy.ndimage.maximum`` / ``minimum`` give, for any subset of the labels."""
    from scipy import ndimage

    from thermal_anomaly.thermal.ocr import _ink_levels

    rng = np.random.default_rng(3)
    for m in _masks(rng, 120):
        n, lab = cv2.connectedComponents(m.view(np.uint8), connectivity=8)
        if n < 2:
            continue
        channel = rng.integers(0, 256, m.shape).astype(np.uint8)
        ids = np.flatnonzero(rng.random(n - 1) < 0.5) + 1
        for light, pick in ((True, ndimage.maximum), (False, ndimage.minimum)):
            want = np.asarray(pick(channel, lab, ids), np.float64) if len(ids) else np.zeros(0)
            assert np.array_equal(_ink_levels(channel, lab, ids, light), want)


@pytest.mark.parametrize("n_values", [1, 2, 50, 5000, 1 << 20])
def test_first_of_each_numbers_values_as_the_two_scatter_form_does(n_values: int) -> None:
    """``palette._first_of_each`` reads its slot table once; the form it replaced scattered the distinct
    values' numbers back into the table and gathered them again. Same distinct values, order and numbers."""
    from thermal_anomaly.thermal.palette import _first_of_each

    rng = np.random.default_rng(n_values)
    for size in (0, 1, 7, 20_000):
        code = rng.integers(0, n_values, size).astype(np.uint32)
        slots = np.empty(1 << 20, np.int32)
        index = np.arange(size, dtype=np.int32)
        slots[code] = index
        want_uniq = code[slots[code] == index]
        slots[want_uniq] = np.arange(len(want_uniq), dtype=np.int32)
        want_inverse = slots[code].astype(np.intp)
        uniq, inverse = _first_of_each(code, np.empty(1 << 20, np.int32))
        assert np.array_equal(uniq, want_uniq) and np.array_equal(inverse, want_inverse)
        assert inverse.dtype == np.intp and len(np.unique(uniq)) == len(uniq)
        assert np.array_equal(uniq[inverse], code)


def test_lookup_is_fancy_indexing() -> None:
    """``palette.lookup`` (``np.take``) gives what ``table[index]`` gives: values, dtype and shape."""
    from thermal_anomaly.thermal.palette import lookup

    rng = np.random.default_rng(5)
    for t in range(60):
        n = int(rng.integers(1, 3000))
        table = [rng.random(n) < 0.3, rng.integers(0, 256, n).astype(np.uint8), rng.random(n).astype("f4")][
            t % 3
        ]
        shape = (
            (int(rng.integers(0, 40)), int(rng.integers(1, 40))) if t % 2 else (int(rng.integers(0, 900)),)
        )
        index = rng.integers(0, n, shape).astype(
            [np.int32, np.intp, np.uint16 if n <= 65535 else np.int32][t % 3]
        )
        got, want = lookup(table, index), table[index]
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def _saturated_heat_reference(lo: np.ndarray, hi: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``overlays._saturated_heat`` as it was: labels grown as float32, ring where the label is 0."""
    from thermal_anomaly.thermal.overlays import HEAT_HI, HEAT_LO, HEAT_RING

    pale = ((hi > HEAT_HI) & (lo > HEAT_LO)).view(np.uint8)
    core = cv2.morphologyEx(pale, cv2.MORPH_OPEN, k)
    if not core.any():
        return np.zeros_like(pale)
    n, lab = cv2.connectedComponents(pale, connectivity=8)
    solid = np.zeros(n, bool)
    solid[lab[core > 0]] = True
    grown = cv2.dilate(lab.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int64)
    ring = (lab == 0) & (grown > 0)
    total = np.bincount(grown[ring], minlength=n)
    bright = np.bincount(grown[ring & (hi > HEAT_HI)], minlength=n)
    keep = solid & (bright >= HEAT_RING * np.maximum(total, 1))
    keep[0] = False
    return keep[lab].view(np.uint8)


def test_saturated_heat_matches_the_float_label_form() -> None:
    """Random blotchy channel extremes (touching spots, rings shared between labels), and a speckle of more
    than 65535 components (the float32 branch): the uint16 label growth keeps the same spots."""
    from thermal_anomaly.thermal.overlays import _saturated_heat

    rng = np.random.default_rng(11)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    kept = 0
    for t in range(40):
        h, w = (int(v) for v in rng.integers(40, 200, 2))
        hi = rng.uniform(0.0, 0.95, (h, w)).astype(np.float32)  # bright and dim scene
        lo = (hi * rng.uniform(0.0, 0.5, (h, w))).astype(np.float32)
        for _ in range(int(rng.integers(1, 12))):  # pale spots, some with a bright halo, some touching
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            r, halo = int(rng.integers(2, 16)), int(rng.integers(0, 5))
            if halo:
                hi[max(0, y - r - halo) : y + r + halo, max(0, x - r - halo) : x + r + halo] = 0.9
                lo[max(0, y - r - halo) : y + r + halo, max(0, x - r - halo) : x + r + halo] = 0.2
            hi[max(0, y - r) : y + r, max(0, x - r) : x + r] = 1.0
            lo[max(0, y - r) : y + r, max(0, x - r) : x + r] = rng.uniform(0.36, 1.0)
        got, want = _saturated_heat(lo, hi, k), _saturated_heat_reference(lo, hi, k)
        assert got.dtype == want.dtype and np.array_equal(got, want), t
        kept += bool(got.any())
    assert kept >= 5  # spots were kept, not only none
    # isolated pale pixels: ~102k components, plus solid blocks for cores, all ringed by bright non-pale
    lo = np.zeros((640, 640), np.float32)
    lo[::2, ::2] = 0.5
    lo[480:540, 100:140] = 0.5
    lo[560:610, 420:470] = 0.5
    hi = np.full((640, 640), 0.9, np.float32)
    n, _ = cv2.connectedComponents(((hi > 0.85) & (lo > 0.35)).view(np.uint8), connectivity=8)
    assert n > 65535
    got, want = _saturated_heat(lo, hi, k), _saturated_heat_reference(lo, hi, k)
    assert np.array_equal(got, want) and got.any()
