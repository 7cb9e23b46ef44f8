"""In-process CPU cost of the capture pipeline per event, without network or emulators.

Runs validation and the whole pipeline (with an in-memory insert client that still builds and
serializes the insertAll body) over a mixed 500-event batch and over single events, and prints
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
    }
    print(f"{'':38} {'median µs/ev':>13} {'mean µs/ev':>11}")
    for label, (median, mean) in figures.items():
        print(f"{label:38} {median:13.1f} {mean:11.1f}")
    base = figures["json.loads of the body (baseline)"][0]
    print(
        f"pipeline batch 500 / json.loads baseline: {figures['pipeline, batch 500'][0] / base:.1f}x"
    )
    print(
        "batch 1 / batch 500 per event (pipeline only, no HTTP): "
        f"{figures['pipeline, batch 1'][0] / figures['pipeline, batch 500'][0]:.1f}x"
    )


if __name__ == "__main__":
    sys.exit(recorded("pipeline_cpu", main))
