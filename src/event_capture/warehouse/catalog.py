"""Everything the warehouse layer holds, named once: views, scheduled queries and their tables.

Each object's SQL is a file in ``warehouse/sql`` (its ``sql_file``); ``warehouse.render`` fills
it in for a pair of datasets.

Two datasets, split by what they may hold:

- the events dataset (user-level, 90 days): raw tables, their ``_dedup`` views, the partial
  table ``user_daily`` and the ML feature tables, whose snapshots expire after
  ``FEATURE_SNAPSHOT_DAYS``;
- the analytics dataset (no user or session id): search aggregates, the dashboard views and
  the data-quality results, which may be kept longer than the raw events.

The feature tables are built incrementally: each night ``user_daily`` rebuilds the few days of
raw events received since ``@run_date - PARTIAL_SINCE_DAYS`` into one row per user, day
received and day occurred, and the feature queries re-sum its 90 days instead of reading the
raw window. ``warehouse.full_rebuild`` runs the same feature queries over ``user_daily``'s query
of the whole raw window, in one go, for the tests and the benchmark to compare with.
"""

from dataclasses import dataclass, field

from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.tables.definitions import load_table_definitions

EVENTS = "events"
ANALYTICS = "analytics"

# The app's intent classifier labels; anything else counts against `unknown_intent_rate`.
KNOWN_INTENTS = (
    "product_lookup",
    "category_browse",
    "reorder",
    "recipe",
    "price_check",
    "store_info",
    "order_status",
)
DEFAULT_MIN_USERS = 5
# Where a sender gives no session, one is derived per device (or user): a new session starts
# after this many minutes without an event, the web analytics tools' convention.
SESSION_GAP_MINUTES = 30
TOP_N = 10
RECENT_DAYS = 7
# Feature snapshots are rebuilt daily from user_daily; a week of them is enough to compare.
FEATURE_SNAPSHOT_DAYS = 7
DATA_QUALITY_DAYS = 400
# Starts the error a failed data-quality run ends with; the alert policy's log filter matches it.
QUALITY_FAILED = "data_quality_failed"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str = "REQUIRED"
    description: str = ""
    fields: tuple["Column", ...] = ()

    def api_repr(self) -> dict[str, object]:
        """The column as BigQuery's JSON schema (what Pulumi and the client both take)."""
        out: dict[str, object] = {"name": self.name, "type": self.type, "mode": self.mode}
        if self.description:
            out["description"] = self.description
        if self.fields:
            out["fields"] = [f.api_repr() for f in self.fields]
        return out


@dataclass(frozen=True)
class View:
    name: str
    dataset: str
    sql_file: str
    description: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduledTable:
    """A table rebuilt daily by a scheduled query, one partition (``partition_field``) per run."""

    name: str
    dataset: str
    description: str
    partition_field: str
    expiration_days: int | None  # None: kept until deleted (anonymized data only)
    columns: tuple[Column, ...]
    schedule: str
    personal_data: bool

    @property
    def sql_file(self) -> str:
        return f"{self.name}.sql"


@dataclass(frozen=True)
class PartialTable(ScheduledTable):
    """Daily partial aggregates the feature tables are summed from: one partition per day the
    events were received, of which each run rebuilds the last few (``PARTIAL_SINCE_DAYS``).
    """


EVENT_TABLES = tuple(definition["table_id"] for definition in load_table_definitions())
# Links a device's anonymous_id to a user_id; not an activity, so not in events_sessionized.
IDENTITY_LINKS = "identity_links"
ACTIVITY_TABLES = tuple(table for table in EVENT_TABLES if table != IDENTITY_LINKS)
# Where a de-duplicated read starts: the view, the whole retention window (the raw tables'
# partition filter); a query about the day before @run_date, that day's start minus a day,
# since an event may be stamped up to 24 hours ahead of its arrival.
VIEW_SINCE = f"TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {RETENTION_DAYS} DAY)"
RECENT_SINCE_DAYS = 2


def received_since(days: int) -> str:
    return f"TIMESTAMP(DATE_SUB(@run_date, INTERVAL {days} DAY))"


