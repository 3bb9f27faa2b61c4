#!/usr/bin/env bash
# Set up .venv and open JupyterLab on the quickstart notebook (extra arguments go to jupyter lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)   # jupyter refuses root without it (containers, VMs)
exec .venv/bin/jupyter lab notebooks/quickstart.ipynb "${extra[@]}" "$@"
