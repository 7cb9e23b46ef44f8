"""For asyncio apps: ``track()`` never blocks the event loop; flushing runs off the loop."""

import asyncio
from dataclasses import replace
from types import TracebackType

from event_capture.client.auth import TokenProvider, no_token
from event_capture.client.client import CaptureClient, ClientSettings, Event, QueueFullPolicy
from event_capture.client.stats import ClientStats


class AsyncCaptureClient:
    """The same client, with a queue that drops when full: blocking would stall the loop."""

    def __init__(
        self,
        url: str,
        settings: ClientSettings | None = None,
        token_provider: TokenProvider = no_token,
    ) -> None:
        settings = replace(settings or ClientSettings(), queue_full=QueueFullPolicy.DROP_NEWEST)
        self._client = CaptureClient(url, settings, token_provider)

    def track(self, event: Event) -> bool:
        return self._client.track(event)

    def stats(self) -> ClientStats:
        return self._client.stats()

    async def flush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self._client.flush, timeout)

    async def aclose(self, timeout: float | None = None) -> ClientStats:
        return await asyncio.to_thread(self._client.close, timeout)

    async def __aenter__(self) -> "AsyncCaptureClient":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
