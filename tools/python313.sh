#!/usr/bin/env bash
# Print the path of a Python 3.13 interpreter: python3.13 or python3 on PATH, else pyenv's.
# One clear line on stderr and exit 1 where there is none. Every venv of the project uses it.
set -u
runs_313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }
for candidate in python3.13 python3; do
  # pyenv's shims are on PATH even when they refuse to run, so each one is tried, not trusted.
  path="$(command -v "$candidate" 2>/dev/null)" || continue
  if runs_313 "$path"; then
    # A shim re-resolves on every call; hand out the interpreter it ran.
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for path in $(ls -d "$(pyenv root)"/versions/3.13*/bin/python3 2>/dev/null | sort -V -r); do
    if runs_313 "$path"; then echo "$path"; exit 0; fi
  done
fi
echo "error: Python 3.13 is needed and none was found (tried python3.13, python3 and pyenv); install it, e.g. 'apt-get install python3' on Debian 13 or 'pyenv install 3.13'" >&2
exit 1
