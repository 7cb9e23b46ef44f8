"""The operator command's failures: one line naming what stopped, never a traceback. Its
success paths run on the real emulators in tests/integration/test_cost_guard.py."""

import socket
from typing import Any

import pytest

from event_capture.cost_guard.archive_load import LoadError
from event_capture.cost_guard.guard import CostGuard
from tools import cost_guard


class FailingGuard(CostGuard):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def resume(self, reason: str = "") -> Any:
        raise self.error

    def trip(self, reason: str = "") -> Any:
        raise self.error

    def status(self) -> Any:
        raise self.error


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["resume", "trip", "status"])
def test_a_step_that_fails_is_one_line_saying_to_run_it_again(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    error = LoadError("loading 3 rows into p.events.searches: row 1: no such field: x")

    assert cost_guard.main([command], guard=FailingGuard(error)) == 1

    err = capsys.readouterr().err
    assert err == (
        f"error: {command} stopped: LoadError: loading 3 rows into p.events.searches: "
        "row 1: no such field: x; run it again\n"
    )


def test_a_notification_nobody_answers_is_one_line_naming_the_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"

    assert cost_guard.main(["notify", "--cost", "6", "--url", url]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"error: no cost guard answered at {url}: ConnectionError")
    assert err.count("\n") == 1


def test_a_missing_setting_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCP_PROJECT", "shop")
    monkeypatch.setenv("GCS_BUCKET", "shop-events")
    monkeypatch.delenv("CAPTURE_MODE_BUCKET", raising=False)

    assert cost_guard.main(["status"]) == 2

    assert capsys.readouterr().err.startswith("error: CAPTURE_MODE_BUCKET: required")


def test_an_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cost_guard.main(["pause"])

    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("error: argument command: invalid choice")
