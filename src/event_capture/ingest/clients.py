"""Cloud and Redis clients, built on first use from the configuration.

The imports live inside the functions: google-cloud-bigquery and google-cloud-storage cost
hundreds of milliseconds to import, and an instance only pays for the backends it has enabled.
"""

from typing import Any

from event_capture.ingest.config import Config
from event_capture.schemas.families import FAMILIES


def _one_session_per_backend(client: Any, config: Config) -> Any:
    """Tune the client's HTTP session (``_http``, the library's own requests session).

    Enough pooled connections for every table write the instance runs at once (requests keeps
    10, and drops the rest after each call), and no proxy lookup in the environment on every
    call (requests' ``trust_env`` walks ``os.environ`` each time: about 0.2 ms a call here;
    the function runs on Cloud Run, which sets no proxy).
    """
    from requests.adapters import HTTPAdapter

    session = client._http
    session.trust_env = False
    connections = config.server_threads * len(FAMILIES)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=connections)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return client


def bigquery_client(config: Config) -> Any:
    """google-cloud-bigquery's client, for everything but the capture path's inserts."""
    return _one_session_per_backend(_bigquery_client(config), config)


def bigquery_inserts(config: Config) -> Any:
    """The capture path's insertAll calls (``insert_all.HttpInsertAll``) over libcurl."""
    from event_capture.ingest.insert_all import BIGQUERY_API, SCOPES, HttpInsertAll

    return HttpInsertAll(_curl_http(config.bigquery_emulator_host, BIGQUERY_API, SCOPES))


def storage_uploads(config: Config) -> Any:
    """The capture path's object uploads (``gcs_upload.CurlUploads``) over libcurl."""
    from event_capture.ingest.gcs_upload import SCOPES, STORAGE_API, CurlUploads

    return CurlUploads(_curl_http(config.storage_emulator_host, STORAGE_API, SCOPES))


def _curl_http(emulator_host: str | None, api: str, scopes: tuple[str, ...]) -> Any:
    """``curl_http.CurlHttp`` to the emulator, anonymous (it has no auth), or to ``api`` with
    application default credentials, their token refreshed over urllib3."""
    import urllib3
    from google.auth.transport.urllib3 import Request

    from event_capture.ingest.curl_http import CurlHttp

    if emulator_host:
        from google.auth.credentials import AnonymousCredentials

        credentials: Any = AnonymousCredentials()  # type: ignore[no-untyped-call]
    else:
        import google.auth

        credentials, _ = google.auth.default(scopes=scopes)
    token_request = Request(urllib3.PoolManager())  # type: ignore[no-untyped-call]
    return CurlHttp(emulator_host or api, credentials, token_request)


def storage_client(config: Config) -> Any:
    return _one_session_per_backend(_storage_client(config), config)


def _bigquery_client(config: Config) -> Any:
    from google.cloud import bigquery

    if config.bigquery_emulator_host:
        # The emulator has no auth; without anonymous credentials the client would look for
        # application default credentials and fail on a machine that has none.
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=config.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=config.bigquery_emulator_host),
        )
    return bigquery.Client(project=config.project)


def _storage_client(config: Config) -> Any:
    # No type information in google-cloud-storage: as a module import it is Any for mypy.
    import google.cloud.storage as storage

    if config.storage_emulator_host:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=config.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=config.storage_emulator_host),
        )
    return storage.Client(project=config.project)


def redis_client(config: Config) -> Any:
    return redis_connection(config.redis_url, config.redis_timeout_seconds)


def redis_connection(url: str, timeout_seconds: float) -> Any:
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
