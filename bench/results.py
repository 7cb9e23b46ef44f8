"""What each benchmark printed, kept as a dated result file beside the docs.

``recorded(name, main)`` runs a benchmark's ``main`` with its output going to the terminal as
before and, when it ends well, into ``docs/results/<name>.md``: one section per run, newest
first, headed by the date, the commit and the machine. The docs cite these files instead of
restating figures by hand.
"""

import datetime as dt
import io
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
# Runs kept per file: enough to see a trend, few enough to read.
KEPT_RUNS = 12
_RUN_HEADING = "## Run of "


class _Tee(io.TextIOBase):
    def __init__(self, terminal: TextIO) -> None:
        self._terminal = terminal
        self.text = io.StringIO()

    def write(self, text: str) -> int:
        self._terminal.write(text)
        return self.text.write(text)

    def flush(self) -> None:
        self._terminal.flush()

    def reconfigure(self, **options: Any) -> None:
        # A script that asks for line buffering wants it where it is read: on the terminal.
        reconfigure = getattr(self._terminal, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(**options)


def recorded(
    name: str,
    main: Callable[[], int | None],
    *,
    directory: Path = RESULTS,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> int:
    """``main``'s exit status; its output is also the newest run of ``<directory>/<name>.md``
    when the status is 0."""
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        status = main() or 0
    finally:
        sys.stdout = tee._terminal
    if status == 0:
        path = write_run(directory / f"{name}.md", name, tee.text.getvalue(), now())
        print(f"recorded in {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return status


def write_run(path: Path, name: str, output: str, at: dt.datetime) -> Path:
    script = _script()
    section = (
        f"{_RUN_HEADING}{at:%Y-%m-%d %H:%M} UTC\n\n"
        f"`{' '.join(['python', script, *sys.argv[1:]])}` at `{_commit()}`, {_machine()}.\n\n"
        f"```text\n{output.rstrip()}\n```\n"
    )
    runs = [section, *_runs(path)][:KEPT_RUNS]
    title = (
        f"# {name}: results\n\nWritten by `{script}` (`bench/results.py`) at the end of each "
        "run, newest first; not edited by hand.\n\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(title + "\n".join(runs))
    return path


def _runs(path: Path) -> list[str]:
    if not path.exists():
        return []
    sections = path.read_text().split(_RUN_HEADING)[1:]
    return [_RUN_HEADING + section.rstrip() + "\n" for section in sections]


def _script() -> str:
    script = Path(sys.argv[0]).resolve()
    return script.relative_to(REPO).as_posix() if script.is_relative_to(REPO) else script.name


def _commit() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + local changes' if dirty else ''}"


def _git(*arguments: str) -> str:
    done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _machine() -> str:
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
