"""event_capture.client.async_client: the capture client from asyncio, never blocking the loop."""

import asyncio

from event_capture.client import AsyncCaptureClient, ClientSettings, QueueFullPolicy
from tests.client.capture_client import search
from tests.client.stub_function import stub_function


def test_the_async_client_tracks_without_blocking_and_flushes_off_the_loop() -> None:
    async def run(url: str) -> tuple[bool, int]:
        async with AsyncCaptureClient(url, ClientSettings(linger_seconds=0.01)) as client:
            client.track(search())
            flushed = await client.flush(10)
            return flushed, client.stats().delivered

    with stub_function() as stub:
        flushed, delivered = asyncio.run(run(stub.url))

    assert flushed and delivered == 1 and len(stub.event_ids) == 1


def test_the_async_client_never_uses_the_blocking_policy() -> None:
    client = AsyncCaptureClient(
        "http://127.0.0.1:9/", ClientSettings(queue_full=QueueFullPolicy.BLOCK)
    )

    assert client._client.settings.queue_full is QueueFullPolicy.DROP_NEWEST
