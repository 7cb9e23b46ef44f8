"""Coverage-guided fuzzing (atheris, libFuzzer) of the capture function's parse-and-validate path.

Any bytes are a request body. The invariant:

* ``parse_body`` answers an ``HttpError`` whose status the OpenAPI document lists, or events;
* ``validate_events`` turns every event into exactly one row or one rejection, in order;
* a row is strict JSON (no NaN: BigQuery refuses it), valid UTF-8, at most MAX_EVENT_BYTES,
  and validates again as the same event (scrubbing and URL stripping are idempotent, and what
  is stored keeps the model's own constraints);
* the rejections serialize as the function serializes its answer.

Anything else raised is a finding. A finding does not stop the run: each distinct one (by
exception type and where it was raised) is written once, with its smallest input so far, to
$FUZZ_FINDINGS (default .cache/fuzz/findings/), and libFuzzer goes on exploring.

    .venv-fuzz/bin/python -m fuzz.parse_and_validate CORPUS_DIR... -max_total_time=60
    .venv-fuzz/bin/python -m fuzz.parse_and_validate --replay FILE...   # no fuzzing

``make fuzz`` runs it through fuzz/run.py with the seeds of fuzz/seeds.py.
"""

import inspect
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import atheris
from pydantic import ValidationError

# Coverage feedback from the project's own code, imported under the hook (fuzz.seeds too: it
# imports the models). pydantic-core and the json scanner are Rust and C, which atheris does
# not instrument; their outcomes still show through the branches of our code.
with atheris.instrument_imports(include=["event_capture"]):
    from event_capture.ingest.body import ParsedBody, parse_body
    from event_capture.ingest.limits import MAX_EVENT_BYTES, MAX_EVENTS_PER_REQUEST
    from event_capture.ingest.openapi import openapi_document
    from event_capture.ingest.validation import validate_events
    from event_capture.platform.http_error import HttpError
    from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
    from event_capture.schemas.responses import ErrorResponse
    from event_capture.tables.bigquery_schema import PARTITION_COLUMN
    from fuzz.seeds import RECEIVED_AT

REPO = Path(__file__).resolve().parents[1]
FINDINGS = Path(os.environ.get("FUZZ_FINDINGS", REPO / ".cache" / "fuzz" / "findings"))
GZIP_MAGIC = b"\x1f\x8b"
DOCUMENTED = {int(status) for status in openapi_document()["paths"]["/"]["post"]["responses"]}
REFUSALS = {status for status in DOCUMENTED if 400 <= status < 500}

# The hostile-input rules (gzip, nesting cap) may add a Content-Encoding parameter to
# parse_body; when it is there, bodies that look gzipped are also fed through it.
ENCODING_PARAMETER = next(
    (name for name in inspect.signature(parse_body).parameters if "encoding" in name), None
)


class InvariantError(Exception):
    """The path answered without raising, but not as documented.

    Its text is the rule (findings are told apart by it); ``detail`` shows the values.
    """

    def __init__(self, rule: str, detail: str = "") -> None:
        super().__init__(rule)
        self.detail = detail


def _require(condition: bool, rule: str) -> None:
    if not condition:
        raise InvariantError(rule)


def _check_parsed(parsed: ParsedBody | HttpError) -> None:
    if isinstance(parsed, HttpError):
        _require(parsed.status in REFUSALS, f"parse_body answered undocumented {parsed.status}")
        _require(isinstance(parsed.message, str) and bool(parsed.message), "refusal has a message")
        json.dumps(ErrorResponse(error=parsed.message).model_dump(), allow_nan=False)
        return
    _require(isinstance(parsed, ParsedBody), "parse_body returns ParsedBody or HttpError")
    events = parsed.events
    _require(1 <= len(events) <= MAX_EVENTS_PER_REQUEST, "1 to 500 events")
    _require(parsed.batch or len(events) == 1, "a single event is one event")
    rows, rejections = validate_events(events, RECEIVED_AT, parsed.batch)
    indices = [row.index for row in rows] + [rejection.index for rejection in rejections]
    _require(sorted(indices) == list(range(len(events))), "each event is one row or rejection")
    _require(indices[: len(rows)] == sorted(indices[: len(rows)]), "rows in request order")
    _require(len({row.event_id for row in rows}) == len(rows), "event_ids unique among rows")
    for row in rows:
        _check_row(row)
    for rejection in rejections:
        _require(bool(rejection.errors), "a rejection names at least one error")
        # As main.py answers: json.dumps with its default ASCII escaping.
        json.dumps(rejection.model_dump(mode="json"), allow_nan=False)


