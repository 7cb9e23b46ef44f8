"""make run's stand-in for the backfill's Cloud Scheduler job (localcloud/run.py)."""

import threading

import pytest
import requests

from localcloud.run import run_schedule


def test_it_pushes_every_interval_until_stopped_and_goes_on_after_a_failed_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stopping = threading.Event()
    runs: list[int] = []

    def push() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise requests.ConnectionError("refused")
        if len(runs) == 3:
            stopping.set()

    run_schedule(push, 0, stopping)

    assert runs == [0, 1, 2]
    assert "the scheduled run failed: refused" in capsys.readouterr().err


def test_it_pushes_nothing_once_stopped() -> None:
    stopping = threading.Event()
    stopping.set()
    runs: list[None] = []

    run_schedule(lambda: runs.append(None), 0, stopping)

    assert runs == []
