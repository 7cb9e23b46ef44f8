"""bench/request_path.py's arithmetic: the backend path a request's sinks make, and the own
time fitted from the phases. The script itself runs in
tests/integration/test_request_path_bench.py."""

import pytest

from bench.request_path import Phase, Timing, archive_writes, fit_own_time, timing


def test_the_parallel_writes_count_once_and_redis_after_them() -> None:
    request = Timing(
        wall_ms=60.0,
        logged_ms=55.0,
        sinks={"bigquery": 30.0, "dead_letter": 10.0, "gcs_archive": 35.0, "redis": 5.0},
    )

    # BigQuery then its dead letters (40) beside the archive (35), then Redis.
    assert request.backend_ms == 45.0
    assert request.sum_ms == 80.0
    assert request.own_ms == 15.0


def test_an_archive_slower_than_bigquery_sets_the_path() -> None:
    request = Timing(wall_ms=130.0, logged_ms=125.0, sinks={"bigquery": 30.0, "gcs_archive": 120.0})

    assert request.backend_ms == 120.0


def test_a_sink_of_another_name_runs_beside_the_durable_writes() -> None:
    request = Timing(wall_ms=90.0, logged_ms=85.0, sinks={"bigquery": 20.0, "write_api": 80.0})

    assert request.backend_ms == 80.0


def test_the_log_line_gives_each_timed_sink() -> None:
    line = {
        "latency_ms": 41.5,
        "sinks": {
            "bigquery": {"status": "ok", "latency_ms": 40.0},
            "gcs_archive": {"status": "disabled"},
        },
    }

    assert timing(0.05, line) == Timing(wall_ms=50.0, logged_ms=41.5, sinks={"bigquery": 40.0})


def test_the_own_time_is_fitted_per_request_and_per_event() -> None:
    def phase(batch: int, own_ms: float) -> Phase:
        timings = [Timing(wall_ms=own_ms + 10, logged_ms=0.0, sinks={"bigquery": 10.0})] * 3
        return Phase("capture", batch, timings, 0)

    own = fit_own_time([phase(1, 3.0), phase(50, 4.0), phase(501, 13.0)])

    assert own.per_event_us == pytest.approx(20.0)
    assert own.per_request_ms == pytest.approx(2.98)


def test_the_requests_that_wrote_to_the_archive_are_told_apart() -> None:
    flushing = Timing(
        wall_ms=120.0, logged_ms=118.0, sinks={"bigquery": 20.0, "gcs_archive": 110.0}
    )
    plain = Timing(wall_ms=25.0, logged_ms=23.0, sinks={"bigquery": 20.0})

    text = archive_writes(Phase("capture", 1, [flushing, plain, plain], 0))

    assert text == (
        "requests that wrote to the archive: 1 of 3; their wall time p50 120.0 ms, "
        "the others' 25.0 ms"
    )
    assert archive_writes(Phase("capture", 1, [plain], 0)) == (
        "requests that wrote to the archive: 0 of 1"
    )
