"""The local cloud: BigQuery, Cloud Storage and Redis emulators on loopback, and the capture
function in front of them, started and configured as one thing.

``make run``, the integration tests and the benchmarks all use ``LocalCloud``. Its addresses go
to the processes it starts (as their environment) and to the clients it builds (as endpoints);
this process's own environment is never changed.
"""

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from google.cloud import bigquery

from event_capture.ingest.config import Config, load_config
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import build_pipeline
from event_capture.warehouse.render import Datasets
from localcloud import bootstrap
from localcloud.budget_notification import LOCAL_BUDGET_ID
from localcloud.processes import (
    STATE_DIR,
    Service,
    backfill_function,
    bigquery_emulator,
    capture_function,
    collector_function,
    features_function,
    forget_function,
    free_port,
    gcs_emulator,
    guard_function,
    redis_server,
)

# COLLECTOR_WRITE_KEYS as given to start_collector: its text as is, plain keys (client keys,
# the format before key classes), or {"id", "class", "key"} entries (plain keys among them).
WriteKeysSetting = str | Sequence[str | Mapping[str, str]]


def write_keys_variable(write_keys: WriteKeysSetting) -> str:
    """COLLECTOR_WRITE_KEYS's text: plain keys comma-separated, as before; with any entry of
    id and class, the JSON list (collector/auth.py reads both)."""
    if isinstance(write_keys, str):
        return write_keys
    if all(isinstance(key, str) for key in write_keys):
        return ",".join(str(key) for key in write_keys)
    return json.dumps([key if isinstance(key, str) else dict(key) for key in write_keys])


# The request logs of the functions that run the capture pipeline, under the cloud's log_dir:
# what make report reads capture health from (localcloud/log_sink.py).
CAPTURE_LOG = "capture-function.log"
COLLECTOR_LOG = "collector-function.log"
REQUEST_LOGS = (CAPTURE_LOG, COLLECTOR_LOG)


@dataclass(frozen=True, kw_only=True)
class CloudSettings:
    project: str = "local-capture"
    dataset: str = "events"
    bucket: str = "local-capture-events"
    # The cost guard's control bucket: capture's mode object (event_capture.ingest.capture_mode).
    control_bucket: str = "local-capture-control"
    # Where requests to forget a user are filed, and their receipts (contracts/forget.py).
    forget_bucket: str = "local-capture-forget"
    # BigQuery's tables (bigquery-data/) and, with persistent_gcs, the objects (gcs/).
    # None: a fresh temporary directory that stop() removes.
    data_dir: Path | None = None
    log_dir: Path = STATE_DIR / "logs"
    # 0 picks a free port once, when the LocalCloud is made; a restart keeps it.
    bigquery_port: int = 0
    bigquery_grpc_port: int = 0
    gcs_port: int = 0
    redis_port: int = 0
    function_port: int = 0
    features_port: int = 0
    collector_port: int = 0
    # Start redis-server and enable the function's Redis sink.
    redis: bool = False
    # fake-gcs-server's filesystem backend keeps objects (dead letters) across its restarts,
    # which the outage tests need; memory is for throwaway clouds.
    persistent_gcs: bool = True
    # Added to every env() after the cloud's own variables (longer deadlines, say).
    function_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def warehouse_datasets(self) -> Datasets:
        return Datasets(f"{self.project}.{self.dataset}", f"{self.project}.analytics")


