#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh Debian machine: system packages, a virtualenv in .venv, and
# the project with all extras. Re-runs are fast: each step is skipped when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg rtsp-server-perl fonts-noto-cjk postgresql chromium nodejs)
TORCH=("torch==2.14.1" "torchvision==0.29.1")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "${TORCH[@]}"
  .venv/bin/pip install -q -e '.[all]'
  echo "$want" > "$stamp"
fi
# Ultralytics must never reach the network (settings sync, font downloads).
export YOLO_OFFLINE=1
.venv/bin/yolo settings sync=False >/dev/null 2>&1 || true
