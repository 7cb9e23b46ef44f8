"""Where the JavaScript SDKs the collector's tests run are: installed exactly as locked
(``npm ci`` in ``js/``), with the browser SDK's UMD build the test pages load."""

from pathlib import Path

JS = Path(__file__).parent / "js"
BUNDLES = JS / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
INSTALL_HINT = "run `make test` as root (it installs Debian's chromium and runs npm ci)"
