"""Clients for the event-capture function (``track()`` enqueues and returns; a thread
delivers) and for the features function (an answer or defaults, within a short timeout).

from event_capture.client import CaptureClient, EventContext, FeaturesClient

client = CaptureClient("http://127.0.0.1:8080")          # or the function URL, with auth
events = EventContext(user_id="u_42", session_id="s_1", source="web")
client.track(events.search("oat milk", intent="product_lookup", intent_confidence=0.9,
                           result_count=12))

features = FeaturesClient("http://127.0.0.1:8081")     # answers or defaults, within 0.15 s
answer = features.user_features("u_42", include=["profile", "reorder_due"])
"""

from event_capture.client.async_client import AsyncCaptureClient
from event_capture.client.client import CaptureClient, ClientSettings, QueueFullPolicy
from event_capture.client.events import EventContext
from event_capture.client.features import FallbackReason, FeaturesClient, FeaturesStats
from event_capture.client.stats import ClientStats
from event_capture.client.version import USER_AGENT, __version__

__all__ = [
    "USER_AGENT",
    "AsyncCaptureClient",
    "CaptureClient",
    "ClientSettings",
    "ClientStats",
    "EventContext",
    "FallbackReason",
    "FeaturesClient",
    "FeaturesStats",
    "QueueFullPolicy",
    "__version__",
]
