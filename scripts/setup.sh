#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with everything the demo and
# the tests need. Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet -e ".[dev,demo]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import procwidgets, ipywidgets, plotly, psutil, pytest, nbclient, jupyterlab" \
    || { echo "setup failed: see the pip messages above" >&2; exit 1; }
