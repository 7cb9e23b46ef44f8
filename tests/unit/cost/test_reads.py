"""The read analyser on scripts of its own: what counts as a read, and what bounds it."""

from event_capture.cost.reads import Read, reads
from event_capture.warehouse.catalog import VIEW_SINCE
from event_capture.warehouse.render import Datasets

DATASETS = Datasets("p.events", "p.analytics")


def test_a_deletes_target_is_not_a_read_and_the_insert_reads_its_query() -> None:
    script = (
        "DELETE FROM `p.events.user_profiles`\nWHERE snapshot_date = @day;\n\n"
        "INSERT INTO `p.events.user_profiles` (user_id)\n"
        "SELECT user_id FROM `p.events.user_daily` WHERE received_on >= @start;"
    )

    assert reads(script, DATASETS) == [Read("p.events.user_daily", "received_on >= @start")]


def test_a_view_stands_for_the_partitions_its_own_sql_reads() -> None:
    script = "SELECT * FROM `p.events.orders_dedup` AS o, UNNEST(o.items) AS item"

    assert reads(script, DATASETS) == [Read("p.events.orders", f"received_at >= {VIEW_SINCE}")]


def test_a_filter_on_another_column_reads_every_partition() -> None:
    script = "SELECT * FROM `p.events.orders`\nWHERE user_id = 'u1'"

    assert reads(script, DATASETS) == [Read("p.events.orders", None)]


def test_each_table_and_bound_is_read_once() -> None:
    script = (
        "SELECT * FROM `p.events.user_daily` WHERE received_on >= @a\n"
        "UNION ALL SELECT * FROM `p.events.user_daily` WHERE received_on >= @a\n"
        "UNION ALL SELECT * FROM `p.events.user_daily` WHERE received_on >= @b"
    )

    assert reads(script, DATASETS) == [
        Read("p.events.user_daily", "received_on >= @a"),
        Read("p.events.user_daily", "received_on >= @b"),
    ]
