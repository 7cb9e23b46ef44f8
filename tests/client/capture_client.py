"""What the capture client's tests share: an event to send, settings that batch a test's events
together, and a client on the scripted stand-in whose retry waits are recorded, not slept."""

from event_capture.client import CaptureClient, ClientSettings, EventContext
from event_capture.client.auth import TokenProvider, no_token
from event_capture.schemas.search import SearchEvent

EVENTS = EventContext(user_id="u_42", session_id="s_1", source="web")
# Lingering long enough that the events of a test share a batch; flush() cuts it short.
FAST = ClientSettings(linger_seconds=0.5, shutdown_timeout_seconds=10)


def search(n: int = 0) -> SearchEvent:
    return EVENTS.search(
        f"oat milk {n}", intent="product_lookup", intent_confidence=0.5, result_count=n
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(
    url: str,
    sleeps: Sleeps,
    settings: ClientSettings = FAST,
    token_provider: TokenProvider = no_token,
) -> CaptureClient:
    return CaptureClient(url, settings, token_provider, sleep=sleeps, rand=lambda: 1.0)
