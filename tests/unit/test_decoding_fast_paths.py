"""The colour decoding's fast paths give exactly what the slow paths give, on real development pictures."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis
from thermal_anomaly.thermal.palette import ImageColours, colors_to_position, distinct_colors, to_u8
from thermal_anomaly.thermal.temperature import out_of_range, scale_positions

#: a 640 px T1 picture and a 3077 px photo with large white (saturated and not) areas
PICTURES = ["T1/faulty/T1_faulty_001.jpg", "T9/normal/T9_normal_001.jpg"]


@pytest.fixture(scope="module", params=PICTURES)
def analysed(request, dev_data):
    return ThermalAnalysis(read_image(dev_data / request.param))


def test_per_colour_out_of_range_equals_per_pixel(analysed):
    rgb, lut = analysed.rgb, analysed.scale.lut
    colours = ImageColours(rgb)
    assert colours.exact  # an 8-bit file
    pos, bad = colors_to_position(rgb, lut)
    slow_pos, slow_bad = out_of_range(rgb, pos, bad, lut)  # per pixel, as before
    fast_pos, fast_bad = scale_positions(rgb, analysed.scale)  # per colour
    assert fast_pos.dtype == slow_pos.dtype
    assert np.array_equal(fast_pos, slow_pos)
    assert np.array_equal(fast_bad, slow_bad)
    assert np.array_equal(pos, colors_to_position(rgb, lut, colours=colours)[0])


def test_colour_subset_equals_distinct_colours_of_the_pixels(analysed):
    rgb = analysed.rgb
    colours = ImageColours(rgb)
    mask = to_u8(rgb).min(axis=2) > 64  # the light pixels
    cols, inverse = colours.subset(mask)
    ref_cols, ref_inverse = distinct_colors(to_u8(rgb[mask]))
    assert np.array_equal(cols, ref_cols)  # same colours, same order
    assert np.array_equal(inverse, ref_inverse)


def test_a_picture_not_of_bytes_is_not_exact(analysed):
    rgb = analysed.rgb.copy()
    rgb[0, 0, 0] += 1e-4  # no longer k / 255
    assert not ImageColours(rgb).exact
    assert ImageColours(to_u8(analysed.rgb)).exact


def test_celsius_table_lookup_equals_the_formula(analysed):
    from thermal_anomaly.thermal.planck import PLANCK_B, _on_levels, _signal_linear, signal_linear_celsius

    pos, _bad = scale_positions(analysed.rgb, analysed.scale)
    assert _on_levels(pos) is not None  # a decoded picture: on the palette's levels
    fast = signal_linear_celsius(pos, 21.5, 68.0)
    assert fast.shape == pos.shape and fast.dtype == np.float32
    assert np.array_equal(fast, _signal_linear(pos, 21.5, 68.0, PLANCK_B))
    off = pos.copy()
    off[5, 5] = 0.5  # not a level: the formula for every pixel
    off[6, 6] = -0.2
    assert _on_levels(off) is None


@pytest.mark.parametrize("name", [*PICTURES, "T3/normal/T3_normal_001.png"])
def test_read_image_is_bytes_over_255(dev_data, name):
    from PIL import Image

    with Image.open(dev_data / name) as im:
        im = im.convert("RGBA")
        ref = np.asarray(im, dtype=np.float32) / 255.0
    ref = ref[:, :, :3] * ref[:, :, 3:4]
    got = read_image(dev_data / name)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("name", PICTURES)
def test_analysis_from_the_bytes_equals_from_the_floats(dev_data, name):
    from_bytes = ThermalAnalysis.from_file(dev_data / name)  # keeps the file's bytes
    assert from_bytes._bytes is not None
    from_floats = ThermalAnalysis(read_image(dev_data / name))
    assert from_floats._bytes is None
    assert np.array_equal(from_bytes.rgb, from_floats.rgb)
    a, b = from_bytes.temperature, from_floats.temperature
    assert (a.unit, a.source, a.range) == (b.unit, b.source, b.range)
    for key in ("values", "valid", "position", "decodable"):
        assert np.array_equal(getattr(a, key), getattr(b, key), equal_nan=True), key


def test_component_pixels_by_box_and_label_lookup_equal_the_gathers(analysed):
    import cv2

    from thermal_anomaly.thermal.palette import labels_in
    from thermal_anomaly.thermal.temperature import _LabelBoxes, _members

    light = np.ascontiguousarray(to_u8(analysed.rgb).min(axis=2) > 200)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(light.view(np.uint8), connectivity=8)
    assert n > 3
    # the labels without OpenCV's statistics are the same, and their boxes read off them are its boxes
    n2, lab2 = cv2.connectedComponents(light.view(np.uint8), connectivity=8)
    assert n2 == n and np.array_equal(lab2, lab)
    boxes = _LabelBoxes(lab2)
    assert all(tuple(int(v) for v in stats[k, :4]) == boxes[k] for k in range(1, n))
    rng = np.random.default_rng(0)
    for count in (1, 3, 40):  # boxes for a few, the gather for many
        chosen = np.zeros(n, bool)
        chosen[rng.choice(np.arange(1, n), size=min(count, n - 1), replace=False)] = True
        assert np.array_equal(_members(lab, stats, chosen), chosen[lab])
        assert np.array_equal(_members(lab, boxes, chosen), chosen[lab])
        ids = np.flatnonzero(chosen)
        assert np.array_equal(labels_in(lab, ids), np.isin(lab, ids))
        assert np.array_equal(labels_in(lab, ids, n), np.isin(lab, ids))


def _level_pairs_loop(st: np.ndarray) -> set[frozenset[int]]:
    """The joining rule of ``ocr.find_words`` as it was written, box by box (the reference)."""
    pairs = set()
    order = np.argsort(st[:, 0])
    for a_i, i in enumerate(order):
        x, y, w, h = st[i]
        for j in order[a_i + 1 :]:
            x2, y2, w2, h2 = st[j]
            hmax = max(h, h2)
            if x2 - (x + w) > 0.5 * hmax:
                break
            overlap = min(y + h, y2 + h2) - max(y, y2)
            small = min(h, h2)
            if overlap >= 0.5 * small and (small >= 0.5 * hmax or overlap >= small - 1):
                pairs.add(frozenset((int(i), int(j))))
    return pairs


@pytest.mark.parametrize("seed", range(6))
def test_word_joining_pairs_equal_the_box_by_box_rule(seed):
    from thermal_anomaly.thermal.ocr import _level_pairs

    rng = np.random.default_rng(seed)
    n = [1, 2, 40, 200, 600, 600][seed]
    # characters in a few rows and columns (as a bar's labels), many sharing an x, plus specks
    st = np.stack(
        [
            rng.integers(0, 60 if seed % 2 else 400, n),
            rng.integers(0, 300, n),
            rng.integers(1, 12, n),
            rng.integers(2, 16, n),
        ],
        axis=1,
    ).astype(np.int64)
    got = {frozenset(p) for p in _level_pairs(st)}
    assert got == _level_pairs_loop(st)


def test_labelled_boxes_equal_opencv_statistics(analysed):
    import cv2

    from thermal_anomaly.postprocess import labelled_boxes

    for mask in (to_u8(analysed.rgb).min(axis=2) > 200, to_u8(analysed.rgb).max(axis=2) < 60):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
        n2, lab2, boxes = labelled_boxes(mask)
        assert n2 == n and np.array_equal(lab2, lab)
        assert np.array_equal(boxes[1:], stats[1:, :4])


def _level_pieces_loop(st: np.ndarray) -> np.ndarray:
    """``ocr._split_tangled``'s "beside a level piece" rule as it was written, pair by pair (the reference)."""
    keep = np.zeros(len(st), bool)
    for i, (x, y, w, h) in enumerate(st):
        for j, (x2, y2, w2, h2) in enumerate(st):
            overlap = min(y + h, y2 + h2) - max(y, y2)
            gap = max(x2 - (x + w), x - (x2 + w2))
            if i != j and overlap >= 0.7 * max(h, h2) and gap <= 0.5 * max(h, h2):
                keep[i] = True
                break
    return keep


