"""BigQuery's ``tabledata.insertAll``, sent over ``curl_http.CurlHttp``.

The capture path makes one insertAll call per table per request. Through google-cloud-bigquery
each costs about 1 ms of CPU here, mostly around the call: a requests session, a connection
object, a second JSON encoding of every row, tracing hooks. Here the body is built from the
rows' JSON as validation wrote it and posted with google-auth's credentials over libcurl. Everything
else (tables, queries, replay's lookups) stays with the library.

Errors keep the shape the retry rule reads (``retry.is_transient``): an HTTP answer other than
200 raises ``ApiError`` with its status as ``code`` and BigQuery's ``errors`` list (the reasons);
network failures raise ``ConnectionError``/``TimeoutError`` subclasses.
"""

import json
from collections.abc import Sequence
from typing import Any, Protocol

from event_capture.ingest.row import Row
from event_capture.platform.api_calls import EVENT_TABLES, ApiCall
from event_capture.platform.api_transport import ApiError, Transport

BIGQUERY_API = "https://bigquery.googleapis.com"
# The scope google-cloud-bigquery asks for besides cloud-platform; insertAll needs no more.
SCOPES = ("https://www.googleapis.com/auth/bigquery",)
JSON_HEADERS = {"Content-Type": "application/json"}

# Rows streamed into the event tables (the capture functions, replay).
API_CALLS = (ApiCall("bigquery.tabledata.insertAll", EVENT_TABLES),)


class InsertAll(Protocol):
    """One insertAll call: the rows in, BigQuery's per-row ``insertErrors`` out."""

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]: ...


def insert_all_body(rows: Sequence[Row]) -> bytes:
    """The request body, from each row's JSON as validation wrote it (never encoded again).

    Every insert is all-or-nothing per row: one invalid row must not let the others in
    silently half-way; BigQuery then marks them "stopped" and the sink sends them again.
    """
    # event_id is a validated UUID: nothing in it needs escaping.
    items = ",".join(f'{{"insertId":"{row.event_id}","json":{row.json}}}' for row in rows)
    return (f'{{"skipInvalidRows":false,"ignoreUnknownValues":false,"rows":[{items}]}}').encode()


class HttpInsertAll:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def path(table: str) -> str:
        # Project ids may hold a dot ("example.com:app"); dataset and table ids never do.
        project, dataset, table_id = table.rsplit(".", 2)
        return f"/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table_id}/insertAll"

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]:
        # One call, never retried by the transport: the sink decides about every retry.
        answer = self._transport.post(
            self.path(table), insert_all_body(rows), JSON_HEADERS, timeout=timeout
        )
        if answer.status != 200:
            raise ApiError.from_answer(answer.status, answer.data)
        errors: list[dict[str, Any]] = json.loads(answer.data).get("insertErrors", [])
        return errors
