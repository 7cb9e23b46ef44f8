#!/usr/bin/env bash
# Debian's python3 comes without pip (package python3-pip); uv is bootstrapped with pip once.
# As root this installs it; otherwise it says, in one line, what to install.
set -euo pipefail
python="$1"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing pip for $python (Debian package python3-pip)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip) >/dev/null
  "$python" -m pip --version >/dev/null 2>&1 && exit 0
fi
echo "error: $python has no pip; install it (Debian: apt-get install python3-pip) and run make again" >&2
exit 1
