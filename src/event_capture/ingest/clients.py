"""The capture pipeline's clients, from its configuration (``platform.clients`` builds them).

Each is built on first use: an instance only pays for the backends it has enabled.
"""

from typing import TYPE_CHECKING

from event_capture.ingest.config import Config
from event_capture.platform import clients
from event_capture.platform.bigquery_surface import BigQueryClient
from event_capture.platform.redis_surface import RedisClient
from event_capture.platform.storage_surface import StorageClient
from event_capture.schemas.families import FAMILIES

if TYPE_CHECKING:
    from event_capture.ingest.gcs_upload import CurlUploads
    from event_capture.ingest.insert_all import HttpInsertAll
    from event_capture.ingest.write_api import WriteApiAppends


def _connections(config: Config) -> int:
    # Every table write of every request the server runs at once.
    return config.server_threads * len(FAMILIES)


def bigquery_client(config: Config) -> BigQueryClient:
    """google-cloud-bigquery's client, for everything but the capture path's inserts."""
    return clients.bigquery_client(
        config.project, config.bigquery_emulator_host, connections=_connections(config)
    )


def storage_client(config: Config) -> StorageClient:
    return clients.storage_client(
        config.project, config.storage_emulator_host, connections=_connections(config)
    )


def bigquery_inserts(config: Config) -> "HttpInsertAll":
    """The capture path's insertAll calls (``insert_all.HttpInsertAll``) over libcurl."""
    from event_capture.ingest.insert_all import BIGQUERY_API, SCOPES, HttpInsertAll

    return HttpInsertAll(clients.curl_http(config.bigquery_emulator_host, BIGQUERY_API, SCOPES))


def bigquery_appends(config: Config) -> "WriteApiAppends":
    """The capture path's appends to the tables' default streams (``write_api``), over one
    gRPC channel."""
    import time

    from event_capture.ingest.write_api import WriteApiAppends, grpc_streams

    client = clients.bigquery_write_client(config.bigquery_emulator_grpc_host)
    return WriteApiAppends(grpc_streams(client), clock=time.monotonic)


def bigquery_writes(config: Config) -> "HttpInsertAll | WriteApiAppends":
    """The capture path's BigQuery writes: the Write API's appends or insertAll
    (``BIGQUERY_WRITE_API``)."""
    return bigquery_appends(config) if config.uses_write_api else bigquery_inserts(config)


def storage_uploads(config: Config) -> "CurlUploads":
    """The capture path's object uploads (``gcs_upload.CurlUploads``) over libcurl."""
    from event_capture.ingest.gcs_upload import SCOPES, STORAGE_API, CurlUploads

    return CurlUploads(clients.curl_http(config.storage_emulator_host, STORAGE_API, SCOPES))


def redis_client(config: Config) -> RedisClient:
    return clients.redis_connection(config.redis_url, config.redis_timeout_seconds)