def _with_punctuation_loop(boxes: list[list[int]], punct: np.ndarray) -> list[list[int]]:
    """``ocr._with_punctuation`` as it was written, speck by speck and word by word (the reference)."""
    from collections import Counter

    boxes = [[*b, 0] for b in boxes]
    if not len(punct) or not boxes:
        return boxes
    dashes = []
    for px, py, pw, ph in punct:
        for b in boxes:
            x0, y0, _x1, y1, _m = b
            h = y1 - y0
            dash = pw >= 2 * ph and 0.25 * h <= pw <= 0.9 * h and abs(py + ph / 2 - (y0 + y1) / 2) <= 0.2 * h
            if dash and 0 <= x0 - (px + pw) <= 0.5 * h:
                dashes.append((int(px), int(pw), b))
                break
    column = Counter((px, pw) for px, pw, _b in dashes)
    for px, pw, b in dashes:
        if sum(n for (qx, qw), n in column.items() if abs(qx - px) <= 1 and abs(qw - pw) <= 1) < 3:
            b[4] = 1

    def join_one() -> bool:
        for px, py, pw, ph in punct:
            if max(pw, ph) > 4 or not 0.4 <= pw / max(1, ph) <= 2.5:
                continue
            pcx = px + pw / 2
            for a in boxes:
                x0, y0, x1, y1, _m = a
                ha = y1 - y0
                if not (abs(py + ph - a[3]) <= max(1, 0.15 * ha) and 0 <= pcx - a[2] <= 0.5 * ha):
                    continue
                for b in boxes:
                    hb = b[3] - b[1]
                    level = abs(b[3] - a[3]) <= max(1, 0.15 * ha) and abs(hb - ha) <= max(2, 0.25 * ha)
                    if b is not a and level and 0 <= b[0] - pcx <= 0.5 * ha and b[0] - a[2] <= ha:
                        a[:] = [a[0], min(a[1], b[1]), b[2], max(a[3], b[3]), a[4]]
                        boxes.remove(b)
                        return True
        return False

    while join_one():
        pass
    return boxes


