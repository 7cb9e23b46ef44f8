"""bench/request_path.py runs end to end on its own local cloud (a few requests a batch): it
prints every sink's time for both functions and the own time it fits. Its figures are not
checked here; they are what the benchmark is for."""

import pytest

from bench import request_path


def test_the_request_path_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status = request_path.main(["--requests", "3", "--batches", "1,20"])
    out = capsys.readouterr().out

    assert status == 0, out
    for title in ("capture function (POST /)", "collector (POST /v1/batch"):
        section = out.split(title, 1)[1]
        header = section.splitlines()[1]
        # Not the archive's column: under a group commit only a flushing request reports one.
        for column in ("bigquery", "redis", "backend path", "own time"):
            assert column in header, header
    assert out.count("own time (p50, fitted through batch 1 and 20)") == 2
    assert out.count("requests that wrote to the archive:") == 4
    assert "answers not 200" not in out
