"""In-process CPU cost of the capture pipeline per event, without network or emulators.

Runs validation and the whole pipeline (with an in-memory insert client that still builds and
serializes the insertAll body) over a mixed 500-event batch and over single events, and the
same batch from logged-in browsers (both ids on every event: the device-to-user links, stored
once a day per pair, or on every request when the instance remembers none), and prints
the median and mean CPU time per event beside json.loads of the same body as a same-run
baseline. Medians are the figure to read on a shared VM: steal time is charged to the process
as CPU and shows up as rare, huge outliers in the mean.
"""

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.results import recorded
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.insert_all import insert_all_body
from event_capture.ingest.links import LinkRecorder
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.row import Row
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.validation import validate_events
from localcloud.sample_events import sample_batch


class SerializingClient:
    """Builds the insertAll body as the capture path does, sends nothing."""

    def insert_all(self, table: str, rows: Sequence[Row], *, timeout: float) -> list[Any]:
        insert_all_body(rows)
        return []


def per_event(fn: Callable[[], object], events: int, rounds: int = 30) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        fn()
        samples.append((time.process_time() - started) / events * 1e6)
    return statistics.median(samples), statistics.fmean(samples)


def main() -> None:
    batch = sample_batch(500, users=20, seed=1)
    body = json.dumps({"events": batch}).encode()
    now = datetime.now(UTC)
    sink = BigQuerySink(
        SerializingClient, project="project", dataset="events", deadline_seconds=10.0
    )
    pipeline = CapturePipeline(bigquery=sink, dead_letter=None, archive=None, redis=None)
    single = [json.dumps(event).encode() for event in batch[:60]]
    # The 20 users each on their own browser: 20 pairs per batch.
    linked = [{**event, "anonymous_id": f"a_{event['user_id']}"} for event in batch]
    linked_body = json.dumps({"events": linked}).encode()
    forgetful = CapturePipeline(
        bigquery=sink, dead_letter=None, archive=None, redis=None, links=LinkRecorder(0)
    )

    def one_by_one() -> None:
        for raw in single:
            capture_answer(pipeline.handle([json.loads(raw)], batch=False))

    figures = {
        "json.loads of the body (baseline)": per_event(lambda: json.loads(body), len(batch)),
        "validation, batch 500": per_event(lambda: validate_events(batch, now), len(batch)),
        "pipeline, batch 500": per_event(
            lambda: capture_answer(pipeline.handle(json.loads(body)["events"], batch=True)),
            len(batch),
        ),
        "pipeline, batch 1": per_event(one_by_one, len(single)),
        "pipeline, batch 500, both ids": per_event(
            lambda: capture_answer(pipeline.handle(json.loads(linked_body)["events"], True)),
            len(linked),
        ),
        "pipeline, batch 500, both ids, new links": per_event(
            lambda: capture_answer(forgetful.handle(json.loads(linked_body)["events"], True)),
            len(linked),
        ),
    }
    print(f"{'':42} {'median µs/ev':>13} {'mean µs/ev':>11}")
    for label, (median, mean) in figures.items():
        print(f"{label:42} {median:13.1f} {mean:11.1f}")
    base = figures["json.loads of the body (baseline)"][0]
    print(
        f"pipeline batch 500 / json.loads baseline: {figures['pipeline, batch 500'][0] / base:.1f}x"
    )
    print(
        "batch 1 / batch 500 per event (pipeline only, no HTTP): "
        f"{figures['pipeline, batch 1'][0] / figures['pipeline, batch 500'][0]:.1f}x"
    )
    plain = figures["pipeline, batch 500"][0]
    for label in ("pipeline, batch 500, both ids", "pipeline, batch 500, both ids, new links"):
        print(f"{label} / pipeline, batch 500: {figures[label][0] / plain:.2f}x")


if __name__ == "__main__":
    sys.exit(recorded("pipeline_cpu", main))
