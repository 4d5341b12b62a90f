"""report: learned regions rated by the hot spots they overlap, severities ordered, batches worst first."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from thermal_anomaly.pictures import region_label
from thermal_anomaly.records import HotSpot, ImageResult, Region
from thermal_anomaly.report import (
    KNOWN_SEVERITIES,
    decode_temperatures,
    image_report,
    match_regions,
    rate_image,
    severity_rank,
    worst_severity,
)
from thermal_anomaly.summary import order_flagged, summarize, summary_lines, summary_markdown
from thermal_anomaly.thermal.temperature import TemperatureMap


def _spot(box, severity, delta_t, unit="C", **kw) -> HotSpot:
    return HotSpot(
        box=box,
        area=(box[2] - box[0]) * (box[3] - box[1]),
        max_temp=40.0 + delta_t,
        mean_temp=35.0 + delta_t,
        reference_temp=40.0,
        reference="similar",
        delta_t=delta_t,
        delta_t_ambient=delta_t + 5.0,
        unit=unit,
        severity=severity,
        severity_similar=severity,
        severity_ambient="none",
        fault_type=kw.get("fault_type", "loose_joint"),
        score=delta_t,
    )


def test_severities_order_worst_last_and_relative_just_below_the_same_class():
    ranks = [severity_rank(s) for s in ("none", "possible deficiency", "probable deficiency", "deficiency")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4
    assert severity_rank("major") > severity_rank("relative: major") > severity_rank("deficiency")
    assert severity_rank("relative: possible deficiency") > severity_rank("none") == 0
    assert worst_severity(["possible deficiency", "relative: major", None, "deficiency"]) == "relative: major"
    assert worst_severity([]) == "none"
    assert sorted(KNOWN_SEVERITIES, key=severity_rank) == [
        "none",
        "relative: possible deficiency",
        "possible deficiency",
        "relative: probable deficiency",
        "probable deficiency",
        "relative: deficiency",
        "deficiency",
        "relative: major",
        "major",
    ]
    assert len({severity_rank(s) for s in KNOWN_SEVERITIES}) == len(KNOWN_SEVERITIES)  # no ties
    with pytest.raises(ValueError, match="unknown severity"):
        severity_rank("catastrophic")


def test_region_takes_the_worst_overlapping_hot_spot_and_lists_them_all():
    regions = [
        Region(box=[10, 10, 60, 60], score=2.0, area=2500),
        Region(box=[100, 0, 120, 20], score=1.5),
    ]
    spots = [
        _spot([20, 20, 25, 25], "probable deficiency", 8.0),  # in region 1
        _spot([50, 50, 70, 70], "major", 20.0, fault_type="point_overload"),  # straddles region 1's corner
        _spot([200, 200, 210, 210], "deficiency", 12.0),  # in no region
    ]
    values = np.full((240, 240), 20.0, np.float32)
    values[5:15, 105:115] = 31.0
    values[0, 100] = 99.0  # an invalid (overlay) pixel must not count
    valid = np.ones_like(values, bool)
    valid[0, 100] = False
    rated, hot = match_regions(regions, spots, values=values, valid=valid, unit="C")
    r1, r2 = rated
    assert r1.severity == "major" and r1.delta_t == 20.0 and r1.fault_type == "point_overload"
    assert r1.hotspot_ids == [1, 2] and r1.unit == "C" and r1.score == 2.0  # learned fields kept
    assert r2.severity == "none" and r2.fault_type == "unknown" and r2.hotspot_ids == []
    assert r2.delta_t is None and r2.max_temp == 31.0
    assert r2.mean_temp == pytest.approx((100 * 31.0 + 299 * 20.0) / 399)
    assert [h.id for h in hot] == [1, 2, 3]
    assert [h.in_learned_region for h in hot] == [True, True, False]
    assert hot[1].region_ids == [1] and spots[0].id is None  # inputs are not modified


def test_a_hot_spot_in_a_box_corner_but_off_the_learned_mask_does_not_count():
    regions = [Region(box=[0, 0, 40, 40], score=2.0)]
    mask = np.zeros((50, 50), bool)
    mask[0:10, 0:10] = True  # an L-shaped region would leave its box's far corner empty
    mask[0:40, 0:3] = True
    spots = [_spot([30, 30, 36, 36], "major", 30.0)]
    rated, hot = match_regions(regions, spots, mask=mask)
    assert rated[0].severity == "none" and not hot[0].in_learned_region
    rated, hot = match_regions(regions, spots)  # boxes alone would have matched
    assert rated[0].severity == "major"


def test_image_report_has_temperature_block_and_worst_severities():
    temp = TemperatureMap(
        np.full((30, 40), 25.0, np.float32), "C", np.ones((30, 40), bool), "colorbar+ocr", "", (18.0, 57.0)
    )
    regions = [Region(box=[0, 0, 10, 10], score=1.2), Region(box=[20, 0, 30, 10], score=3.0)]
    spots = [_spot([2, 2, 4, 4], "possible deficiency", 2.0), _spot([35, 20, 38, 25], "major", 25.0)]
    rep = image_report(regions, spots, temp)
    assert rep.temperature.to_json() == {
        "unit": "C",
        "source": "colorbar+ocr",
        "range": [18.0, 57.0],
        "reason": "",
    }
    assert rep.severity == "possible deficiency"  # the worst *learned* region
    assert rep.hotspot_severity == "major"  # a major hot spot the model did not flag stays visible
    assert rep.regions[1].max_temp == 25.0 and rep.regions[1].unit == "C"
    empty = image_report([], [], None, temperature_error="temperature decoding failed: x")
    assert empty.severity == "none" and empty.temperature.unit is None
    assert empty.temperature.reason.startswith("temperature decoding failed")


def test_labels_name_severity_delta_and_fault():
    r = Region(
        box=[0, 0, 1, 1], score=1.0, severity="major", delta_t=23.44, unit="C", fault_type="loose_joint"
    )
    assert region_label(1, r) == "1 major ΔT 23.4 °C loose joint"
    rel = Region(
        box=[0, 0, 1, 1], score=1.0, severity="relative: probable deficiency", delta_t=0.12, unit="relative"
    )
    assert region_label(2, rel) == "2 probable deficiency (rel.) ΔT 12% of scale"
    assert (
        region_label(3, Region(box=[0, 0, 1, 1], score=1.0, severity="none", fault_type="unknown"))
        == "3 not hot"
    )


def _entry(name, score, severity, flagged=True):
    regions = (
        [] if severity == "none" else [Region([0, 0, 1, 1], 1.0, severity=severity, delta_t=5.0, unit="C")]
    )
    return ImageResult(name, name, score, flagged, 1.0, "m", regions, severity=severity)


def test_batch_is_ordered_worst_severity_first_then_score():
    images = [
        _entry("a", 3.0, "probable deficiency"),
        _entry("b", 1.5, "major"),
        _entry("c", 2.0, "relative: major"),
        _entry("d", 9.0, "none"),
        _entry("e", 1.7, "major"),
        _entry("f", 5.0, "major", flagged=False),
    ]
    s = summarize(images, [("bad.jpg", "bad.jpg: truncated")])
    assert [f["image"] for f in s["flagged"]] == ["e", "b", "c", "a", "d"]
    assert s["n_images"] == 7 and s["n_scored"] == 6 and s["n_flagged"] == 5 and s["n_errors"] == 1
    assert s["severity_counts"] == {
        "major": 3,
        "relative: major": 1,
        "probable deficiency": 1,
        "none": 1,
    }
    assert s["flagged_severity_counts"]["major"] == 2
    assert s["flagged"][0]["label"] == "1 major ΔT 5.0 °C"
    md = summary_markdown(s)
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert [r.split("|")[2].strip() for r in rows] == ["e", "b", "c", "a", "d"]
    assert "bad.jpg: truncated" in md
    lines = summary_lines(s, top=2)
    assert lines[0].startswith("7 images: 6 scored, 5 flagged, 1 failed")
    assert lines[-2].endswith(" e  [1 major ΔT 5.0 °C]") and lines[-1].endswith(" b  [1 major ΔT 5.0 °C]")
    assert order_flagged([{"image": "z", "score": 1.0}, {"image": "y", "score": 1.0}])[0]["image"] == "y"


def test_images_the_model_calls_normal_but_hot_by_temperature_are_listed_apart():
    def unflagged(name, hotspot):
        return ImageResult(name, name, 0.5, False, 1.0, "m", [], severity="none", hotspot_severity=hotspot)

    images = [
        _entry("flag", 3.0, "major"),
        unflagged("hot", "major"),
        unflagged("rel", "relative: probable deficiency"),
        unflagged("warm", "possible deficiency"),
        unflagged("cold", "none"),
        unflagged("probable", "probable deficiency"),
    ]
    s = summarize(images, [])
    assert [f["image"] for f in s["flagged"]] == ["flag"]
    # worst hot spot first; "possible" and "none" are not listed; the image severity stays the model's
    assert [h["image"] for h in s["hot_not_flagged"]] == ["hot", "probable", "rel"]
    assert all(h["severity"] == "none" for h in s["hot_not_flagged"])
    assert s["severity_counts"]["none"] == 5
    md = summary_markdown(s)
    assert "## Not flagged by the model, hot by temperature" in md
    assert md.index("| 1 | hot | major |") < md.index("| 3 | rel | relative: probable deficiency |")
    lines = summary_lines(s)
    assert lines[-4] == "not flagged, but hot by temperature (3):" and lines[-3].strip().endswith("hot")


def test_a_flagged_images_severity_and_label_are_its_worst_finding():
    """A hot spot outside every learned region that rates worse than them sets a flagged image's severity
    (``image_report``) and the summary's label; an image the model does not flag keeps "none"."""
    from thermal_anomaly.records import HotSpot
    from thermal_anomaly.report import image_report

    spot = HotSpot(
        [10, 10, 20, 20],
        100,
        60.0,
        55.0,
        30.0,
        "similar",
        30.0,
        35.0,
        "C",
        "major",
        "major",
        "major",
        "point_overload",
        30.0,
    )
    region = Region([100, 100, 120, 120], 2.0, severity="none", unit="C")
    flagged = image_report([region], [spot], flagged=True)
    assert flagged.severity == "major" and flagged.hotspot_severity == "major"
    assert flagged.findings[0].severity == "major"
    assert image_report([region], [spot], flagged=False).severity == "none"
    spot = flagged.hotspots[0]
    assert spot.in_learned_region is False
    result = ImageResult("a", "a", 2.0, True, 1.0, "m", flagged.regions, severity="major", hotspots=[spot])
    assert summarize([result], [])["flagged"][0]["label"].startswith(f"H{spot.id} major ΔT 30.0")


