#!/usr/bin/env bash
# Set up (if needed) and run every quality gate: ruff lint, ruff format check, mypy,
# import-linter (pyproject's [tool.importlinter] contracts), a syntax check of the UI's
# JavaScript, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" YOLO_OFFLINE=1 PYTHONHASHSEED=0
echo "== ruff check";  ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy";        mypy
echo "== lint-imports"; lint-imports
# The UI's files are ES modules: parsed as such from stdin, since `node --check file.js` can pass
# a module with a syntax error.
echo "== node --check"
for js in serving/ui/js/*.js; do
  node --input-type=module --check <"$js" || { echo "node --check: syntax error in $js"; exit 1; }
done
echo "== pytest";      pytest "$@"
