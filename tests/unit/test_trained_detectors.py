"""FastFlow, CFlow-AD and DRAEM on a few real normals: a synthetic heat fault must score higher than a
held-out normal, model files must round-trip exactly and refuse damaged contents; the flow blocks' and
the thermal anomalies' arithmetic is checked on its own."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thermal_anomaly import create_detector, load_detector
from thermal_anomaly.detectors import DETECTORS, Detector
from thermal_anomaly.detectors.cflow import CFlow
from thermal_anomaly.detectors.draem import Draem, heat_profile, palette_table, render, thermal_anomaly
from thermal_anomaly.detectors.fastflow import FastFlow
from thermal_anomaly.detectors.flows import AffineCoupling, Flow, nll_per_dim, positional_encoding
from thermal_anomaly.errors import ModelError
from thermal_anomaly.io import read_image
from thermal_anomaly.thermal.analysis import ThermalAnalysis

#: tiny configurations: a fit takes seconds (the behaviour, not the accuracy, is under test)
TINY = {
    "fastflow": dict(img_size=96, n_blocks=2, max_epochs=4, patience=2),
    "cflow": dict(img_size=96, n_blocks=2, max_epochs=4, patience=2, pe_channels=8),
    "draem": dict(img_size=96, net_size=48, width=4, steps=25, train_batch=4),
}
#: working side of the test pictures (T1 is 640 px; half of it keeps preparing cheap)
SIDE = 320


def _picture(path: Path) -> np.ndarray:
    return cv2.resize(read_image(path), (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def _heat_fault(image: np.ndarray) -> np.ndarray:
    """A joint overheating: a blurred disc of +0.4 scale positions on a warm (not already saturated) part
    of the scene, rendered through the picture's own palette (overlays kept out of it)."""
    a = ThermalAnalysis(image)
    pos, valid = a.relative(a.overlay)
    valid &= ~cv2.dilate(a.overlay.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    warm = cv2.GaussianBlur(pos, (0, 0), 6)
    target = np.quantile(warm[valid], 0.8)
    cy, cx = np.unravel_index(int(np.argmin(np.where(valid, np.abs(warm - target), np.inf))), warm.shape)
    disc = np.zeros(pos.shape, np.float32)
    cv2.circle(disc, (int(cx), int(cy)), 10, 1.0, -1)
    heat = cv2.GaussianBlur(disc, (0, 0), 3)
    heat /= heat.max()
    table = palette_table(image, pos, valid)
    return np.clip(image + render(table, pos + 0.4 * heat) - render(table, pos), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def pictures(dev_data: Path) -> dict[str, list]:
    """Three T1 normals to fit on (analyses, so the detectors share their overlay and scale reading), a
    held-out normal and the same with a heat fault."""
    normal = [_picture(dev_data / "T1" / "normal" / f"T1_normal_00{i}.jpg") for i in (1, 2, 3, 4)]
    return {
        "train": [ThermalAnalysis(im) for im in normal[:3]],
        "test": [ThermalAnalysis(normal[3]), ThermalAnalysis(_heat_fault(normal[3]))],
    }


@pytest.fixture(scope="module")
def fitted(pictures) -> dict[str, Detector]:
    torch.manual_seed(0)
    return {
        name: create_detector(name, **cfg).fit(pictures["train"], groups=["T1"] * 3, progress=False)
        for name, cfg in TINY.items()
    }


def test_registered_and_configs_round_trip():
    assert DETECTORS["fastflow"] is FastFlow and DETECTORS["cflow"] is CFlow and DETECTORS["draem"] is Draem
    for name, cfg in TINY.items():
        det = create_detector(name, **cfg, seed=3)
        clone = det.clone()
        assert clone.get_config() == det.get_config() and clone.seed == 3
    assert CFlow(pe_channels=12).get_config()["pe_channels"] == 12
    with pytest.raises(ValueError, match="anomalies"):
        Draem(anomalies="dtd")
    with pytest.raises(ValueError, match="kinds"):
        Draem(kinds=("spark",))


def test_draem_channels_keep_the_fusions_layout(pictures):
    """Channels 3-4 are what the heat fusion reads (rise, excess), the scale position comes last, with or
    without the component scale and with the fusion off."""
    a = pictures["train"][0]
    both = Draem(img_size=64)._extra_channel(a, a.overlay)
    rise_only = Draem(img_size=64, component_size=0.0)._extra_channel(a, a.overlay)
    plain = Draem(img_size=64, hotspot_fusion=False)._extra_channel(a, a.overlay)
    assert both.shape[-1] == 3 and rise_only.shape[-1] == 3 and plain.ndim == 2
    np.testing.assert_array_equal(rise_only[..., 0], rise_only[..., 1])
    np.testing.assert_array_equal(both[..., 2], rise_only[..., 2])


@pytest.mark.slow  # trains three tiny detectors (the module fixture)
@pytest.mark.parametrize("name", list(TINY))
def test_heat_fault_raises_the_map_where_it_is(fitted, pictures, name):
    """The map over the added hot joint is higher than over the same place in the held-out normal, and
    higher than the faulty picture's own median. Not the image score: these tiny models (a few epochs) are
    not trained to rank whole pictures, and at this size T1's own hottest-looking things hold the image
    maximum in both pictures (its colour bar, 2 px wide here, is not found, so the palette is guessed, now
    FLIR's rainbow, and the bar strip and the camera's red spot ring read as the hot end)."""
    det = fitted[name]
    assert det.is_fitted and np.isfinite(det.threshold_)
    normal, faulty = pictures["test"]
    pred = det.score([normal, faulty], groups=["T1", "T1"])
    fault = np.abs(faulty.rgb - normal.rgb).max(axis=-1) > 0.05
    assert fault.sum() > 100
    on = [float(m[fault].mean()) for m in pred.anomaly_map]
    assert on[1] > on[0] and on[1] > float(np.median(pred.anomaly_map[1])), (name, on)


@pytest.mark.slow  # trains three tiny detectors (the module fixture)
@pytest.mark.parametrize("name", list(TINY))
def test_save_load_gives_identical_maps(fitted, pictures, name, tmp_path):
    det = fitted[name]
    path = det.save(tmp_path / f"{name}.pth")
    back = load_detector(path)
    assert type(back) is type(det) and back.get_config() == det.get_config()
    a = det.score(pictures["test"], groups=["T1", "T1"])
    b = back.score(pictures["test"], groups=["T1", "T1"])
    np.testing.assert_array_equal(a.pred_score, b.pred_score)
    for ma, mb in zip(a.anomaly_map, b.anomaly_map, strict=True):
        np.testing.assert_array_equal(ma, mb)


@pytest.mark.slow  # trains three tiny detectors (the module fixture)
@pytest.mark.parametrize("name", list(TINY))
def test_damaged_model_file_is_a_model_error(fitted, name, tmp_path):
    path = fitted[name].save(tmp_path / f"{name}.pth")
    payload = torch.load(path, weights_only=True)
    state = payload[payload["state_key"]]
    key = next(k for k in state if k.endswith("weight"))
    state[key] = state[key][:1]  # a weight of the wrong shape
    torch.save(payload, tmp_path / "bad.pth")
    with pytest.raises(ModelError, match="does not match"):
        load_detector(tmp_path / "bad.pth")
    del state[key]  # a missing weight
    torch.save(payload, tmp_path / "missing.pth")
    with pytest.raises(ModelError):
        load_detector(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    with pytest.raises(ModelError):
        load_detector(tmp_path / "junk.pth")


def test_coupling_log_determinant_is_the_jacobians():
    torch.manual_seed(0)
    flow = Flow(4, [1, 1], hidden_ratio=2.0, cond_channels=2)
    for p in flow.parameters():  # leave the identity start, so the test has something to check
        torch.nn.init.normal_(p, std=0.3)
    x, cond = torch.randn(1, 4, 1, 1), torch.randn(1, 2, 1, 1)
    z, logdet = flow(x, cond)
    jac = torch.autograd.functional.jacobian(
        lambda v: flow(v.reshape(1, 4, 1, 1), cond)[0].reshape(4), x.reshape(4)
    )
    assert torch.allclose(logdet.reshape(()), torch.linalg.slogdet(jac).logabsdet, atol=1e-4)
    # an untrained block is the identity, so the loss starts at a standard normal's
    fresh = AffineCoupling(6, hidden=8, kernel=3)
    y, ld = fresh(torch.randn(2, 6, 5, 5))
    assert torch.equal(ld, torch.zeros_like(ld))
    assert nll_per_dim(y, ld).shape == (2, 5, 5)
    pe = positional_encoding(8, 3, 5)
    assert pe.shape == (8, 3, 5) and not torch.equal(pe[:, 0, 0], pe[:, 2, 4])


def test_thermal_anomaly_is_heat_through_the_pictures_own_palette():
    # a picture whose colour rises with position along one palette ramp
    pos = np.tile(np.linspace(0.1, 0.7, 64, dtype=np.float32), (64, 1))
    ramp = np.stack([np.linspace(0, 1, 64), np.linspace(0, 1, 64) ** 2, 1 - np.linspace(0, 1, 64)], -1)
    table_true = ramp.astype(np.float32)
    rgb = render(table_true, pos)
    valid = np.ones(pos.shape, bool)
    table = palette_table(rgb, pos, valid)
    assert np.abs(render(table, pos) - rgb).max() < 0.05  # the picture's own colours come back
    assert np.allclose(render(table, np.full((1,), 5.0)), table[-1])  # past the top: saturates
    rng = np.random.default_rng(0)
    out, label = thermal_anomaly(rgb, pos, valid, rng)
    assert label.any() and out.shape == rgb.shape
    changed = np.abs(out - rgb).sum(-1) > 1e-6
    assert changed[label].all() and changed.mean() < 0.5  # local
    # hotter: the red channel (rising with position here) goes up where it changed
    assert (out[..., 0][changed] >= rgb[..., 0][changed] - 1e-6).all()
    heat = heat_profile(pos, valid, np.random.default_rng(1))
    assert heat.max() == pytest.approx(1.0) and heat.min() >= 0
