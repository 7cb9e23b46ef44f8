"""The seed corpus and the libFuzzer dictionary for fuzz/parse_and_validate.py.

Written at run time (``make fuzz``) into .cache/fuzz/, not committed: they derive from the
sample events and the models, so a new family or field is in the next run's seeds without
anyone regenerating a file. Every seed is a raw request body as the function would read it.
"""

import gzip
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST
from event_capture.schemas.families import FAMILIES, MODEL_BY_EVENT_TYPE
from localcloud.sample_events import sample_event

# One clock reading for seeds and harness alike, so a seed's occurred_at is inside the window
# and a finding replays the same on any day.
RECEIVED_AT = datetime(2026, 11, 28, 16, 37, 33, 120000, tzinfo=UTC)

PII_TEXT = "call +44 7700 900123 or jane.doe@example.com, card 4111 1111 1111 1111, 020 7946 0958"


_DROP = object()


def _event(event_type: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    event = sample_event(event_type, now=RECEIVED_AT, rng=random.Random(index))  # noqa: S311 - seeds, not secrets
    event.update(changes)
    return {key: value for key, value in event.items() if value is not _DROP}


def _body(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def seeds() -> Iterator[tuple[str, bytes]]:
    """(name, body) pairs: one event of every type, batches, and hostile variations."""
    for event_type in MODEL_BY_EVENT_TYPE:
        yield f"event-{event_type}", _body(_event(event_type))
    types = list(MODEL_BY_EVENT_TYPE)
    batch = [_event(types[i % len(types)], i) for i in range(12)]
    yield "batch-12", _body({"events": batch})
    yield "batch-duplicate-ids", _body({"events": [batch[0], batch[0], batch[1]]})
    yield "batch-mixed", _body({"events": [batch[0], 1, None, "x", [], {}, batch[2]]})
    yield "batch-over-limit", _body({"events": [{}] * (MAX_EVENTS_PER_REQUEST + 1)})

    search = _event("search")
    yield "search-missing-query", _body(_event("search", query=_DROP))
    yield "search-unknown-field", _body(search | {"email": "jane@example.com"})
    yield "search-wrong-types", _body(search | {"result_count": "5", "intent_confidence": True})
    yield "search-pii", _body(search | {"query": PII_TEXT})
    yield "search-epoch-time", _body(search | {"occurred_at": "1795876593"})
    yield "search-naive-time", _body(search | {"occurred_at": "2026-11-28T16:37:33"})
    yield "search-future", _body(search | {"occurred_at": "2031-01-01T00:00:00+14:00"})
    yield "search-old-version", _body(search | {"schema_version": "0-9-9"})
    yield "order-money", _body(_event("order_placed", total=12.3456, currency="XXX"))
    yield (
        "order-items",
        _body(
            _event("order_placed", items=[{"product_id": "a", "quantity": 0, "unit_price": "1e9"}])
        ),
    )
    yield "session-end-missing", _body(_event("session_end", ended_at=_DROP))
    yield (
        "session-urls",
        _body(
            _event(
                "session_start",
                referrer="https://user:pw@shop.example.com:8443/p?email=a@b.co#top",
                landing_page="http://[::1]:80/search?q=1",
            )
        ),
    )
    yield "voice-pii", _body(_event("voice_interaction", transcript=PII_TEXT, language="en-gb"))

    text = _body(search).decode()
    yield "json-nan", text.replace('"result_count":', '"latency_ms":NaN,"result_count":').encode()
    yield "json-big-numbers", text.replace('"result_count":', '"result_count":1e400,"x":').encode()
    yield "json-duplicate-keys", (text[:-1] + ',"event_type":"order_placed"}').encode()
    yield "json-escapes", text.replace('"web"', '"w\\u0000\\ud800b"').encode()
    yield "json-bom", b"\xef\xbb\xbf" + text.encode()
    yield "json-nested", b'{"events":[' + b"[" * 64 + b"]" * 64 + b"]}"
    yield "json-deep", b"[" * 4096 + b"]" * 4096
    for name, body in [
        ("empty", b""),
        ("null", b"null"),
        ("array", b"[]"),
        ("object", b"{}"),
        ("events-object", b'{"events":{}}'),
        ("events-empty", b'{"events":[]}'),
        ("events-extra", b'{"events":[{}],"sent_at":1}'),
        ("not-utf8", b'{"event_type":"\xff\xfe"}'),
    ]:
        yield f"shape-{name}", body
    # Seen only by a parser that takes Content-Encoding: gzip (see the harness).
    yield "gzip-event", gzip.compress(_body(search), mtime=0)
    yield "gzip-batch", gzip.compress(_body({"events": batch}), mtime=0)


def write_corpus(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*"):
        old.unlink()
    count = 0
    for name, body in seeds():
        (directory / name).write_bytes(body)
        count += 1
    return count


def _tokens() -> Iterator[str]:
    yield from ['{"events":[', "]}", '":', '","', "null", "true", "false", "NaN", "Infinity"]
    yield from ["-0", "1e400", "0.000001", "\\u0000", "\\ud800", "Z", "+01:00", "T", "@", "[", "{"]
    for model in FAMILIES:
        yield from _names(model.model_json_schema())
    yield from MODEL_BY_EVENT_TYPE


def _names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties":
                yield from (f'"{name}"' for name in value)
            if key in ("enum", "examples"):
                yield from (str(item) for item in value)
            if key == "const":
                yield str(value)
            yield from _names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _names(item)


def _escape(token: str) -> str:
    raw = token.encode()
    return "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\x{b:02x}" for b in raw)


def write_dictionary(path: Path) -> int:
    """A libFuzzer dictionary: JSON tokens, every field name, event type and enum value."""
    tokens = sorted(set(_tokens()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'"{_escape(token)}"\n' for token in tokens))
    return len(tokens)
