"""The docs' picture of the report: ``python -m tools.report_screenshot [REPORT] [PNG]`` opens the
page ``make report`` wrote in Debian's headless Chromium (``make chromium``), as the report's
test does, and saves a full-page screenshot (default: report.html to docs/report.png).
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import ViewportSize, sync_playwright

# The report test's viewport: the page's charts are laid out for it.
VIEWPORT: ViewportSize = {"width": 1100, "height": 900}


def main(argv: list[str]) -> None:
    page_path = Path(argv[0] if argv else "report.html")
    png = Path(argv[1] if len(argv) > 1 else "docs/report.png")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("error: chromium is not installed; run `make chromium` (as root)")
    if not page_path.is_file():
        sys.exit(f"error: no {page_path}; run `make report` first")
    with sync_playwright() as playwright:
        # No name resolves: the page needs no network, and a picture of it must not either.
        args = ["--host-resolver-rules=MAP * ~NOTFOUND"]
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        tab = browser.new_page(viewport=VIEWPORT)
        tab.goto(page_path.resolve().as_uri())
        # Vega draws after the page's load event; the page marks when every chart is drawn.
        tab.wait_for_function("document.body.dataset.charts !== undefined", timeout=60_000)
        state = tab.evaluate("document.body.dataset.charts")
        tab.screenshot(path=png, full_page=True)
        browser.close()
    if state != "ready":
        sys.exit(f"error: the charts did not draw ({state}); {png} shows the page as it is")
    print(f"wrote {png}")


if __name__ == "__main__":
    main(sys.argv[1:])