class LocalCloud:
    """The emulators of one local cloud, and what runs against them.

    ``start()`` starts the backends and creates the dataset, the event tables and the bucket;
    ``stop()`` stops every process it started, capture functions included. A LocalCloud that
    is not started still addresses one that another process started on the same fixed ports
    (``tools/nightly.py`` and ``tools/show_rows.py`` reach ``make run``'s that way).
    """

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self._temporary = settings.data_dir is None
        self.data_dir = settings.data_dir or Path(tempfile.gettempdir()) / (
            f"localcloud-{settings.project}-{uuid.uuid4().hex[:8]}"
        )
        logs = settings.log_dir
        gcs_root = self.data_dir / "gcs" if settings.persistent_gcs else None
        # A restart keeps the port: the functions hold its address.
        self.bigquery_grpc_port = settings.bigquery_grpc_port or free_port()
        self.bigquery = bigquery_emulator(
            settings.project,
            self.data_dir / "bigquery-data",
            settings.bigquery_port or free_port(),
            self.bigquery_grpc_port,
            logs / "bigquery-emulator.log",
        )
        self.gcs = gcs_emulator(
            settings.gcs_port or free_port(), gcs_root, logs / "fake-gcs-server.log"
        )
        self.redis = redis_server(settings.redis_port or free_port(), logs / "redis-server.log")
        self._functions: list[Service] = []

    # --- lifetime ------------------------------------------------------------------------------

    @property
    def backends(self) -> list[Service]:
        return [self.bigquery, self.gcs, *([self.redis] if self.settings.redis else [])]

    def start(self) -> "LocalCloud":
        try:
            (self.data_dir / "bigquery-data").mkdir(parents=True, exist_ok=True)
            if self.settings.persistent_gcs:
                (self.data_dir / "gcs").mkdir(parents=True, exist_ok=True)
            for service in self.backends:
                service.start()
            bootstrap.create_dataset_and_tables(self.bigquery_client(), self.settings.dataset)
            bootstrap.create_bucket(self.storage_client(), self.settings.bucket)
            bootstrap.create_bucket(self.storage_client(), self.settings.control_bucket)
            bootstrap.create_bucket(self.storage_client(), self.settings.forget_bucket)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in [*reversed(self._functions), *reversed(self.backends)]:
            service.stop()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCloud":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @contextmanager
    def outage(self, *backends: Service, kill: bool = False) -> Iterator[None]:
        """These backends down for the block, then started again on the same ports.

        ``kill``: SIGKILL instead of SIGTERM, so nothing is flushed or closed cleanly.
        """
        for backend in backends:
            if kill:
                backend.kill()
            else:
                backend.stop()
        try:
            yield
        finally:
            for backend in reversed(backends):
                backend.start()

    @contextmanager
    def frozen(self, *services: Service) -> Iterator[None]:
        """These services stopped with SIGSTOP for the block (hung: connections are accepted,
        nothing answers), then continued."""
        done: list[Service] = []
        try:
            for service in services:
                service.freeze()
                done.append(service)
            yield
        finally:
            for service in reversed(done):
                service.thaw()

    # --- configuration -------------------------------------------------------------------------

    @property
    def bigquery_grpc_host(self) -> str:
        return f"127.0.0.1:{self.bigquery_grpc_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"

    def env(self, **overrides: str) -> dict[str, str]:
        """The capture function's configuration variables for this cloud."""
        settings = self.settings
        return {
            "GCP_PROJECT": settings.project,
            "BIGQUERY_DATASET": settings.dataset,
            "BIGQUERY_EMULATOR_HOST": self.bigquery.url,
            "BIGQUERY_EMULATOR_GRPC_HOST": self.bigquery_grpc_host,
            "STORAGE_EMULATOR_HOST": self.gcs.url,
            "GCS_BUCKET": settings.bucket,
            "REDIS_ENABLED": "true" if settings.redis else "false",
            "REDIS_URL": self.redis_url,
            **settings.function_env,
            **overrides,
        }

    def config(self, **overrides: str) -> Config:
        return load_config(self.env(**overrides))

    def pipeline(self, **overrides: str) -> CapturePipeline:
        """The capture pipeline in this process, configured as the function would be."""
        return build_pipeline(self.config(**overrides))

    def function(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        """The capture function's server on this cloud, not started; ``stop()`` stops it.

        ``env`` overrides configuration variables of ``env()`` and sets server ones (WORKERS,
        THREADS).
        """
        service = capture_function(
            self.env(**(env or {})),
            port or self.settings.function_port or free_port(),
            log_path or self.settings.log_dir / CAPTURE_LOG,
        )
        self._functions.append(service)
        return service

    def start_function(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        return self.function(port=port, log_path=log_path, env=env).start()

    def features_env(self, **overrides: str) -> dict[str, str]:
        """The features function's configuration variables for this cloud."""
        return {"REDIS_URL": self.redis_url, **overrides}

    def start_features(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        """The features function on this cloud's Redis, started; ``stop()`` stops it."""
        service = features_function(
            self.features_env(**(env or {})),
            port or free_port(),
            log_path or self.settings.log_dir / "features-function.log",
        )
        self._functions.append(service)
        return service.start()

    def collector_env(self, write_keys: WriteKeysSetting, **overrides: str) -> dict[str, str]:
        """The collector function's configuration variables: the capture function's for this
        cloud, and the write keys (Secret Manager's in the cloud; ``write_keys_variable``)."""
        return self.env(COLLECTOR_WRITE_KEYS=write_keys_variable(write_keys), **overrides)

    def start_collector(
        self,
        *,
        write_keys: WriteKeysSetting,
        port: int = 0,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Service:
        """The collector function on this cloud, started; ``stop()`` stops it."""
        service = collector_function(
            self.collector_env(write_keys, **(env or {})),
            port or free_port(),
            log_path or self.settings.log_dir / COLLECTOR_LOG,
        )
        self._functions.append(service)
        return service.start()

    def guard_env(self, **overrides: str) -> dict[str, str]:
        """The cost guard's variables, and capture's to follow its switch: the control bucket,
        and the budget the local notifications are of."""
        return self.env(
            **{
                "CAPTURE_MODE_BUCKET": self.settings.control_bucket,
                "BUDGET_ID": LOCAL_BUDGET_ID,
                **overrides,
            }
        )

    def forget_env(self, **overrides: str) -> dict[str, str]:
        """The forget function's variables: capture's, the control bucket capture reads the
        suppression list in, and the forget bucket."""
        return self.env(
            CAPTURE_MODE_BUCKET=self.settings.control_bucket,
            FORGET_BUCKET=self.settings.forget_bucket,
            **overrides,
        )

    def start_guard(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        """The cost guard function on this cloud, started; ``stop()`` stops it."""
        service = guard_function(
            self.guard_env(**(env or {})),
            port or free_port(),
            log_path or self.settings.log_dir / "cost-guard-function.log",
        )
        self._functions.append(service)
        return service.start()

    def start_backfill(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        """The scheduled archive backfill's function on this cloud (capture's variables: it
        reads the tables capture writes and writes its archive), started."""
        service = backfill_function(
            self.env(**(env or {})),
            port or free_port(),
            log_path or self.settings.log_dir / "archive-backfill-function.log",
        )
        self._functions.append(service)
        return service.start()

    def start_forget(
        self, *, port: int = 0, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Service:
        """The scheduled forget run's function on this cloud (``forget_env``), started."""
        service = forget_function(
            self.forget_env(**(env or {})),
            port or free_port(),
            log_path or self.settings.log_dir / "forget-function.log",
        )
        self._functions.append(service)
        return service.start()

    # --- clients -------------------------------------------------------------------------------

    def bigquery_client(self) -> bigquery.Client:
        return bootstrap.bigquery_client(self.settings.project, self.bigquery.url)

    def storage_client(self) -> Any:
        return bootstrap.storage_client(self.settings.project, self.gcs.url)

    def bucket(self, name: str | None = None) -> Any:
        return self.storage_client().bucket(name or self.settings.bucket)

    def rows(
        self, table: str, event_ids: Sequence[str], dataset: str | None = None
    ) -> list[dict[str, Any]]:
        """Rows of an event table with these event ids, every copy (so duplicates show)."""
        name = f"{self.settings.project}.{dataset or self.settings.dataset}.{table}"
        job = self.bigquery_client().query(
            f"SELECT * FROM `{name}` "
            "WHERE received_at > TIMESTAMP('2000-01-01') AND event_id IN UNNEST(@ids) "
            "ORDER BY event_id",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", list(event_ids))]
            ),
        )
        return [dict(row.items()) for row in job.result()]

    def objects(self, prefix: str, bucket: str | None = None) -> dict[str, str]:
        """Name and text of every object under ``prefix``."""
        blobs = self.bucket(bucket).list_blobs(prefix=prefix)
        return {blob.name: blob.download_as_text() for blob in blobs}
