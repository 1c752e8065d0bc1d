#!/usr/bin/env bash
# Creates .venv with packages/trainer/requirements.txt. Where pip is configured with a local package mirror
# (`pip config get global.extra-index-url`), that mirror is used as the index, so pip never waits on an
# unreachable default index.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
args=()
mirrors=$(python3 -m pip config get global.extra-index-url 2>/dev/null || true)
if [ -n "$mirrors" ]; then
  read -r -a list <<<"$mirrors"
  args+=(--index-url "${list[0]}")
  for m in "${list[@]:1}"; do args+=(--extra-index-url "$m"); done
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "${args[@]}" -r packages/trainer/requirements.txt
.venv/bin/python -c "import torch, onnx, onnxruntime; print('python ok: torch', torch.__version__, 'onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__)"
