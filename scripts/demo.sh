#!/usr/bin/env bash
# Set up (if needed) and run the main job on embedded defaults: detect street disorder on a sample
# source with the project's default model and write detections.jsonl plus annotated output to out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" YOLO_OFFLINE=1
sample="${1:-}"
if [ -z "$sample" ]; then
  if [ -f ../shared/videos/vtest.avi ]; then
    sample=../shared/videos/vtest.avi
  else
    sample="$(python -c 'import pathlib, ultralytics; print(pathlib.Path(ultralytics.__file__).parent / "assets")')"
  fi
fi
shirong detect "$sample" --out out/demo --fps 5
echo "Annotated output and detections.jsonl are in out/demo/"