RECENT_SINCE = received_since(RECENT_SINCE_DAYS)
# The received days a user_daily run rebuilds: @run_date (what has arrived of it) and the two
# days before. A day's rows count each event at its copy received last, so a day is final only
# once every later copy is in: a retry stored again after BigQuery's insertId window arrives
# within a day, and the run of day D+1 saw only the start of D+1. Its raw reads are the same
# partitions as the recent_<table> placeholders'.
PARTIAL_SINCE_DAYS = RECENT_SINCE_DAYS


def _dedup_view(table: str) -> View:
    return View(
        name=f"{table}_dedup",
        dataset=EVENTS,
        sql_file="dedup.sql",
        description=f"{table}, one row per event_id (the copy received last).",
        params={"table": table, "since": VIEW_SINCE},
    )


DEDUP_VIEWS = tuple(_dedup_view(table) for table in EVENT_TABLES)
# Read by the dashboard views, so declared (and deployed) after the _dedup views, before them.
SESSIONIZED_VIEW = View(
    "events_sessionized",
    EVENTS,
    "events_sessionized.sql",
    "Every activity event once, with its stitched user and its session, as sent or derived.",
)
DASHBOARD_VIEWS = (
    View(
        "daily_funnel",
        ANALYTICS,
        "daily_funnel.sql",
        "Users per day at each step: search, click, add to cart, order; users stitched.",
    ),
    View(
        "daily_journeys",
        ANALYTICS,
        "daily_journeys.sql",
        "Sessions of anonymous devices per day, and how many of those devices are linked to "
        "a user.",
    ),
    View(
        "top_products",
        ANALYTICS,
        "top_products.sql",
        "Products over the last 28 days by views, carts and orders, with ranks.",
    ),
)
VIEWS = (*DEDUP_VIEWS, SESSIONIZED_VIEW, *DASHBOARD_VIEWS)


def _c(name: str, type_: str, description: str, mode: str = "REQUIRED") -> Column:
    return Column(name, type_, mode, description)


def _snapshot() -> Column:
    return _c("snapshot_date", "DATE", "Day the snapshot describes (up to its end, UTC).")


SEARCH_DAILY = ScheduledTable(
    name="search_daily",
    dataset=ANALYTICS,
    description="Daily searches per normalized query and intent; rows with fewer than k trusted "
    "users are dropped. No user or session id.",
    partition_field="day",
    expiration_days=None,
    personal_data=False,
    schedule="every day 01:30",
    columns=(
        _c("day", "DATE", "Day the searches occurred (UTC)."),
        _c("normalized_query", "STRING", "Query lower-cased, spaces collapsed, digits masked."),
        _c(
            "intent",
            "STRING",
            "Intent label from the app's classifier; NULL for searches sent without one.",
            "NULLABLE",
        ),
        _c("searches", "INTEGER", "Searches made, by anyone (anonymous devices included)."),
        _c(
            "users",
            "INTEGER",
            "Distinct trusted users who made them (user ids and the users of linked devices): "
            "at least k.",
        ),
        _c(
            "zero_result_rate",
            "FLOAT",
            "Share of the searches that reported a result count which found nothing; NULL when "
            "none reported one.",
            "NULLABLE",
        ),
        _c("click_through_rate", "FLOAT", "Share of searches followed by a product click."),
        _c("add_to_cart_rate", "FLOAT", "Share of searches followed by an add to cart."),
        _c(
            "searches_with_result_count",
            "INTEGER",
            "Searches that reported a result count: zero_result_rate's denominator.",
            "NULLABLE",
        ),
    ),
)


def _repeated(name: str, description: str, *fields: Column) -> Column:
    return Column(name, "RECORD", "REPEATED", description, fields)


