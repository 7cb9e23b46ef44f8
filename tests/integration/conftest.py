"""The real local cloud, started once per test session on free loopback ports.

BigQuery is local-bigquery, Cloud Storage is fake-gcs-server, Redis is redis-server: the same
processes ``make run`` uses. Tests that stop an emulator restart it on the same port before
they end (``LocalCloud.outage``), so later tests see a healthy cloud. Every test under this
directory is marked ``integration``; ``pytest -m "not integration"`` starts nothing.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from event_capture.ingest.answer import capture_answer
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.sample_events import sample_event
from tests.integration.js_sdks import BUNDLES, INSTALL_HINT, JS, PageServer

HERE = Path(__file__).parent
PROJECT = "capture-test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    settings = CloudSettings(
        project=PROJECT,
        dataset="events",
        bucket=f"{PROJECT}-events",
        data_dir=tmp_path_factory.mktemp("localcloud"),
        log_dir=tmp_path_factory.mktemp("logs"),
        redis=True,
        # A filesystem backend, so objects (dead letters) survive the restarts tests do.
        persistent_gcs=True,
        function_env={
            # redis-server runs, but only the tests that enable the Redis sink write to it,
            # as the function's own default is off.
            "REDIS_ENABLED": "false",
            # Generous: a starved CI machine can take seconds per request. The tests that
            # stop a backend shorten these to stay quick.
            "BIGQUERY_DEADLINE_SECONDS": "60",
            "GCS_DEADLINE_SECONDS": "30",
            "REDIS_TIMEOUT_SECONDS": "10",
        },
    )
    with LocalCloud(settings) as cloud:
        # The emulator's first insert and query load its SQL engine; pay that here, not
        # inside a test with a deadline.
        capture_answer(
            cloud.pipeline(GCS_ENABLED="false").handle([sample_event("search")], batch=False)
        )
        cloud.rows("searches", [])
        yield cloud


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, headless, able to reach the loopback only."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(f"chromium is not installed; {INSTALL_HINT}", pytrace=False)
    if not (BUNDLES / "index.js").is_file():
        pytest.fail(f"@segment/analytics-next is not installed; {INSTALL_HINT}", pytrace=False)
    with sync_playwright() as playwright:
        # No name but the loopback resolves: the page cannot reach Segment's CDN or API.
        args = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def node() -> str:
    """The path of Node, with @segment/analytics-node installed beside the scripts."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed (Debian: apt-get install -y nodejs)", pytrace=False)
    if not (JS / "node_modules" / "@segment" / "analytics-node").is_dir():
        pytest.fail(f"@segment/analytics-node is not installed; {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def shop() -> Iterator[PageServer]:
    """The shop page and the browser SDK's bundles, served on a loopback origin of their own."""
    with PageServer() as server:
        yield server
