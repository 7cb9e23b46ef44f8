#!/usr/bin/env bash
# Install local-bigquery into its own Python 3.13 venv, with DuckDB pinned to a release whose
# extensions ship as wheels, then register those extensions under the HOME the server runs with,
# so nothing is downloaded at run time. Usage: install-bigquery-emulator.sh UV PYTHON3.13 VENV HOME_DIR
set -euo pipefail
uv="$1" python313="$2" venv="$3" home="$4"

rm -rf "$venv"
"$uv" venv --quiet --python "$python313" "$venv"
"$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" -r requirements/bigquery-emulator.txt
"$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" -r requirements/bigquery-emulator-duckdb.txt
mkdir -p "$home"
HOME="$home" "$venv/bin/python" - <<'PY'
import glob
import site

import duckdb

connection = duckdb.connect()
files = glob.glob(site.getsitepackages()[0] + "/duckdb_extension_*/extensions/*/*.duckdb_extension")
if not files:
    raise SystemExit("error: no DuckDB extension files found in the emulator venv")
for path in files:
    connection.execute(f"INSTALL '{path}'")
print(f"BigQuery emulator ready: {len(files)} DuckDB extensions installed offline")
PY