# Before every feature query (02:00), which re-sums it.
PARTIALS_SCHEDULE = "every day 01:00"
# Events in user_daily count where the feature queries count them: by the day they occurred,
# cut at @run_date; the day received only says which run wrote them.
USER_DAILY = PartialTable(
    name="user_daily",
    dataset=EVENTS,
    description="Per user (or anonymous device), day received and day occurred: the events' "
    "counts, sessions, intents, products and orders the feature tables are summed from.",
    partition_field="received_on",
    expiration_days=RETENTION_DAYS,
    personal_data=True,
    schedule=PARTIALS_SCHEDULE,
    columns=(
        _c("received_on", "DATE", "Day the events were received (UTC): the run that wrote them."),
        _c("occurred_on", "DATE", "Day the events occurred (UTC, client clock)."),
        _c(
            "user_id",
            "STRING",
            "Pseudonymous user id of the events that carried one; NULL on a device's row.",
            "NULLABLE",
        ),
        _c("searches", "INTEGER", "Searches."),
        _c("product_views", "INTEGER", "Product views."),
        _c("product_clicks", "INTEGER", "Product clicks."),
        _c("add_to_carts", "INTEGER", "Cart additions."),
        _c("voice_interactions", "INTEGER", "Voice interactions."),
        _c("first_seen", "TIMESTAMP", "First event's occurred_at."),
        _c("last_seen", "TIMESTAMP", "Last event's occurred_at."),
        Column(
            "sessions", "STRING", "REPEATED", "Distinct sessions with any event, sent or derived."
        ),
        _repeated(
            "intents",
            "Searches and voice requests per intent.",
            _c("intent", "STRING", "Intent label."),
            _c("events", "INTEGER", "Searches and voice requests with it."),
        ),
        _repeated(
            "items",
            "Product interactions per session, product and category.",
            _c("session_id", "STRING", "Session of the interactions."),
            _c("product_id", "STRING", "Catalogue product id."),
            _c("category", "STRING", "Category sent with the interactions.", "NULLABLE"),
            _c("interactions", "INTEGER", "Views, clicks and cart changes."),
        ),
        _repeated(
            "currencies",
            "Orders per currency.",
            _c("currency", "STRING", "ISO 4217 code."),
            _c("orders", "INTEGER", "Orders placed in it."),
            _c("total", "NUMERIC", "Sum of their totals."),
        ),
        _repeated(
            "order_lines",
            "Distinct products per order.",
            _c("order_id", "STRING", "Order id."),
            _c("product_id", "STRING", "Catalogue product id."),
        ),
        # Appended: a column added to a deployed table goes last, and NULLABLE.
        _c(
            "anonymous_id",
            "STRING",
            "Device id of the events that carried no user id (user_id NULL); the feature queries "
            "give the row to the user the device is linked to, if any.",
            "NULLABLE",
        ),
    ),
)
PARTIAL_TABLES = (USER_DAILY,)
USER_PROFILES = ScheduledTable(
    name="user_profiles",
    dataset=EVENTS,
    description="Per-user activity profile over the retention window, one snapshot per day.",
    partition_field="snapshot_date",
    expiration_days=FEATURE_SNAPSHOT_DAYS,
    personal_data=True,
    schedule="every day 02:00",
    columns=(
        _snapshot(),
        _c("user_id", "STRING", "Pseudonymous user id."),
        _c("searches", "INTEGER", "Searches."),
        _c("product_views", "INTEGER", "Product views."),
        _c("product_clicks", "INTEGER", "Product clicks."),
        _c("add_to_carts", "INTEGER", "Cart additions."),
        _c("orders", "INTEGER", "Orders placed."),
        _c("voice_interactions", "INTEGER", "Voice interactions."),
        _c("sessions", "INTEGER", "Distinct sessions with any event."),
        _c("first_seen", "TIMESTAMP", "First event in the window."),
        _c("last_seen", "TIMESTAMP", "Last event in the window."),
        _c("days_since_last_seen", "INTEGER", "Days from last_seen to snapshot_date."),
        _c("favourite_category", "STRING", "Most interacted category.", "NULLABLE"),
        _c("favourite_product", "STRING", "Most interacted product.", "NULLABLE"),
        Column(
            "intent_mix",
            "RECORD",
            "REPEATED",
            "Share of searches and voice requests per intent, largest first.",
            (_c("intent", "STRING", "Intent label."), _c("share", "FLOAT", "Share, 0 to 1.")),
        ),
        _c("order_currency", "STRING", "The user's most used order currency.", "NULLABLE"),
        _c("average_order_value", "NUMERIC", "Mean order total in order_currency.", "NULLABLE"),
    ),
)
REORDER_PREDICTIONS = ScheduledTable(
    name="reorder_predictions",
    dataset=EVENTS,
    description="Per user and product ordered on two or more days: when the next order is due.",
    partition_field="snapshot_date",
    expiration_days=FEATURE_SNAPSHOT_DAYS,
    personal_data=True,
    schedule="every day 02:00",
    columns=(
        _snapshot(),
        _c("user_id", "STRING", "Pseudonymous user id."),
        _c("product_id", "STRING", "Catalogue product id."),
        _c("orders", "INTEGER", "Days with an order holding the product."),
        _c("first_ordered_on", "DATE", "First such day."),
        _c("last_ordered_on", "DATE", "Last such day."),
        _c("mean_interval_days", "FLOAT", "Mean days between those days."),
        _c("days_since_last", "INTEGER", "Days from last_ordered_on to snapshot_date."),
        _c("due_score", "FLOAT", "days_since_last / mean_interval_days; 1 or more is due."),
        _c("next_expected_on", "DATE", "last_ordered_on plus the rounded mean interval."),
    ),
)
PRODUCT_RECOMMENDATIONS = ScheduledTable(
    name="product_recommendations",
    dataset=EVENTS,
    description=f"Top {TOP_N} co-occurring products per product (sessions and orders).",
    partition_field="snapshot_date",
    expiration_days=FEATURE_SNAPSHOT_DAYS,
    personal_data=False,
    schedule="every day 02:00",
    columns=(
        _snapshot(),
        _c("product_id", "STRING", "Catalogue product id."),
        _c("recommended_product_id", "STRING", "A product found in the same baskets."),
        _c("co_occurrences", "INTEGER", "Baskets (sessions and orders) holding both."),
        _c("rank", "INTEGER", "1 = most co-occurring."),
    ),
)
USER_RECOMMENDATIONS = ScheduledTable(
    name="user_recommendations",
    dataset=EVENTS,
    description=f"Top {TOP_N} products per user from their last {RECENT_DAYS} days' items, "
    "without what they ordered in that time.",
    partition_field="snapshot_date",
    expiration_days=FEATURE_SNAPSHOT_DAYS,
    personal_data=True,
    # After product_recommendations, whose snapshot of the same day it reads.
    schedule="every day 03:00",
    columns=(
        _snapshot(),
        _c("user_id", "STRING", "Pseudonymous user id."),
        _c("product_id", "STRING", "Recommended product."),
        _c("score", "INTEGER", "Summed co-occurrences with the user's recent items."),
        _c("rank", "INTEGER", "1 = best."),
    ),
)
DATA_QUALITY = ScheduledTable(
    name="data_quality",
    dataset=ANALYTICS,
    description="Daily data-quality results: one row per rule (and family or field).",
    partition_field="check_date",
    expiration_days=DATA_QUALITY_DAYS,
    personal_data=False,
    schedule="every day 04:00",
    columns=(
        _c("check_date", "DATE", "Day checked (UTC)."),
        _c("rule", "STRING", "Rule name."),
        _c("family", "STRING", "Event family (table) checked."),
        _c("field", "STRING", "Field checked, where the rule is about one.", "NULLABLE"),
        _c("value", "FLOAT", "Measured value; NULL when there was nothing to measure.", "NULLABLE"),
        _c("threshold", "FLOAT", "The rule's limit."),
        _c("passed", "BOOLEAN", "Whether the value is within the limit."),
        _c("rows_checked", "INTEGER", "Rows the value was measured over."),
    ),
)
# Summed from user_daily; warehouse.full_rebuild computes each in one go from the raw window.
FEATURE_TABLES = (USER_PROFILES, REORDER_PREDICTIONS, PRODUCT_RECOMMENDATIONS, USER_RECOMMENDATIONS)
SCHEDULED_TABLES = (
    USER_DAILY,
    SEARCH_DAILY,
    USER_PROFILES,
    REORDER_PREDICTIONS,
    PRODUCT_RECOMMENDATIONS,
    USER_RECOMMENDATIONS,
    DATA_QUALITY,
)
# The scheduled tables keyed by user: what forgetting a user deletes from (forget/erase.py).
USER_LEVEL_TABLES = tuple(
    table
    for table in SCHEDULED_TABLES
    if table.personal_data and any(column.name == "user_id" for column in table.columns)
)
