#!/usr/bin/env bash
# Set up a virtual environment (once), create the SQLite database with demo data
# (once) and start the web UI on http://127.0.0.1:5000. Prints the demo logins.
# Usage: ./scripts/demo.sh [--port 5000]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e . >/dev/null
export COBRANZA_DATABASE_URL=${COBRANZA_DATABASE_URL:-sqlite:///demo.db}
export COBRANZA_INSTANCE=${COBRANZA_INSTANCE:-$PWD/instance}
if [ ! -f instance/demo-usuarios.txt ] || [ ! -f demo.db ]; then
  .venv/bin/cobranza init --demo
else
  .venv/bin/cobranza init
  echo "Usuarios de demostración (instance/demo-usuarios.txt):"
  sed 's/^/  /; s/\t/ \/ /; s/\t/  (/; s/$/)/' instance/demo-usuarios.txt
fi
exec .venv/bin/cobranza serve "$@"
