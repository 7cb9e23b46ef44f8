# mypy: disable-error-code="no-untyped-call"
# (google.auth and google.api_core exception constructors carry no annotations)
"""Which errors are transient: google-cloud-bigquery's rule, and google-cloud-storage's.

Each case is built with the real exception classes (google.api_core, requests, google.auth),
so the name-based matching in ``retry.py`` is checked against what the clients really raise.
The sinks' retry loops are tested with these rules in test_bigquery_sink and test_gcs_objects.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import requests
import urllib3
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from event_capture.ingest.retry import (
    TRANSIENT_REASONS,
    describe,
    is_transient,
    is_transient_storage,
)
from event_capture.platform.api_transport import ApiError
from event_capture.platform.curl_http import (
    CurlConnectionError,
    CurlSetupError,
    CurlTimeoutError,
    SSLError,
)


def api(cls: type[gexc.GoogleAPICallError], reason: str | None = None) -> BaseException:
    errors: Any = [{"reason": reason, "message": "m"}] if reason else []
    error: BaseException = cls("message", errors=errors)
    return error


def grpc_error(code: grpc.StatusCode) -> BaseException:
    """What the Write API's client raises for an append answered with ``code``."""
    error: BaseException = gexc.from_grpc_status(code, "message")
    return error


class RawRpcError(grpc.RpcError):  # type: ignore[misc]  # grpc ships no types
    """A gRPC call's own error, its status behind ``code()``."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__("rpc failed")
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


TRANSIENT: list[Any] = [
    # google-cloud-bigquery's _RETRYABLE_REASONS, whatever the status carrying them.
    pytest.param(lambda: api(gexc.Forbidden, "rateLimitExceeded"), id="403-rateLimitExceeded"),
    pytest.param(lambda: api(gexc.InternalServerError, "backendError"), id="500-backendError"),
    pytest.param(lambda: api(gexc.InternalServerError, "internalError"), id="500-internalError"),
    pytest.param(lambda: api(gexc.BadGateway, "badGateway"), id="502-badGateway"),
    # The streaming-quota addition.
    pytest.param(lambda: api(gexc.Forbidden, "quotaExceeded"), id="403-quotaExceeded"),
    # Its _UNSTRUCTURED_RETRYABLE_TYPES, when no reason is given.
    pytest.param(lambda: api(gexc.TooManyRequests), id="429"),
    pytest.param(lambda: api(gexc.InternalServerError), id="500"),
    pytest.param(lambda: api(gexc.BadGateway), id="502"),
    pytest.param(lambda: api(gexc.ServiceUnavailable), id="503"),
    pytest.param(lambda: ConnectionResetError("reset by peer"), id="ConnectionError"),
    pytest.param(lambda: requests.exceptions.ConnectionError("refused"), id="requests-Connection"),
    pytest.param(lambda: requests.exceptions.ReadTimeout("read"), id="requests-ReadTimeout"),
    pytest.param(lambda: requests.exceptions.ChunkedEncodingError("cut"), id="requests-Chunked"),
    pytest.param(lambda: auth_exceptions.TransportError("metadata"), id="auth-TransportError"),
    pytest.param(lambda: TimeoutError("timed out"), id="TimeoutError"),
    # What curl_http raises to insert_all where requests would raise the first two above.
    pytest.param(lambda: CurlConnectionError("curl 7: refused"), id="curl-connection"),
    pytest.param(lambda: CurlTimeoutError("curl 28: timed out"), id="curl-timeout"),
    # insert_all's own error for an HTTP answer, as BigQuery words it.
    pytest.param(lambda: ApiError(503, "unavailable", []), id="ApiError-503"),
    pytest.param(
        lambda: ApiError(403, "quota", [{"reason": "quotaExceeded"}]), id="ApiError-403-quota"
    ),
    # The Write API's appends (gRPC), as google.api_core raises them and as raw gRPC errors.
    pytest.param(lambda: grpc_error(grpc.StatusCode.UNAVAILABLE), id="grpc-UNAVAILABLE"),
    pytest.param(
        lambda: grpc_error(grpc.StatusCode.DEADLINE_EXCEEDED), id="grpc-DEADLINE_EXCEEDED"
    ),
    pytest.param(
        lambda: grpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED), id="grpc-RESOURCE_EXHAUSTED"
    ),
    pytest.param(lambda: grpc_error(grpc.StatusCode.INTERNAL), id="grpc-INTERNAL"),
    pytest.param(lambda: RawRpcError(grpc.StatusCode.DEADLINE_EXCEEDED), id="raw-grpc-DEADLINE"),
]

PERMANENT: list[Any] = [
    pytest.param(lambda: api(gexc.BadRequest, "invalid"), id="400-invalid"),
    pytest.param(lambda: api(gexc.BadRequest), id="400"),
    pytest.param(lambda: api(gexc.Unauthorized), id="401"),
    pytest.param(lambda: api(gexc.Forbidden, "accessDenied"), id="403-accessDenied"),
    pytest.param(lambda: api(gexc.NotFound, "notFound"), id="404-notFound"),
    pytest.param(lambda: api(gexc.Conflict), id="409"),
    # As in the BigQuery rule, a structured reason decides, even on a 5xx.
    pytest.param(lambda: api(gexc.ServiceUnavailable, "notRetryable"), id="503-other-reason"),
    pytest.param(lambda: requests.exceptions.SSLError("bad certificate"), id="requests-SSLError"),
    pytest.param(lambda: FileNotFoundError("credentials.json"), id="FileNotFoundError"),
    pytest.param(lambda: ValueError("cannot serialize"), id="ValueError"),
    pytest.param(lambda: SSLError("curl 60: bad certificate"), id="curl-SSLError"),
    pytest.param(lambda: CurlSetupError("curl 3: URL malformed"), id="curl-setup"),
    pytest.param(
        lambda: ApiError(404, "Not found: Table", [{"reason": "notFound"}]), id="ApiError-404"
    ),
    pytest.param(lambda: ApiError(403, "denied", [{"reason": "accessDenied"}]), id="ApiError-403"),
    pytest.param(lambda: grpc_error(grpc.StatusCode.INVALID_ARGUMENT), id="grpc-INVALID_ARGUMENT"),
    pytest.param(
        lambda: grpc_error(grpc.StatusCode.PERMISSION_DENIED), id="grpc-PERMISSION_DENIED"
    ),
    pytest.param(lambda: grpc_error(grpc.StatusCode.NOT_FOUND), id="grpc-NOT_FOUND"),
    pytest.param(lambda: RawRpcError(grpc.StatusCode.INVALID_ARGUMENT), id="raw-grpc-INVALID"),
]


# Cloud Storage's rule: the status decides, whatever the reason.
STORAGE_TRANSIENT: list[Any] = [
    pytest.param(lambda: api(gexc.GatewayTimeout), id="504"),
    pytest.param(lambda: gexc.from_http_status(408, "timeout"), id="408"),
    pytest.param(lambda: api(gexc.ServiceUnavailable, "notRetryable"), id="503-any-reason"),
    pytest.param(lambda: api(gexc.TooManyRequests, "rateLimitExceeded"), id="429"),
    pytest.param(lambda: urllib3.exceptions.ProtocolError("reset"), id="urllib3-ProtocolError"),
    pytest.param(lambda: http.client.IncompleteRead(b"x"), id="IncompleteRead"),
    pytest.param(lambda: requests.exceptions.ConnectionError("refused"), id="requests-Connection"),
    pytest.param(lambda: ConnectionRefusedError("refused"), id="ConnectionRefusedError"),
    # As google-cloud-storage retries its own uploads' connection and TLS errors.
    pytest.param(lambda: CurlConnectionError("curl 56: reset"), id="curl-connection"),
    pytest.param(lambda: CurlTimeoutError("curl 28: timed out"), id="curl-timeout"),
    pytest.param(lambda: SSLError("curl 60: certificate"), id="curl-SSLError"),
    pytest.param(lambda: urllib3.exceptions.SSLError("bad certificate"), id="urllib3-SSLError"),
]
STORAGE_PERMANENT: list[Any] = [
    pytest.param(lambda: api(gexc.BadRequest), id="400"),
    pytest.param(lambda: api(gexc.Forbidden, "rateLimitExceeded"), id="403-any-reason"),
    pytest.param(lambda: api(gexc.NotFound), id="404"),
    pytest.param(lambda: api(gexc.PreconditionFailed), id="412"),
    pytest.param(lambda: ValueError("bad name"), id="ValueError"),
    pytest.param(lambda: CurlSetupError("curl 1: unsupported protocol"), id="curl-setup"),
]


@pytest.mark.parametrize("make", TRANSIENT)
def test_transient(make: Callable[[], BaseException]) -> None:
    assert is_transient(make())


@pytest.mark.parametrize("make", PERMANENT)
def test_permanent(make: Callable[[], BaseException]) -> None:
    assert not is_transient(make())


@pytest.mark.parametrize("make", STORAGE_TRANSIENT)
def test_storage_transient(make: Callable[[], BaseException]) -> None:
    assert is_transient_storage(make())


@pytest.mark.parametrize("make", STORAGE_PERMANENT)
def test_storage_permanent(make: Callable[[], BaseException]) -> None:
    assert not is_transient_storage(make())


def test_every_type_and_status_storage_retries_is_transient_for_storage_here() -> None:
    from google.cloud.storage import retry as storage_retry

    for code in storage_retry._RETRYABLE_STATUS_CODES:
        assert is_transient_storage(gexc.from_http_status(code, "m")), code
    for cls in storage_retry._RETRYABLE_TYPES:
        if issubclass(cls, gexc.GoogleAPICallError):
            error: BaseException = cls("m")
        elif cls.__name__ == "IncompleteRead":
            error = cls(b"")
        elif cls.__name__ == "PoolError":
            error = cls(None, "m")
        else:
            error = cls("m")
        assert is_transient_storage(error), cls


def test_the_reasons_are_bigquerys_own_plus_quota() -> None:
    from google.cloud.bigquery import retry as bigquery_retry

    bigquery_reasons = bigquery_retry._RETRYABLE_REASONS
    assert bigquery_reasons | {"quotaExceeded"} == TRANSIENT_REASONS


def test_every_unstructured_type_bigquery_retries_is_transient_here() -> None:
    from google.cloud.bigquery import retry as bigquery_retry

    for cls in bigquery_retry._UNSTRUCTURED_RETRYABLE_TYPES:
        error = cls("message") if not issubclass(cls, gexc.GoogleAPICallError) else cls("m")
        assert is_transient(error), cls


def test_describe_keeps_the_type_and_first_line() -> None:
    error = api(gexc.ServiceUnavailable)

    assert describe(ValueError("first\nsecond")) == "ValueError: first"
    assert describe(error).startswith("ServiceUnavailable: 503")
    assert len(describe(ValueError("x" * 1000))) == 300
