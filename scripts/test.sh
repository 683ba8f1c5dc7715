#!/usr/bin/env bash
# Set up a virtual environment (once) and run every check: ruff, mypy, the layer
# contracts (import-linter, [tool.importlinter] in pyproject.toml), the test suite.
# Usage: ./scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
# System tools some tests drive (a real browser, PDF to text, the SAT XSLT with
# xsltproc). Installed from Debian's packages when we can; tests that need a
# missing one skip and say why.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v xsltproc >/dev/null 2>&1 || missing+=(xsltproc)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== apt-get install ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "no se pudieron instalar ${missing[*]}; las pruebas que los usan se omitirán" >&2
fi
echo "== ruff"
.venv/bin/ruff check cfdi_cobranza web tests bench scripts
echo "== mypy"
.venv/bin/mypy cfdi_cobranza web
echo "== lint-imports"
.venv/bin/lint-imports --no-cache
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
