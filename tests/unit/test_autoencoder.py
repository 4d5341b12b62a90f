"""AutoEncoder shapes as specified, training behaviour and the model file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermal_anomaly import ModelError, create_detector, load_detector
from thermal_anomaly.detectors.autoencoder import AnomalyAutoEncoder, ImprovedAutoEncoder, augment


def test_basic_autoencoder_shapes_match_the_specification():
    model = AnomalyAutoEncoder().eval()
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        latent = model.encoder(x)
        amap, recon = model.get_anomaly_map(x)
    assert latent.shape == (2, 128, 8, 8)
    assert recon.shape == (2, 3, 256, 256) and amap.shape == (2, 256, 256)
    assert float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0
    assert torch.allclose(amap, (x - recon).abs().mean(dim=1))
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 128]
    assert all(c.kernel_size == (3, 3) and c.stride == (2, 2) for c in convs)


def test_unet_autoencoder_has_skips_and_512_bottleneck():
    model = ImprovedAutoEncoder().eval()
    x = torch.rand(1, 3, 64, 64)
    assert model(x).shape == (1, 3, 64, 64)
    assert model.bottleneck[0].out_channels == 512
    assert [b[0].out_channels for b in model.enc] == [32, 64, 128, 256]
    assert model.dec[0][0].in_channels == 512  # 256 upsampled + 256 skip


def test_augment_keeps_range_and_is_seeded():
    x = torch.rand(4, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, x)


def _scenes(n: int, seed: int = 0, size: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        base = 0.3 + 0.2 * xx + 0.05 * rng.standard_normal((size, size))
        out.append(np.clip(np.stack([base, 0.5 * base, 1 - base], -1), 0, 1).astype(np.float32))
    return out


@pytest.mark.slow
def test_training_reduces_loss_and_flags_a_hot_spot(tmp_path):
    torch.manual_seed(0)
    normals = _scenes(10)
    det = create_detector(
        "autoencoder", img_size=64, epochs=25, batch_size=4, patience=50, mask_overlays=False
    )
    det.fit(normals, progress=False)
    hist = det.history_["train_loss"]
    assert hist[-1] < 0.5 * hist[0]
    faulty = _scenes(1, seed=99)[0].copy()
    faulty[20:32, 20:32] = [1.0, 1.0, 0.9]
    pred = det.score([_scenes(1, seed=98)[0], faulty])
    assert pred.pred_score[1] > pred.pred_score[0]
    amap = pred.anomaly_map[1]
    y, x = np.unravel_index(np.argmax(amap), amap.shape)
    assert 14 <= y <= 38 and 14 <= x <= 38
    path = det.save(tmp_path / "ae.pth")
    again = load_detector(path)
    assert type(again) is type(det) and again.threshold_ == det.threshold_
    np.testing.assert_allclose(again.score([faulty]).pred_score, pred.pred_score[1:], rtol=1e-5)
    payload = torch.load(path, weights_only=True)
    assert "model_state_dict" in payload and payload["config"]["img_size"] == 64


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"not a model at all", "not a readable"), (None, "not found")],
)
def test_bad_model_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "model.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_detector(path)


def test_foreign_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "foreign.pth"
    torch.save({"model_state_dict": AnomalyAutoEncoder().state_dict()}, path)
    with pytest.raises(ModelError, match="not a thermal-anomaly model"):
        load_detector(path)


class _RunsCode:
    """What a malicious checkpoint carries: unpickling it would call ``_ran``."""

    def __reduce__(self):
        return (_ran, ())


_RAN: list[int] = []


def _ran() -> None:
    _RAN.append(1)


@pytest.mark.parametrize("kind", ["code", "garbage", "truncated"])
def test_a_model_file_that_is_no_model_is_refused_without_advice_to_load_it_unsafely(tmp_path, kind):
    """PyTorch answers such files with advice to reload them with ``weights_only=False`` (running whatever
    code they carry); the tool's message names the file and the problem and never repeats that advice."""
    path = tmp_path / "model.pth"
    if kind == "code":
        torch.save({"format": "thermal-anomaly", "x": _RunsCode()}, path)
    elif kind == "garbage":
        path.write_bytes(b"\x80\x04not a model at all" * 10)
    else:
        good = tmp_path / "good.pth"
        torch.save({"x": torch.zeros(1000)}, good)
        path.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ModelError) as err:
        load_detector(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a readable thermal-anomaly model file (")
    assert "weights_only" not in message and "\n" not in message and not _RAN
    if kind == "code":
        assert "objects other than tensors" in message
