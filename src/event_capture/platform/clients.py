"""Cloud and Redis clients, each built on first use by the function that needs it.

The imports live inside the functions: google-cloud-bigquery and google-cloud-storage cost
hundreds of milliseconds to import, and an instance only pays for the backends it uses. With an
emulator's address every client is anonymous (the emulators have no auth; without anonymous
credentials a client would look for application default credentials and fail on a machine that
has none).
"""

from typing import TYPE_CHECKING, Any

from event_capture.platform.bigquery_surface import BigQueryClient
from event_capture.platform.redis_surface import RedisClient
from event_capture.platform.storage_surface import StorageClient

if TYPE_CHECKING:
    import requests

    from event_capture.platform.curl_http import CurlHttp


def _one_session_per_backend(session: "requests.Session", connections: int) -> None:
    """Tune a client's HTTP session (``_http``, the library's own requests session).

    Enough pooled connections for every call the instance runs at once (requests keeps 10, and
    drops the rest after each call), and no proxy lookup in the environment on every call
    (requests' ``trust_env`` walks ``os.environ`` each time: about 0.2 ms a call here; the
    functions run on Cloud Run, which sets no proxy).
    """
    from requests.adapters import HTTPAdapter

    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=connections)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _anonymous_options(emulator_host: str) -> dict[str, Any]:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return {
        "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
        "client_options": ClientOptions(api_endpoint=emulator_host),
    }


def bigquery_client(project: str, emulator_host: str | None, *, connections: int) -> BigQueryClient:
    """google-cloud-bigquery's client, with ``connections`` pooled HTTP connections."""
    from google.cloud import bigquery

    options = _anonymous_options(emulator_host) if emulator_host else {}
    client = bigquery.Client(project=project, **options)
    _one_session_per_backend(client._http, connections)
    return client


def storage_client(project: str, emulator_host: str | None, *, connections: int) -> StorageClient:
    """google-cloud-storage's client; ``emulator_host`` is fake-gcs-server's address.

    google-cloud-storage reads STORAGE_EMULATOR_HOST from the process environment too, but the
    address is given explicitly so that a configuration built from any mapping (a test's, the
    local cloud's) reaches the emulator it names.
    """
    # No type information in google-cloud-storage: as a module import it is Any for mypy.
    import google.cloud.storage as storage

    options = _anonymous_options(emulator_host) if emulator_host else {}
    client = storage.Client(project=project, **options)
    _one_session_per_backend(client._http, connections)
    # Any to mypy (storage_surface says why): nothing checks it against the Protocol here.
    typed: StorageClient = client
    return typed


def curl_http(emulator_host: str | None, api: str, scopes: tuple[str, ...]) -> "CurlHttp":
    """``CurlHttp`` to the emulator, anonymous, or to ``api`` with application default
    credentials, their token refreshed over urllib3."""
    import urllib3
    from google.auth.transport.urllib3 import Request

    from event_capture.platform.curl_http import CurlHttp

    if emulator_host:
        from google.auth.credentials import AnonymousCredentials

        credentials: Any = AnonymousCredentials()  # type: ignore[no-untyped-call]
    else:
        import google.auth

        credentials, _ = google.auth.default(scopes=scopes)
    token_request = Request(urllib3.PoolManager())  # type: ignore[no-untyped-call]
    return CurlHttp(emulator_host or api, credentials, token_request)


def bigquery_write_client(emulator_grpc_host: str | None) -> Any:
    """google-cloud-bigquery-storage's ``BigQueryWriteClient``: one gRPC channel, to the
    emulator's plaintext gRPC port (anonymous) or to the API with application default
    credentials."""
    from google.cloud.bigquery_storage_v1 import BigQueryWriteClient

    if not emulator_grpc_host:
        return BigQueryWriteClient()  # type: ignore[no-untyped-call]
    import grpc
    from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
        BigQueryWriteGrpcTransport,
    )

    host = emulator_grpc_host.removeprefix("http://")
    return BigQueryWriteClient(  # type: ignore[no-untyped-call]
        transport=BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(host))
    )


def redis_connection(url: str, timeout_seconds: float) -> RedisClient:
    """A Redis client that gives up after one attempt of at most ``timeout_seconds``.

    redis-py retries three times with backoff of up to seconds by default; the capture and
    features paths answer (cache skipped, or a 503 with Retry-After) instead of waiting.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 0),
    )
