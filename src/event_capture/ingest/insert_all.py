"""BigQuery's ``tabledata.insertAll``, sent over google-auth's urllib3 transport.

The capture path makes one insertAll call per table per request. Through google-cloud-bigquery
each costs about 1 ms of CPU here, mostly around the call: a requests session, a connection
object, a second JSON encoding of every row, tracing hooks. The body built from the rows'
JSON and posted with google-auth's ``AuthorizedHttp`` (the same credentials and token refresh
the library uses) costs about 0.4 ms. Everything else (tables, queries, replay's lookups)
stays with the library.

Errors keep the shape the retry rule reads (``retry.is_transient``): an HTTP answer other than
200 raises ``ApiError`` with its status as ``code`` and BigQuery's ``errors`` list (the reasons);
network failures raise urllib3's own exceptions.
"""

import json
from collections.abc import Sequence
from typing import Any, Protocol

from event_capture.ingest.row import Row

BIGQUERY_API = "https://bigquery.googleapis.com"
# The scope google-cloud-bigquery asks for besides cloud-platform; insertAll needs no more.
SCOPES = ("https://www.googleapis.com/auth/bigquery",)


class Transport(Protocol):
    """The part of ``google.auth.transport.urllib3.AuthorizedHttp`` used here, over a
    connection pool of one host: ``url`` is the path."""

    def urlopen(
        self, method: str, url: str, body: bytes, headers: dict[str, str], **kwargs: Any
    ) -> Any: ...


class InsertAll(Protocol):
    """One insertAll call: the rows in, BigQuery's per-row ``insertErrors`` out."""

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]: ...


class ApiError(Exception):
    """An answer other than 200, with the status and reasons the retry rule reads."""

    def __init__(self, code: int, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.errors = errors

    @classmethod
    def from_answer(cls, status: int, data: bytes) -> "ApiError":
        # BigQuery's error body: {"error": {"code", "message", "errors": [{"reason", ...}]}}.
        try:
            error = json.loads(data)["error"]
            errors = [e for e in error.get("errors", []) if isinstance(e, dict)]
            return cls(status, str(error.get("message", ""))[:300], errors)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(status, data[:200].decode(errors="replace"), [])


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
        # One host's pool rather than a PoolManager: a manager parses and routes every URL
        # again, about 0.1 ms a call here.
        self._transport = transport

    @staticmethod
    def path(table: str) -> str:
        # Project ids may hold a dot ("example.com:app"); dataset and table ids never do.
        project, dataset, table_id = table.rsplit(".", 2)
        return f"/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table_id}/insertAll"

    def insert_all(
        self, table: str, rows: Sequence[Row], *, timeout: float
    ) -> Sequence[dict[str, Any]]:
        answer = self._transport.urlopen(
            "POST",
            self.path(table),
            body=insert_all_body(rows),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
            # The sink decides about every retry; urllib3's own would hide failures from it.
            retries=False,
        )
        if answer.status != 200:
            raise ApiError.from_answer(answer.status, answer.data)
        errors: list[dict[str, Any]] = json.loads(answer.data).get("insertErrors", [])
        return errors
