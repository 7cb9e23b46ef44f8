"""The JavaScript SDKs the collector's tests run: where they are (installed exactly as locked,
``npm ci`` in ``js/``), the shop page that loads the browser SDK, and the browser it runs in."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser

JS = Path(__file__).parent / "js"
BUNDLES = JS / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
INSTALL_HINT = "run `make test` as root (it installs Debian's chromium and runs npm ci)"


class PageFiles(SimpleHTTPRequestHandler):
    """The shop page, its script, and the SDK's bundles where its CDN would serve them."""

    def translate_path(self, path: str) -> str:
        path = urlsplit(path).path
        if path.startswith("/analytics-next/bundles/"):
            return str(BUNDLES / Path(path).name)
        return str(JS / ("page.html" if path == "/" else Path(path).name))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class PageServer:
    server: ThreadingHTTPServer = field(
        default_factory=lambda: ThreadingHTTPServer(("127.0.0.1", 0), partial(PageFiles))
    )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PageServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def shopper_agent(browser: Browser) -> str:
    """The user agent of a shopper's Chrome of this version: headless Chromium names itself
    HeadlessChrome, which the collector drops as a crawler (collector/bots.py)."""
    page = browser.new_page()
    try:
        agent: str = page.evaluate("navigator.userAgent")
    finally:
        page.close()
    return agent.replace("HeadlessChrome", "Chrome")
