"""What the operator tools share on the command line: one-line usage errors, and times."""

import argparse
import re
from datetime import UTC, date, datetime
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line, ``<prog>: <message>``, like the tool's other errors; --help
    shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def parse_moment(text: str, option: str) -> datetime:
    """ISO 8601 with an offset (``2026-11-28T00:00Z``), or a date meaning its 00:00 UTC;
    ValueError naming ``option`` otherwise."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{option}: not an ISO 8601 time, got {text!r} (e.g. 2026-11-28T00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{option}: needs a UTC offset, got {text!r} (e.g. {text}Z)")
    return moment.astimezone(UTC)
