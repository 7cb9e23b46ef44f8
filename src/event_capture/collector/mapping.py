"""Segment calls to native events, by one declared table (``MAPPINGS``; the reference page
docs/reference/collector-mapping.md is generated from it).

Only ``track`` calls whose event is in the table become events, and ``identify`` calls become
links from the device to the user (their ids only). A mapped call becomes a native event dict
that then goes through the capture path's own validation, so its strict rules, scrubbing and
URL stripping apply unchanged. Only the properties the table names are read; everything else a
call carries (other properties, traits, the context's IP, user agent and page URLs) is dropped
unread, never stored. Unmapped events and the ``page``, ``screen``, ``group`` and ``alias``
calls are ignored: counted, never stored.

A call's ``userId`` is kept only when its sender is trusted (a server key) or the call carries
the backend's proof (``identity.py``); otherwise the call is its device's (``anonymousId``).
"""

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from event_capture.collector.contract import CALL_TYPES
from event_capture.collector.event_ids import event_id
from event_capture.collector.identity import Unproven, UserIdProofs
from event_capture.collector.spec_names import loggable_name
from event_capture.collector.timestamps import SkewOutOfRangeError, occurred_at
from event_capture.schemas.responses import FieldError

MAX_MESSAGE_ID_LENGTH = 256


def _upper(value: Any) -> Any:
    # The spec's own example sends 'usd'; ISO 4217 codes are upper case.
    return value.upper() if type(value) is str else value


