"""The warehouse SQL rendered for one pair of datasets: the files of ``warehouse/sql``, one
statement each, with their ``${...}`` placeholders filled, and the scripts the scheduled
queries run around them. The Pulumi program, the local cloud and the tests all render through
here, so what the tests run on the emulator is what is deployed.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from event_capture.platform.query import DATE, Query
from event_capture.schemas.retention import MAX_CLOCK_SKEW_AHEAD, RETENTION_DAYS
from event_capture.warehouse.catalog import (
    ACTIVITY_TABLES,
    ANALYTICS,
    DATA_QUALITY,
    DEFAULT_MIN_USERS,
    EVENT_TABLES,
    EVENTS,
    KNOWN_INTENTS,
    PARTIAL_SINCE_DAYS,
    PARTIAL_TABLES,
    QUALITY_FAILED,
    RECENT_DAYS,
    RECENT_SINCE,
    SESSION_GAP_MINUTES,
    TOP_N,
    VIEW_SINCE,
    PartialTable,
    ScheduledTable,
    View,
    received_since,
)

SQL_DIR = Path(__file__).parent / "sql"
# A derived session is named by its first event, which a partial table's oldest day received may
# not hold: its rebuild reads one more day of raw partitions than it writes.
SESSION_CONTEXT_DAYS = 1
# What every scheduled script is given: the Data Transfer Service sets @run_date (a DATE, the
# run's day) on each run of a scheduled query.
RUN_DATE_PARAMETERS = {"run_date": DATE}


def scheduled_query(script: str) -> Query:
    """A script as a scheduled query runs it: with ``@run_date``."""
    return Query(script, RUN_DATE_PARAMETERS)


@dataclass(frozen=True)
class Datasets:
    """Where the SQL points: fully qualified dataset names (``project.dataset``)."""

    events: str
    analytics: str
    min_users: int = DEFAULT_MIN_USERS

    def of(self, role: str) -> str:
        """The dataset holding a view or table declared with ``dataset=role``."""
        return self.events if role == EVENTS else self.analytics

    def placeholders(self) -> dict[str, str]:
        intents = ", ".join(f"'{intent}'" for intent in KNOWN_INTENTS)
        values = {
            EVENTS: self.events,
            ANALYTICS: self.analytics,
            "min_users": str(self.min_users),
            "top_n": str(TOP_N),
            "recent_days": str(RECENT_DAYS),
            # The features sum user_daily's days received from @run_date - 90 on: those of the
            # raw partitions it was built from (the views cut at CURRENT_TIMESTAMP - 90 days,
            # inside that oldest day).
            "retention_days": str(RETENTION_DAYS),
            # An event stamped up to MAX_CLOCK_SKEW_AHEAD ahead was received that much earlier.
            "recent_received_days": str(RECENT_DAYS + MAX_CLOCK_SKEW_AHEAD.days),
            "known_intents": f"[{intents}]",
            "quality_failed": QUALITY_FAILED,
            "session_gap_minutes": str(SESSION_GAP_MINUTES),
            "view_since": VIEW_SINCE,
        }
        # Fragments that several statements embed, rendered first: a placeholder's value is not
        # substituted again.
        values["device_users"] = _fragment("device_users.sql", values)
        values["sessionize"] = _fragment("sessionize.sql", values)
        values["stitched"] = _fragment("stitched.sql", values)
        values["activity_events"] = "\nUNION ALL\n".join(
            "SELECT event_id, event_type, occurred_at, received_at, user_id, anonymous_id, "
            f"session_id\nFROM `{self.events}.{table}_dedup`"
            for table in ACTIVITY_TABLES
        )
        # A feature query reads each partial table through a placeholder of its name: here the
        # deployed table; a full rebuild (warehouse.full_rebuild) fills in the table's query.
        partials = {spec.name: f"`{table_name(spec, self)}`" for spec in PARTIAL_TABLES}
        return values | partials | self.recent(RECENT_SINCE)

    def recent(self, since: str) -> dict[str, str]:
        """The ``recent_<table>`` placeholders: dedup.sql inlined for the partitions received
        from ``since`` on, so a query about a few days reads only those.
        """
        dedup = Template(read_sql("dedup.sql"))
        return {
            f"recent_{table}": "(\n"
            + dedup.substitute(events=self.events, table=table, since=since).strip()
            + "\n)"
            for table in EVENT_TABLES
        }


@cache
def read_sql(file_name: str) -> str:
    return (SQL_DIR / file_name).read_text()


def _fragment(file_name: str, values: dict[str, str]) -> str:
    return Template(read_sql(file_name)).substitute(values).strip()


def render(file_name: str, datasets: Datasets, **params: str) -> str:
    """The SQL of one file with its placeholders filled; an unknown placeholder raises."""
    return Template(read_sql(file_name)).substitute(datasets.placeholders(), **params).strip()


def view_sql(view: View, datasets: Datasets) -> str:
    return render(view.sql_file, datasets, **view.params)


def table_name(spec: ScheduledTable, datasets: Datasets) -> str:
    return f"{datasets.of(spec.dataset)}.{spec.name}"


def scheduled_sql(spec: ScheduledTable, datasets: Datasets) -> str:
    """The script the table's scheduled query runs for ``@run_date``: it replaces the partition
    of the day before with the query's rows (a partial table: its last few days, see
    ``rebuild_sql``). The data-quality run then fails, naming every failed rule, if any rule
    failed; that error is what its alert policy matches.
    """
    if isinstance(spec, PartialTable):
        return rebuild_sql(spec, datasets, PARTIAL_SINCE_DAYS)
    script = replace_partition_sql(spec, datasets, render(spec.sql_file, datasets))
    if spec is DATA_QUALITY:
        script += "\n\n" + render("data_quality_alert.sql", datasets) + ";"
    return script


def replace_partition_sql(spec: ScheduledTable, datasets: Datasets, query: str) -> str:
    """The script that replaces ``spec``'s partition of the day before ``@run_date`` with the
    rows of ``query``.
    """
    return render(
        "replace_partition.sql",
        datasets,
        table=table_name(spec, datasets),
        partition_field=spec.partition_field,
        columns=", ".join(column.name for column in spec.columns),
        query=query,
    )


def rebuild_sql(spec: PartialTable, datasets: Datasets, since_days: int) -> str:
    """The script that rebuilds a partial table's days received from ``@run_date - since_days``
    to ``@run_date`` out of those days' raw partitions. Nightly: ``PARTIAL_SINCE_DAYS``; once,
    after the first deploy (the table starts empty): the retention window (``backfill_sql``).
    """
    return render(
        "rebuild_received_days.sql",
        datasets,
        table=table_name(spec, datasets),
        partition_field=spec.partition_field,
        since_days=str(since_days),
        columns=", ".join(column.name for column in spec.columns),
        query=partial_query(spec, datasets, since_days),
    )


def partial_query(spec: PartialTable, datasets: Datasets, since_days: int) -> str:
    """A partial table's query for the days received from ``@run_date - since_days`` to
    ``@run_date``, out of those days' raw partitions and the ``SESSION_CONTEXT_DAYS`` before.
    """
    return render(
        spec.sql_file,
        datasets,
        rebuilt_since=received_since(since_days),
        **datasets.recent(received_since(since_days + SESSION_CONTEXT_DAYS)),
    )


def backfill_sql(datasets: Datasets) -> str:
    """One script filling every partial table's whole retention window for ``@run_date``: what
    the feature queries sum, on a first deploy or after the partial tables were lost. It reads
    the raw window once.
    """
    return "\n\n".join(rebuild_sql(spec, datasets, RETENTION_DAYS) for spec in PARTIAL_TABLES)