def _check_row(row: Any) -> None:
    text: str = row.json
    _require(len(text.encode("utf-8")) <= MAX_EVENT_BYTES, "row within MAX_EVENT_BYTES")
    _require(json.loads(text) == row.data, "row.json is row.data")
    json.dumps(row.data, allow_nan=False, ensure_ascii=False).encode("utf-8")
    model = MODEL_BY_EVENT_TYPE[row.event_type]
    _require(row.table == model.TABLE and row.data["event_id"] == row.event_id, "row identity")
    stored = {key: value for key, value in row.data.items() if key != PARTITION_COLUMN}
    try:
        again = model.model_validate(stored, context={"received_at": RECEIVED_AT})
    except ValidationError as invalid:
        # What the client does too: it validates, serializes, and the server validates again.
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        rule = f"a stored row fails its own model: {where} {first['type']}"
        raise InvariantError(rule, f"stored {first['input']!r}: {first['msg']}") from None
    _require(
        again.model_dump(mode="json", exclude_none=True) == stored,
        "a stored row validates again as the same event",
    )


def check(data: bytes) -> None:
    """The invariant for one body; raises on a finding."""
    _check_parsed(parse_body(data))
    if ENCODING_PARAMETER is not None and data.startswith(GZIP_MAGIC):
        _check_parsed(parse_body(data, **{ENCODING_PARAMETER: "gzip"}))


def signature(error: BaseException) -> str:
    """Type, where it was raised, and the project frame it came through: one per bug."""
    if isinstance(error, InvariantError):
        return f"InvariantError: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    deepest = frames[-1]
    where = f"{'/'.join(Path(deepest.filename).parts[-2:])}:{deepest.lineno}"
    project = [
        frame
        for frame in frames
        if frame.filename.startswith(str(REPO))
        and not frame.filename.startswith(str(REPO / "fuzz"))
    ]
    if project and project[-1] is not deepest:
        where += f" via {Path(project[-1].filename).name}:{project[-1].lineno}"
    return f"{type(error).__name__} at {where}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:120]


def record(data: bytes, error: BaseException) -> None:
    name = slug(signature(error))
    path = FINDINGS / f"{name}.input"
    first = not path.exists()
    if not first and path.stat().st_size <= len(data):
        return
    FINDINGS.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report = "".join(traceback.format_exception(error, limit=-8))
    detail = f"detail: {error.detail}\n" if isinstance(error, InvariantError) else ""
    (FINDINGS / f"{name}.txt").write_text(
        f"{signature(error)}\ninput: {path} ({len(data)} bytes)\n{detail}"
        f"replay: .venv-fuzz/bin/python -m fuzz.parse_and_validate --replay {path}\n\n{report}"
    )
    if first:
        print(f"FINDING {signature(error)} -> {path}", file=sys.stderr, flush=True)


def test_one_input(data: bytes) -> None:
    try:
        check(data)
    except Exception as error:  # noqa: BLE001 - every exception is a finding, recorded
        record(data, error)


def replay(paths: list[str]) -> int:
    """Run the invariant on each file once; one JSON line each; 1 if any fails."""
    failed = 0
    for name in paths:
        data = Path(name).read_bytes()
        try:
            check(data)
            outcome: dict[str, Any] = {"path": name, "ok": True}
        except Exception as error:  # noqa: BLE001 - reported, not raised
            failed += 1
            outcome = {"path": name, "ok": False, "finding": signature(error)}
        print(json.dumps(outcome), flush=True)
    return 1 if failed else 0


def main() -> None:
    if sys.argv[1:2] == ["--replay"]:
        sys.exit(replay(sys.argv[2:]))
    print(
        f"parse_body Content-Encoding parameter: {ENCODING_PARAMETER or 'none (gzip not fed)'}",
        file=sys.stderr,
    )
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
