#!/usr/bin/env bash
# Installs fakesnow (Snowflake SQL on DuckDB, from PyPI) into a per-user venv for the optional
# test/integration/snowflake-fakesnow.test.ts. snowflake-connector-python 5 moved modules that
# fakesnow 0.12 imports (snowflake.connector.converter), hence the pin below 5.
set -euo pipefail
venv="${SLUICE_FAKESNOW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/fakesnow-venv}"
python="${PYTHON:-python3.11}"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet 'fakesnow[server]==0.12.1' 'snowflake-connector-python>=4,<5'
"$venv/bin/fakesnow" --help >/dev/null
echo "fakesnow installed in $venv"
