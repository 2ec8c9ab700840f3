#!/usr/bin/env bash
# Creates .venv holding the PyPI torch wheel whose bundled libtorch tch 0.26 links against.
# Idempotent: when the pinned torch is already there it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
VENV=.venv
STAMP="$VENV/.torch-$TORCH_VERSION.ok"

if [[ -f "$STAMP" ]]; then
  exit 0
fi

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup-venv: '$PYTHON' not found; install CPython 3.11 (apt-get install python3 python3-venv) and rerun" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  echo "setup-venv: $("$PYTHON" --version 2>&1) found, but the build expects CPython 3.11 (.venv/lib/python3.11); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

echo "setup-venv: creating $VENV with torch==$TORCH_VERSION (one-off, about a minute, ~4.7 GB)" >&2
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/pip" install --disable-pip-version-check --no-input "torch==$TORCH_VERSION"; then
  echo "setup-venv: 'pip install torch==$TORCH_VERSION' failed; check that PyPI is reachable (pip config list) and rerun 'make setup'" >&2
  exit 1
fi
"$VENV/bin/python" - <<PY
import torch, sys
assert torch.__version__.split("+")[0] == "$TORCH_VERSION", torch.__version__
PY
touch "$STAMP"
echo "setup-venv: done" >&2