def _message_id_reference(value: Any) -> Any:
    # The messageId of the Products Searched call that led here, turned into its event id the
    # same way, so the link holds in the tables; a UUID is kept.
    if type(value) is str and 0 < len(value) <= MAX_MESSAGE_ID_LENGTH:
        return event_id(value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Property:
    """A native field and the Segment property it is read from."""

    field: str
    name: str
    convert: Callable[[Any], Any] | None = None
    # For an array of objects: the keys read from each element (all others are dropped).
    elements: tuple["Property", ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventMapping:
    # The V2 ecommerce name first, then its V1 aliases.
    events: tuple[str, ...]
    event_type: str
    properties: tuple[Property, ...]
    # Derived from ``properties`` once, not per call: what map_call reads (the Segment name,
    # the native field, and the property when its value needs more than copying) and, for
    # naming rejections, the Segment path of each native field and of each element key.
    reads: tuple[tuple[str, str, Property | None], ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    origins: dict[str, str] = dataclasses.field(init=False, repr=False, compare=False)
    element_names: dict[str, dict[str, str]] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        reads = tuple(
            (p.name, p.field, p if p.convert is not None or p.elements else None)
            for p in self.properties
        )
        origins = {"event_id": "messageId", "event_type": "event"}
        origins |= {p.field: f"properties.{p.name}" for p in self.properties}
        elements = {p.field: {e.field: e.name for e in p.elements} for p in self.properties}
        object.__setattr__(self, "reads", reads)
        object.__setattr__(self, "origins", origins)
        object.__setattr__(self, "element_names", elements)


_PRODUCT = (
    Property(field="product_id", name="product_id"),
    Property(field="category", name="category"),
    Property(field="position", name="position"),
    Property(field="quantity", name="quantity"),
    Property(
        field="search_event_id",
        name="search_event_id",
        convert=_message_id_reference,
        note="the search's messageId, mapped as messageId is",
    ),
)

MAPPINGS: tuple[EventMapping, ...] = (
    EventMapping(
        events=("Products Searched", "Searched Products"),
        event_type="search",
        properties=(
            Property(field="query", name="query", note="a string (the spec allows an object)"),
            Property(field="intent", name="intent"),
            Property(field="intent_confidence", name="intent_confidence"),
            Property(field="result_count", name="result_count"),
            Property(
                field="filters",
                name="filters",
                elements=(
                    Property(field="name", name="type"),
                    Property(field="value", name="value"),
                ),
                note="as in Product List Filtered: {type, value}",
            ),
            Property(field="latency_ms", name="latency_ms"),
        ),
    ),
    EventMapping(
        events=("Product Viewed", "Viewed Product"), event_type="product_view", properties=_PRODUCT
    ),
    EventMapping(
        events=("Product Clicked", "Clicked Product"),
        event_type="product_click",
        properties=_PRODUCT,
    ),
    EventMapping(
        events=("Product Added", "Added Product"), event_type="add_to_cart", properties=_PRODUCT
    ),
    EventMapping(
        events=("Product Removed", "Removed Product"),
        event_type="remove_from_cart",
        properties=_PRODUCT,
    ),
    EventMapping(
        events=("Order Completed", "Completed Order"),
        event_type="order_placed",
        properties=(
            Property(field="order_id", name="order_id"),
            Property(
                field="items",
                name="products",
                elements=(
                    Property(field="product_id", name="product_id"),
                    Property(field="quantity", name="quantity"),
                    Property(field="unit_price", name="price"),
                ),
                note="a repeated record, one line item per product",
            ),
            Property(field="total", name="total"),
            Property(field="currency", name="currency", convert=_upper, note="upper-cased"),
        ),
    ),
)

BY_EVENT: dict[str, EventMapping] = {name: m for m in MAPPINGS for name in m.events}
# An identify call: its ids (and its time and source), never its traits.
IDENTIFY = EventMapping(events=(), event_type="identify", properties=())

# Where the envelope comes from, the same for every mapped event (for the reference page).
ENVELOPE: tuple[tuple[str, str], ...] = (
    ("event_id", "`messageId`: a UUID kept, anything else UUID5 of it"),
    (
        "user_id",
        "`userId`: from a server key, or with the backend's proof in "
        "`integrations.Intercom.user_hash`; otherwise none",
    ),
    ("anonymous_id", "`anonymousId`"),
    (
        "session_id",
        "`properties.session_id`, else `context.sessionId` (RudderStack's), else "
        "none (the warehouse derives sessions)",
    ),
    ("occurred_at", "`originalTimestamp` or `timestamp`, skew-corrected with `sentAt`"),
    ("source", "`properties.source`, else from `context.library.name`, else `segment`"),
)

# context.library.name of the SDKs, to the native source label.
LIBRARY_SOURCES = {
    "analytics-python": "server",
    "analytics-node": "server",
    "@segment/analytics-node": "server",
    "analytics-ruby": "server",
    "analytics-go": "server",
    "analytics-java": "server",
    "analytics.js": "web",
    "RudderLabs JavaScript SDK": "web",
    "analytics-ios": "ios",
    "analytics-swift": "ios",
    "analytics-android": "android",
    "analytics-kotlin": "android",
}
DEFAULT_SOURCE = "segment"


@dataclass(frozen=True, slots=True)
class Mapped:
    event: dict[str, Any]
    # The envelope's native fields whose Segment field differs from call to call -> the one
    # this call's value was read from; the others are the mapping's (``EventMapping.origins``).
    origins: dict[str, str]
    mapping: EventMapping
    # Why the call's userId was not kept, when it was not.
    unproven: Unproven | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    # A call type from CALL_TYPES; for track, the event name if it is the spec's, else "other".
    call: str
    event: str | None = None
    unproven: Unproven | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    errors: tuple[FieldError, ...]


def _refused(field: str, rule: str, message: str) -> Refused:
    return Refused((FieldError(field=field, rule=rule, message=message),))


def _required_string(call: dict[str, Any], name: str) -> Refused | None:
    value = call.get(name)
    if value is None:
        return _refused(name, "missing", "is required")
    if type(value) is not str:
        return _refused(name, "string_type", "must be a string")
    return None


def map_call(
    call: Any, *, sent_at: Any, received_at: datetime, proofs: UserIdProofs | None = None
) -> Mapped | Ignored | Refused:
    """One call of a batch (the batch's context merged in); ``sent_at`` is the batch's.
    ``proofs``: what a client key's call must prove its userId with; None: a trusted sender."""
    if not isinstance(call, dict):
        return _refused("", "model_type", "must be an object")
    kind = call.get("type")
    if kind is None:
        return _refused("type", "missing", "is required")
    if kind not in CALL_TYPES:
        return _refused("type", "literal_error", "must be one of " + ", ".join(CALL_TYPES))
    if kind == "identify":
        mapping = IDENTIFY
    elif kind != "track":
        return Ignored(kind)
    else:
        refused = _required_string(call, "event")
        if refused is not None:
            return refused
        found = BY_EVENT.get(call["event"])
        if found is None:
            return Ignored("track", loggable_name(call["event"]))
        mapping = found
    user_id = call.get("userId")
    unproven = None
    if user_id is not None and proofs is not None:
        unproven = proofs.verdict(call, user_id) if type(user_id) is str else Unproven.MALFORMED
    if kind == "identify" and (
        unproven is not None or user_id is None or call.get("anonymousId") is None
    ):
        # A link needs both ids, and a user id proven: anything less links nothing.
        return Ignored(kind, unproven=unproven)
    refused = _required_string(call, "messageId")
    if refused is not None:
        return refused
    if not 0 < len(call["messageId"]) <= MAX_MESSAGE_ID_LENGTH:
        message = f"must be 1 to {MAX_MESSAGE_ID_LENGTH} characters"
        return _refused("messageId", "string_too_long", message)
    properties = call.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        return _refused("properties", "model_type", "must be an object")
    context = call.get("context")
    context = context if isinstance(context, dict) else {}
    try:
        when = occurred_at(
            call.get("originalTimestamp", call.get("timestamp")),
            call.get("sentAt", sent_at),
            received_at,
        )
    except SkewOutOfRangeError:
        message = "is so far from the timestamp that the corrected time is out of range"
        return _refused("sentAt", "timestamp_out_of_range", message)
    event: dict[str, Any] = {
        "event_id": event_id(call["messageId"]),
        "event_type": mapping.event_type,
        "occurred_at": when,
    }
    origins = _envelope(event, call, properties, context, keep_user=unproven is None)
    origins["occurred_at"] = "originalTimestamp" if "originalTimestamp" in call else "timestamp"
    for name, native, prop in mapping.reads:
        value = properties.get(name, _ABSENT)
        if value is not _ABSENT:
            event[native] = value if prop is None else _value(prop, value)
    return Mapped(event, origins, mapping, unproven)


_ABSENT: Any = object()


def _envelope(
    event: dict[str, Any],
    call: dict[str, Any],
    properties: dict[str, Any],
    context: dict[str, Any],
    *,
    keep_user: bool,
) -> dict[str, str]:
    """Sets the event's ids, session and source; returns the Segment field of each."""
    if keep_user and call.get("userId") is not None:
        event["user_id"] = call["userId"]
    if call.get("anonymousId") is not None:
        event["anonymous_id"] = call["anonymousId"]
    if properties.get("session_id") is not None:
        event["session_id"] = properties["session_id"]
        session_origin = "properties.session_id"
    else:
        session_origin = "context.sessionId"
        session = context.get("sessionId")
        if type(session) is int:
            session = str(session)  # RudderStack's browser SDK sends a number
        if session is not None:
            event["session_id"] = session
    if properties.get("source") is not None:
        event["source"] = properties["source"]
        source_origin = "properties.source"
    else:
        library = context.get("library")
        name = library.get("name") if isinstance(library, dict) else None
        source = LIBRARY_SOURCES.get(name) if isinstance(name, str) else None
        event["source"] = source or DEFAULT_SOURCE
        source_origin = "context.library.name"
    return {
        "user_id": "userId",
        "anonymous_id": "anonymousId",
        "session_id": session_origin,
        "source": source_origin,
    }


def _value(prop: Property, value: Any) -> Any:
    if prop.convert is not None:
        return prop.convert(value)
    if prop.elements and isinstance(value, list):
        return [
            {e.field: element[e.name] for e in prop.elements if e.name in element}
            if isinstance(element, dict)
            else element
            for element in value
        ]
    return value


_FIELD = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\](?:\.([A-Za-z_]+))?)?(.*)", re.DOTALL)


def segment_field(mapped: Mapped, field: str) -> str:
    """The Segment field a native field came from: ``items[2].unit_price`` ->
    ``properties.products[2].price``; "" for the event as a whole."""
    match = _FIELD.fullmatch(field)
    if match is None or field == "event":
        return ""
    head, index, key, rest = match.groups()
    path = mapped.origins.get(head) or mapped.mapping.origins.get(head, head)
    if index is None:
        return path + rest
    if key is None:
        return f"{path}[{index}]{rest}"
    name = mapped.mapping.element_names.get(head, {}).get(key, key)
    return f"{path}[{index}].{name}{rest}"
