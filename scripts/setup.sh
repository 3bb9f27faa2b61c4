#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with everything the demo and
# the tests need. Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# With --browser (scripts/test.sh): the browser tests drive Debian's Chromium (never a browser
# downloaded by Playwright).
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's chromium for the browser tests..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
            > /dev/null || echo "could not install chromium: the browser tests will be skipped" >&2
    else
        echo "note: /usr/bin/chromium is missing (apt-get install chromium); the browser tests will be skipped" >&2
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet -e ".[dev,demo]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import procwidgets, ipywidgets, plotly, psutil, pytest, nbclient, jupyterlab" \
    || { echo "setup failed: see the pip messages above" >&2; exit 1; }
