#!/usr/bin/env bash
# Set up (if needed) and run every quality gate: ruff lint, ruff format check, mypy,
# import-linter (pyproject's [tool.importlinter] contracts), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" YOLO_OFFLINE=1 PYTHONHASHSEED=0
echo "== ruff check";  ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy";        mypy
echo "== lint-imports"; lint-imports
echo "== pytest";      pytest "$@"
