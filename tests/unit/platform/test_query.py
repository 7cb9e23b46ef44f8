"""A query's parameters: declared once with their BigQuery types, given values by name."""

import datetime as dt

import pytest
from google.cloud import bigquery

from event_capture.platform.query import DATE, STRING_ARRAY, Query

QUERY = Query(
    "SELECT 1 FROM t WHERE day = @day AND id IN UNNEST(@ids)", {"day": DATE, "ids": STRING_ARRAY}
)


def test_each_parameter_is_sent_with_its_declared_type() -> None:
    config = QUERY.job_config(day=dt.date(2026, 12, 7), ids=("a", "b"))

    by_name = {p.name: p for p in config.query_parameters}
    assert isinstance(by_name["day"], bigquery.ScalarQueryParameter)
    assert (by_name["day"].type_, by_name["day"].value) == ("DATE", dt.date(2026, 12, 7))
    assert isinstance(by_name["ids"], bigquery.ArrayQueryParameter)
    assert (by_name["ids"].array_type, by_name["ids"].values) == ("STRING", ["a", "b"])


@pytest.mark.parametrize(
    "values",
    [{"day": dt.date(2026, 12, 7)}, {"day": dt.date(2026, 12, 7), "ids": [], "extra": 1}],
)
def test_a_value_missing_or_not_declared_is_refused_naming_both_lists(
    values: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match=r"declared \['day', 'ids'\], given"):
        QUERY.job_config(**values)