def test_undecodable_temperatures_degrade_the_report_not_the_image(monkeypatch):
    import thermal_anomaly.thermal.temperature as temperature

    def broken(image, path=None):
        raise RuntimeError("tesseract\nfailed")

    monkeypatch.setattr(temperature, "temperature_map", broken)
    image = np.zeros((8, 8, 3), np.float32)
    temp, err = decode_temperatures(image)
    assert temp is None and err == "temperature decoding failed: tesseract failed"
    rep, temp = rate_image(image, None, [Region(box=[0, 0, 2, 2], score=2.0)])
    assert temp is None and rep.regions[0].severity == "none" and rep.hotspots == []
    assert rep.temperature.reason == err and rep.regions[0].max_temp is None


def _scene(seed: int, blob: bool = False) -> np.ndarray:
    """A warm body on a cool background, pseudo-coloured; optional hot spot."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    v = 0.2 + 0.1 * xx / 128 + rng.normal(0, 0.01, (96, 128)).astype(np.float32)
    v[20:76, 30:100] = 0.45
    if blob:
        v += 0.5 * np.exp(-((yy - 60) ** 2 + (xx - 45) ** 2) / (2 * 4.0**2))
    v = np.clip(v, 0, 1)
    return np.stack([v, v**2, 1 - v], axis=-1).astype(np.float32)


@pytest.mark.slow
def test_patchcore_explains_its_fused_map_from_the_same_pass():
    import torch

    from thermal_anomaly.detectors.patchcore import PatchCore

    det = PatchCore(img_size=64, mask_overlays=False, coreset_ratio=0.5).fit(
        [_scene(s) for s in range(3)], progress=False
    )
    faulty = _scene(9, blob=True)
    x, _valid = det.prepare([faulty])
    with torch.no_grad():
        parts = det._parts(x)
        assert torch.allclose(parts["fused"], det._raw_maps(x))  # the hook is what scoring uses
    (maps,) = det.explain([faulty])
    pred = det.score([faulty])
    assert pred.parts == []  # no extra work unless asked
    assert set(maps) == {"learned", "evidence", "fused"}
    assert all(m.shape == faulty.shape[:2] for m in maps.values())
    assert np.allclose(maps["fused"], pred.anomaly_map[0])
    # the heat-rise evidence peaks at the hot spot; the novelty map is not the fused map
    r, c = np.unravel_index(int(np.argmax(maps["evidence"])), maps["evidence"].shape)
    assert abs(r - 60) <= 6 and abs(c - 45) <= 6
    assert not np.allclose(maps["learned"], maps["fused"])


def test_annotated_picture_labels_only_the_hottest_spots_outside_the_regions(tmp_path, monkeypatch):
    """Eight hot spots outside the learned region: the picture draws the five hottest, the JSON keeps all."""
    from thermal_anomaly import pictures as pictures_mod
    from thermal_anomaly import visualize

    drawn = {}
    monkeypatch.setattr(visualize, "save_annotated", lambda *a, **kw: drawn.update(kw))
    monkeypatch.setattr(visualize, "save_six_panel", lambda *a, **kw: None)
    image = np.zeros((60, 200, 3), np.float32)
    temp = TemperatureMap(np.full((60, 200), 25.0, np.float32), "C", np.ones((60, 200), bool), "x", "", None)
    spots = [_spot([20 * k, 40, 20 * k + 5, 45], "probable deficiency", 12.0 - k) for k in range(1, 9)]
    rep = image_report([Region(box=[0, 0, 10, 10], score=2.0)], spots, temp)
    assert len(rep.hotspots) == 8
    pictures_mod.save_pictures(tmp_path, "x", image, rep, temp, None, np.zeros((60, 200), bool))
    assert [h.delta_t for h in drawn["hotspots"]] == [11.0, 10.0, 9.0, 8.0, 7.0]
    assert drawn["hotspot_labels"][0].startswith("H1 ")


def test_a_hot_spot_the_learned_model_finds_normal_is_capped_and_says_so():
    from thermal_anomaly.report import weigh_hotspots

    spots = [
        replace(_spot([0, 0, 4, 4], "major", 20.0), severity_similar="major", novelty=0.5),
        replace(_spot([10, 10, 14, 14], "probable deficiency", 6.0), novelty=1.6),
    ]
    quiet = weigh_hotspots(spots, flagged=False)
    # the unusual, probable spot now ranks first; the major-by-temperature one looks like normal images
    assert [h.severity for h in quiet] == ["probable deficiency", "possible deficiency"]
    assert quiet[1].severity_temperature == "major" and quiet[1].decided_by == "learned"
    assert quiet[0].decided_by == "similar"
    # in a flagged image whose map peaks on the major spot, that spot keeps up to "probable"
    flagged = weigh_hotspots(spots[:1], flagged=True, peak_novelty=0.52)
    assert flagged[0].severity == "probable deficiency" and flagged[0].decided_by == "learned"
    # ... but not when the map peaks elsewhere (the flag rests on something that is not hot)
    elsewhere = weigh_hotspots(spots[:1], flagged=True, peak_novelty=2.0)
    assert elsewhere[0].severity == "possible deficiency"
    # without a learned map the temperature decides alone
    bare = weigh_hotspots([replace(spots[0], novelty=None)], flagged=False)
    assert bare[0].severity == "major"


def test_findings_list_hot_spots_and_unexplained_learned_regions_worst_first():
    from thermal_anomaly.report import weigh_hotspots

    spots = weigh_hotspots(
        [
            replace(_spot([0, 0, 4, 4], "probable deficiency", 5.0), novelty=1.2),
            replace(_spot([20, 20, 24, 24], "probable deficiency", 4.0), novelty=3.0),
        ],
        flagged=True,
    )
    rep = image_report([Region(box=[40, 40, 50, 50], score=2.0, novelty=2.5)], spots)
    found = rep.findings
    assert [f.kind for f in found] == ["hotspot", "hotspot", "region"]
    assert found[0].box == [20, 20, 24, 24]  # 4 °C × 3.0 beats 5 °C × 1.2
    assert found[2].severity == "none" and found[2].decided_by == "learned"


def test_an_extreme_rise_keeps_its_rating_whatever_the_learned_map_says():
    from thermal_anomaly.report import weigh_hotspots

    extreme = replace(_spot([0, 0, 4, 4], "major", 35.0), novelty=0.3)  # 35 °C over its sister components
    hot_air = replace(_spot([0, 0, 4, 4], "major", 10.0), delta_t_ambient=45.0, novelty=0.3)
    ordinary = replace(_spot([0, 0, 4, 4], "major", 18.0), novelty=0.3)
    rated = {h.delta_t: h for h in weigh_hotspots([extreme, hot_air, ordinary], flagged=False)}
    assert rated[35.0].severity == "major" and rated[35.0].decided_by == "similar"
    assert rated[10.0].severity == "major"
    assert rated[18.0].severity == "possible deficiency" and rated[18.0].decided_by == "learned"
