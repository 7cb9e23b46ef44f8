"""The table the report reads capture health from: the capture function's (and the collector's)
one-line-per-request log, routed by a Cloud Logging sink into BigQuery.

A Logging sink to BigQuery does not let us name the table: it writes each log into a table named
after the log id, ``run.googleapis.com/stdout`` becoming ``run_googleapis_com_stdout`` (Cloud
Functions gen2 run on Cloud Run, and a function's stdout is that log). With
``use_partitioned_tables`` the table has no date suffix and is partitioned by day on the entry's
``timestamp`` column. The line's JSON lands in the ``jsonPayload`` record, one column per field
(lower-cased), and a JSON number becomes a FLOAT column, whatever the function wrote (a log
entry's payload is a protobuf Struct, whose numbers are doubles). ``severity`` is lifted out of
the payload into the entry's own column.

The sink gets a dataset of its own, ``DATASET``: the analytics dataset promises aggregates only,
and the sink's writer identity needs write access to its destination dataset, which must not
let it write the aggregates. The sink filter is ``infra.monitoring.log_metrics``'s
``capture_log_filter``, the one the log-based metrics select with.

``COLUMNS`` is the part of the table the report reads (and the local stand-in writes,
``localcloud/log_sink.py``); Logging adds a column for every other field it sees. Creating the
table with these columns before the first entry arrives lets the report (and any view) query
it from the start.
"""

from event_capture.contracts import log_fields as log
from event_capture.warehouse.catalog import Column

DATASET = "capture_logs"
LOG_ID = "run.googleapis.com/stdout"
TABLE = LOG_ID.replace(".", "_").replace("/", "_")
PARTITION_FIELD = "timestamp"
RESOURCE_TYPE = "cloud_run_revision"
# The request lines of the functions that run the capture pipeline, by their ``message``.
MESSAGES = (log.CAPTURE_MESSAGE, log.COLLECTOR_MESSAGE)
# Counts per request; a request refused before its events were read (a 4xx) has none of them.
COUNT_FIELDS = (
    log.EVENTS_RECEIVED,
    log.EVENTS_ACCEPTED,
    log.EVENTS_REJECTED,
    log.EVENTS_DEAD_LETTERED,
    log.EVENTS_NOT_STORED,
)
NUMBER_FIELDS = (log.HTTP_STATUS, log.LATENCY_MS, *COUNT_FIELDS)
TEXT_FIELDS = ("message", log.REQUEST_ID, log.RULE, log.POSITION, log.ERROR_TYPE)


def _nullable(name: str, type_: str, description: str, *fields: Column) -> Column:
    # Logging creates every column NULLABLE: any entry may lack any field.
    return Column(name, type_, "NULLABLE", description, fields)


COLUMNS = (
    _nullable("timestamp", "TIMESTAMP", "When the line was written (the partitioning column)."),
    _nullable("receiveTimestamp", "TIMESTAMP", "When Cloud Logging received it."),
    _nullable("severity", "STRING", "The line's severity."),
    _nullable("logName", "STRING", f"projects/<project>/logs/{LOG_ID.replace('/', '%2F')}."),
    _nullable("insertId", "STRING", "Logging's unique id of the entry."),
    _nullable(
        "resource",
        "RECORD",
        "The Cloud Run revision that wrote the line.",
        _nullable("type", "STRING", f"{RESOURCE_TYPE}."),
        _nullable(
            "labels",
            "RECORD",
            "The revision's labels.",
            _nullable("service_name", "STRING", "The function: capture or collector."),
            _nullable("revision_name", "STRING", "The revision."),
            _nullable("location", "STRING", "The region."),
            _nullable("project_id", "STRING", "The project."),
        ),
    ),
    _nullable(
        "jsonPayload",
        "RECORD",
        "The line's JSON fields (the report reads these).",
        *(_nullable(name, "STRING", f"The line's {name}.") for name in TEXT_FIELDS),
        *(
            _nullable(name, "FLOAT", f"The line's {name} (a JSON number).")
            for name in NUMBER_FIELDS
        ),
    ),
)


def table_id(project: str, dataset: str = DATASET) -> str:
    """The routed log's table, ``project.dataset.run_googleapis_com_stdout``."""
    return f"{project}.{dataset}.{TABLE}"


def log_name(project: str) -> str:
    """The ``logName`` of the entries: the log id URL-encoded after ``logs/``."""
    return f"projects/{project}/logs/{LOG_ID.replace('/', '%2F')}"
