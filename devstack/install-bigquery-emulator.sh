#!/usr/bin/env bash
# Install local-bigquery into its own Python 3.13 venv, with DuckDB pinned to a release whose
# extensions ship as wheels, then register those extensions under the HOME the server runs with,
# so nothing is downloaded at run time. Usage: install-bigquery-emulator.sh UV VENV HOME_DIR
set -euo pipefail
uv="$1" venv="$2" home="$3"

python313=""
if command -v pyenv >/dev/null 2>&1 && [ -x "$(pyenv root)/versions/3.13.0/bin/python3" ]; then
  python313="$(pyenv root)/versions/3.13.0/bin/python3"
else
  for candidate in python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    # pyenv's shim exists even when it refuses to run, so check that it actually runs.
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      python313="$(command -v "$candidate")"
      break
    fi
  done
fi
if [ -z "$python313" ]; then
  echo "error: the BigQuery emulator (local-bigquery) needs Python 3.13 and none was found." >&2
  echo "       Install one (e.g. 'pyenv install 3.13.0') and run make again." >&2
  exit 1
fi

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