@pytest.mark.parametrize("seed", range(8))
def test_split_pieces_and_punctuation_equal_the_pair_by_pair_rules(seed):
    from thermal_anomaly.thermal.ocr import _beside_a_level_piece, _with_punctuation

    rng = np.random.default_rng(seed)
    n = [0, 1, 2, 30, 300, 700, 60, 200][seed]
    st = np.stack(
        [rng.integers(0, 80, n), rng.integers(0, 200, n), rng.integers(1, 14, n), rng.integers(3, 14, n)],
        axis=1,
    ).astype(np.int64)
    assert np.array_equal(_beside_a_level_piece(st, rows=64), _level_pieces_loop(st))
    # words in rows of labels ("26.4", "-40.0"): pieces of one height, dots and dashes between and before them
    words, specks = [], []
    for _ in range(max(1, n // 10)):
        x, y, h = int(rng.integers(0, 150)), int(rng.integers(0, 300)), int(rng.integers(6, 14))
        w = int(rng.integers(h // 2, 2 * h))
        words.append([x, y, x + w, y + h])
        gap = int(rng.integers(1, h // 2 + 2))
        words.append([x + w + gap, y + int(rng.integers(-1, 2)), x + 2 * w + gap, y + h])
        specks.append(
            [x + w + int(rng.integers(0, gap)), y + h - 2, int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        )
        specks.append([x - int(rng.integers(1, h // 2 + 1)) - h // 2, y + h // 2, h // 2, 1])  # a dash
    specks += [
        [
            int(rng.integers(0, 300)),
            int(rng.integers(0, 300)),
            int(rng.integers(1, 5)),
            int(rng.integers(1, 5)),
        ]
        for _ in range(n)
    ]
    punct = np.array(specks, np.int64).reshape(-1, 4)
    assert _with_punctuation([list(b) for b in words], punct) == _with_punctuation_loop(
        [list(b) for b in words], punct
    )


@pytest.mark.parametrize("seed", range(4))
def test_flood_filled_boxes_equal_the_label_boxes(seed):
    import cv2

    from thermal_anomaly.postprocess import label_boxes
    from thermal_anomaly.thermal.temperature import _FilledBoxes

    rng = np.random.default_rng(seed)
    for _ in range(25):
        h, w = (int(v) for v in rng.integers(5, 120, 2))
        specks = (rng.random((h, w)) > rng.uniform(0.9, 0.995)).astype(np.uint8)
        mask = cv2.dilate(specks, np.ones((3, 3), np.uint8), iterations=int(rng.integers(0, 3))) > 0
        if seed % 2:
            mask |= rng.random((h, w)) > 0.8  # ragged, touching components
        n, lab = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
        at = np.flatnonzero(mask & (rng.random((h, w)) > 0.7))
        boxes = _FilledBoxes(mask, lab, n, (at, lab.reshape(-1)[at]))
        ref = label_boxes(lab, n)
        for k in rng.permutation(np.arange(1, n)):  # in any order: earlier fills leave the others alone
            assert tuple(boxes[k]) == tuple(int(v) for v in ref[k])


@pytest.mark.parametrize("repeat", [1, 2, 5, 40])
def test_distinct_colours_by_runs_equal_all_pixels(repeat):
    from thermal_anomaly.thermal import palette

    rng = np.random.default_rng(repeat)
    for n in (0, 1, 2, 7, 3000):
        # a picture upscaled along its rows: each colour repeated (few runs), with a few distinct colours
        base = rng.integers(0, 256, (max(1, n // repeat), 3), dtype=np.uint8)
        base[::3] = base[0]
        pixels = np.repeat(base, repeat, axis=0)[:n]
        slots = np.empty(1 << 24, np.int32)
        ref_uniq, ref_inverse = palette._first_of_each(palette._colour_codes(pixels), slots)
        cols, inverse = palette.distinct_colors(pixels)
        assert np.array_equal(cols, palette._code_colours(ref_uniq))
        assert inverse.dtype == ref_inverse.dtype and np.array_equal(inverse, ref_inverse)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000])
def test_colour_codes_are_the_bytes_as_a_little_endian_number(n):
    from thermal_anomaly.thermal import palette

    pixels = np.random.default_rng(n).integers(0, 256, (n, 3), dtype=np.uint8)
    pixels[::7] = 255  # the top byte of each read (the next pixel's red) must be cleared
    want = (
        pixels[:, 0].astype(np.uint32)
        | pixels[:, 1].astype(np.uint32) << 8
        | pixels[:, 2].astype(np.uint32) << 16
    )
    got = palette._colour_codes(pixels)
    assert got.dtype == np.uint32 and np.array_equal(got, want)
    assert np.array_equal(palette._code_colours(got), pixels.astype(np.float32) / 255.0)
    view = np.zeros((n + 1, 3), np.uint8)[1:]  # a view into a larger buffer, offset by one pixel
    view[:] = pixels
    assert np.array_equal(palette._colour_codes(view), want)
