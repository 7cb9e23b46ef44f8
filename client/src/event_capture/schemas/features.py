"""What the features function answers, shared by the server (which builds it) and the client
(which parses it, and falls back to the same defaults when the server is slow or down).

Three routes, all ``GET``:

- ``/v1/users/<user_id>/features?include=...&limit=N``: a ``UserFeatures``;
- ``/v1/devices/<anonymous_id>/features?limit=N``: a ``DeviceFeatures``, the live parts of a
  device not logged in (its own activity only: an anonymous id is anyone's to send);
- ``/v1/products/<product_id>/similar?limit=N``: a ``ProductSimilar``.

Nightly parts come from the newest snapshot of the feature tables; live parts from the events
the capture function has put in Redis since (see docs/apis/features.md).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

USER_FEATURES_PATH = "/v1/users/{user_id}/features"
DEVICE_FEATURES_PATH = "/v1/devices/{anonymous_id}/features"
SIMILAR_PRODUCTS_PATH = "/v1/products/{product_id}/similar"

# The parts of a user's answer ``include`` may name; all of them when it is absent.
Part = Literal["profile", "reorder_due", "recommendations", "recent", "similar_to_recent"]
PARTS: tuple[Part, ...] = (
    "profile",
    "reorder_due",
    "recommendations",
    "recent",
    "similar_to_recent",
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 50

# Why an answer is missing parts it would otherwise have. "client_fallback": the client gave up
# (timeout, error) and returned the defaults itself, so the app can tell them from an unknown
# user's and not cache them.
Degraded = Literal["snapshot_missing", "redis_unavailable", "client_fallback"]


class _Answer(BaseModel):
    # Lax on purpose: a client of an older version must still read a newer server's answer.
    model_config = ConfigDict(extra="ignore", frozen=True)


class IntentShare(_Answer):
    intent: str
    share: float


class Profile(_Answer):
    """The user's row of ``user_profiles`` (nightly), without its key columns."""

    searches: int
    product_views: int
    product_clicks: int
    add_to_carts: int
    orders: int
    voice_interactions: int
    sessions: int
    first_seen: datetime
    last_seen: datetime
    days_since_last_seen: int
    favourite_category: str | None = None
    favourite_product: str | None = None
    intent_mix: list[IntentShare] = Field(default_factory=list)
    order_currency: str | None = None
    average_order_value: Decimal | None = None


class ReorderDue(_Answer):
    """A product the user orders again and again: nightly history, clock and orders live."""

    product_id: str
    orders: int
    last_ordered_on: date
    mean_interval_days: float
    next_expected_on: date
    # Days since last_ordered_on / mean_interval_days, as of the day of the answer.
    due_score: float
    due: bool
    # An order captured after the snapshot reset the clock (last_ordered_on is that order's).
    ordered_since_snapshot: bool = False


class Recommendation(_Answer):
    product_id: str
    score: float
    rank: int


class SimilarProduct(_Answer):
    product_id: str
    co_occurrences: int
    rank: int


class RecentItems(_Answer):
    """From the events captured lately (live), most recent first, each item once."""

    viewed: list[str] = Field(default_factory=list)
    carted: list[str] = Field(default_factory=list)
    ordered: list[str] = Field(default_factory=list)
    searched: list[str] = Field(default_factory=list)


class UserFeatures(_Answer):
    user_id: str
    # False: nothing is known of this user, nightly or live; every part is its empty default.
    known: bool = False
    # The snapshot_date of the nightly part served; None when none was.
    snapshot: date | None = None
    degraded: list[Degraded] = Field(default_factory=list)
    profile: Profile | None = None
    reorder_due: list[ReorderDue] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    recent: RecentItems = Field(default_factory=RecentItems)
    similar_to_recent: list[SimilarProduct] = Field(default_factory=list)

    @classmethod
    def defaults(cls, user_id: str, *degraded: Degraded) -> "UserFeatures":
        """The answer for a user nothing is known of: what the app renders without features."""
        return cls(user_id=user_id, degraded=list(degraded))


class DeviceFeatures(_Answer):
    """A device's own live parts: what it viewed, carted and searched, and what is often found
    with what it just viewed. Never a user's parts, even when the device is linked to one."""

    anonymous_id: str
    known: bool = False
    snapshot: date | None = None
    degraded: list[Degraded] = Field(default_factory=list)
    recent: RecentItems = Field(default_factory=RecentItems)
    similar_to_recent: list[SimilarProduct] = Field(default_factory=list)

    @classmethod
    def defaults(cls, anonymous_id: str, *degraded: Degraded) -> "DeviceFeatures":
        return cls(anonymous_id=anonymous_id, degraded=list(degraded))


class ProductSimilar(_Answer):
    product_id: str
    known: bool = False
    snapshot: date | None = None
    degraded: list[Degraded] = Field(default_factory=list)
    similar: list[SimilarProduct] = Field(default_factory=list)

    @classmethod
    def defaults(cls, product_id: str, *degraded: Degraded) -> "ProductSimilar":
        return cls(product_id=product_id, degraded=list(degraded))
