#!/usr/bin/env bash
# Set up a virtual environment (once) and run every check: ruff, mypy, the test suite.
# Usage: ./scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
echo "== ruff"
.venv/bin/ruff check cfdi_cobranza web tests bench scripts
echo "== mypy"
.venv/bin/mypy cfdi_cobranza
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest no ejecutó ninguna prueba: eso es un fallo." >&2
  exit 1
fi
exit "$rc"
