"""Pausing and resuming the warehouse's scheduled queries (BigQuery Data Transfer Service).

Two REST calls of the v1 API, made with google-auth's ``AuthorizedSession``:
``transferConfigs.patch`` with ``updateMask=disabled`` (a disabled config schedules no runs) and
``transferConfigs.startManualRuns`` over the time it was paused, so the days it skipped are
built once the archived events are back in the tables (each run replaces its own day).

Why not google-cloud-bigquery-datatransfer: its current releases need protobuf 6 or later,
and the Pulumi policy pack this repository tests with pins protobuf 5; two calls do not
justify a second venv, and the function ships without gRPC.
"""

import datetime as dt
from typing import Any, Protocol

from event_capture.platform.api_calls import SCHEDULED_QUERIES, ApiCall

API = "https://bigquerydatatransfer.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TIMEOUT_SECONDS = 30.0

API_CALLS = (
    ApiCall("bigquerydatatransfer.projects.locations.transferConfigs.patch", SCHEDULED_QUERIES),
    ApiCall(
        "bigquerydatatransfer.projects.locations.transferConfigs.startManualRuns",
        SCHEDULED_QUERIES,
    ),
)


class TransferError(RuntimeError):
    """The Data Transfer API refused a call; the text has its status and message."""


class QuerySwitch(Protocol):
    def set_disabled(self, config: str, disabled: bool) -> None: ...

    def run_missed(self, config: str, start: dt.datetime, end: dt.datetime) -> None: ...


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class DataTransferSwitch:
    """``config``: a transfer config's full name, ``projects/P/locations/L/transferConfigs/ID``."""

    def __init__(self, session: Any, endpoint: str = API) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip("/")

    @classmethod
    def from_environment(cls, endpoint: str = API) -> "DataTransferSwitch":
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=SCOPES)
        return cls(AuthorizedSession(credentials), endpoint)  # type: ignore[no-untyped-call]

    def set_disabled(self, config: str, disabled: bool) -> None:
        self._call(
            "PATCH", f"/v1/{config}", json={"disabled": disabled}, params={"updateMask": "disabled"}
        )

    def run_missed(self, config: str, start: dt.datetime, end: dt.datetime) -> None:
        body = {"requestedTimeRange": {"startTime": _rfc3339(start), "endTime": _rfc3339(end)}}
        self._call("POST", f"/v1/{config}:startManualRuns", json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> None:
        answer = self._session.request(
            method, self._endpoint + path, timeout=TIMEOUT_SECONDS, **kwargs
        )
        if answer.status_code >= 400:
            raise TransferError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")


# All the two calls need, granted through a custom role: disabling a config and starting its
# manual runs are both ``bigquery.transfers.update`` (REST reference of each method).
TRANSFER_PERMISSIONS = ("bigquery.transfers.update",)
