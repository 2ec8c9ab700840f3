#!/usr/bin/env bash
# Creates .venv holding the PyPI torch wheel whose bundled libtorch tch 0.26 links against,
# and .venv/gloo/include: gloo's headers (Debian's libgloo-dev, unpacked, no root needed),
# which declare the types of torch's ProcessGroupGloo for glcan-core's c10d shim (the code
# itself is in the wheel's libtorch_cpu). Idempotent: when both are there it returns in well
# under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
VENV=.venv
STAMP="$VENV/.torch-$TORCH_VERSION.ok"
GLOO_PACKAGE=libgloo-dev=0.0~git20220518.5b14351-3
GLOO_STAMP="$VENV/gloo/.${GLOO_PACKAGE//[=~]/-}.ok"

install_gloo_headers() {
  [[ -f "$GLOO_STAMP" ]] && return 0
  echo "setup-venv: unpacking gloo's headers ($GLOO_PACKAGE) into $VENV/gloo" >&2
  local tmp
  tmp=$(mktemp -d)
  # A fresh machine may have no package lists yet: refresh them once (as root) and retry.
  if ! (cd "$tmp" && apt-get download "$GLOO_PACKAGE" >/dev/null 2>"$tmp/apt.log") &&
    ! { [[ $(id -u) -eq 0 ]] && apt-get update -qq >>"$tmp/apt.log" 2>&1 &&
      (cd "$tmp" && apt-get download "$GLOO_PACKAGE" >/dev/null 2>>"$tmp/apt.log"); }; then
    echo "setup-venv: 'apt-get download $GLOO_PACKAGE' failed (Debian's package index reachable? try 'apt-get update'):" >&2
    cat "$tmp/apt.log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$VENV/gloo"
  mkdir -p "$VENV/gloo"
  dpkg -x "$tmp"/libgloo-dev_*.deb "$tmp/root"
  mv "$tmp/root/usr/include" "$VENV/gloo/include"
  rm -rf "$tmp"
  touch "$GLOO_STAMP"
}

if [[ -f "$STAMP" ]]; then
  install_gloo_headers
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
install_gloo_headers
echo "setup-venv: done" >&2
