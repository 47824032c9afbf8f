#!/usr/bin/env bash
# pytest beside two CPU-bound processes, as on a busy CI machine: what the RTSP, Ray and browser
# tests wait for (stream opens, worker start-up, node loss) comes late there, and a wait sized
# for a quiet machine fails. Default: the RTSP and Ray tests; other pytest arguments replace it,
# e.g. `bash scripts/test-under-load.sh tests/ui`. Runs in the .venv that scripts/setup.sh makes;
# the burners end with the script, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" YOLO_OFFLINE=1 PYTHONHASHSEED=0

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM
for _ in 1 2; do
  python3 -c 'while 1: pass' &
  burners+=("$!")
done
echo "test-under-load: CPU burners ${burners[*]} running beside pytest"

(($#)) || set -- -m "rtsp or ray"
pytest "$@"
