"""The collector served in process on fake sinks, once per test module: two write keys (KEY and
calls.NEXT_WRITE_KEY), a Retry-After of 7 s, and the browser pages of SHOP and OTHER_SHOP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from event_capture.collector.auth import WriteKeys
from event_capture.collector.cors import AllowedOrigins
from event_capture.collector.function import CollectorFunction
from event_capture.collector.handler import Collector
from event_capture.collector.identity import UserIdProofs
from event_capture.ingest.pipeline import CapturePipeline
from tests.fakes.functions import Function, loaded
from tests.unit.collector import calls
from tests.unit.collector.served import KEY, OTHER_SHOP, SHOP
from tests.unit.event_factory import RECEIVED_AT


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    def collector(pipeline: CapturePipeline) -> CollectorFunction:
        built = Collector(
            pipeline=pipeline,
            write_keys=WriteKeys.parse(f"{KEY},{calls.NEXT_WRITE_KEY}"),
            retry_after_seconds=7,
            clock=lambda: RECEIVED_AT,
            allowed_origins=AllowedOrigins.parse(f"{SHOP},{OTHER_SHOP}"),
            user_id_proofs=UserIdProofs((calls.USER_ID_SECRET,)),
        )
        return CollectorFunction(built, read_timeout_seconds=10)

    with loaded(collector) as function:
        yield function


@pytest.fixture
def fresh(function: Function) -> Function:
    function.bigquery.rows.clear()
    function.archive.rows.clear()
    function.bigquery.down = function.archive.down = False
    return function
