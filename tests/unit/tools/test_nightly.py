"""`make nightly` without `make run`: a one-line error naming the port, not a traceback."""

import os
import subprocess
import sys

from localcloud.processes import REPO, free_port


def test_without_the_local_cloud_it_says_to_start_it() -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "tools.nightly", "--run-date", "2026-01-02"],
        cwd=REPO,
        env={**os.environ, "BIGQUERY_EMULATOR_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert f"no BigQuery emulator on 127.0.0.1:{port}" in result.stderr
    assert "make run" in result.stderr
    assert "Traceback" not in result.stderr
