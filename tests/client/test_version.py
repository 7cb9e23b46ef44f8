"""event_capture.client.version: the client's version, and the User-Agent every request carries."""

import importlib.metadata
import platform
import tomllib
from pathlib import Path

import pytest

from event_capture.client.version import USER_AGENT, client_version
from tests.client.stub_function import Reply, stub_function
from tests.client.test_proxy import send_one

PYPROJECT = Path(__file__).resolve().parents[2] / "client" / "pyproject.toml"
# The User-Agent test sends through the environment's proxies, if any: none here.
pytestmark = pytest.mark.usefixtures("no_proxy_variables")


def test_every_request_carries_the_versioned_user_agent() -> None:
    with stub_function(Reply(503), Reply(500)) as stub:
        send_one(stub.url)

    assert len(stub.headers) == 3  # two retries and the delivery
    assert {h["User-Agent"] for h in stub.headers} == {USER_AGENT}
    with PYPROJECT.open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    assert f"event-capture-client/{version} (python {platform.python_version()})" == USER_AGENT


def test_the_version_is_the_installed_distributions_else_the_checkouts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with PYPROJECT.open("rb") as file:
        checkout = tomllib.load(file)["project"]["version"]
    assert client_version() == checkout  # this venv finds the sources; nothing is installed

    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "someone-else"\nversion = "9.9.9"\n')
    assert client_version(other) == "0+unknown"
    assert client_version(tmp_path / "missing.toml") == "0+unknown"

    installed = {"event-capture-client": "1.2.3"}
    monkeypatch.setattr(importlib.metadata, "version", lambda name: installed[name])
    assert client_version() == "1.2.3"
