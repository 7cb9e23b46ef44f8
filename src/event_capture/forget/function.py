"""The scheduled forget run: on each message (Cloud Scheduler through Pub/Sub), every request
filed in the forget bucket carried out (``forget.requests``), one log line out.

A run that raises is not retried by Pub/Sub (a retry would run beside the next scheduled run);
the requests it did not finish stay filed, and the next run takes them again.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from cloudevents.http import CloudEvent

from event_capture.contracts import log_fields as log
from event_capture.forget.config import ForgetConfig
from event_capture.forget.erase import (
    BigQueryStatements,
    Stores,
    event_tables,
    user_level_tables,
)
from event_capture.forget.requests import RunReport, run_requests
from event_capture.platform import clients
from event_capture.platform.config import ConfigError
from event_capture.platform.log_line import write_log_line
from event_capture.platform.storage_surface import StorageClient


def settle_seconds(config: ForgetConfig) -> float:
    """How long a suppression takes to be in force: every capture instance reads it within the
    control documents' TTL, and a request received before that has finished within its deadline
    (capture's values: the stack gives the forget function capture's)."""
    return config.capture_mode_ttl_seconds + config.request_deadline_seconds


CONNECTIONS = 4


def stores_of(config: ForgetConfig, storage: StorageClient) -> Stores:
    bigquery: BigQueryStatements = clients.bigquery_client(  # type: ignore[assignment]
        config.project, config.bigquery_emulator_host, connections=CONNECTIONS
    )
    dead_letters = config.dead_letter_bucket or config.gcs_bucket
    return Stores(
        bigquery=bigquery,
        event_tables=event_tables(config.project, config.bigquery_dataset),
        user_level_tables=user_level_tables(config.project, config.bigquery_dataset),
        archive=storage.bucket(config.gcs_bucket) if config.gcs_bucket else None,
        dead_letters=storage.bucket(dead_letters) if dead_letters else None,
        redis=clients.redis_connection(config.redis_url, config.redis_timeout_seconds)  # type: ignore[arg-type]
        if config.redis_enabled
        else None,
    )


class ForgetFunction:
    def __init__(
        self,
        config: ForgetConfig,
        *,
        storage: Callable[[], StorageClient],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._storage = storage
        self._clock = clock
        self._wait = wait

    def __call__(self, event: CloudEvent | None = None) -> RunReport:
        """Carry out the filed requests; the message's content does not matter."""
        storage = self._storage()
        config = self._config
        report = run_requests(
            storage.bucket(config.forget_bucket),
            storage.bucket(config.capture_mode_bucket) if config.capture_mode_bucket else None,
            stores_of(config, storage),
            clock=self._clock,
            wait=self._wait,
            settle_seconds=settle_seconds(config),
            batch_seconds=config.forget_batch_hours * 3600,
        )
        write_log_line(
            {
                log.SEVERITY: "WARNING" if report.left or report.invalid else "INFO",
                log.MESSAGE: log.FORGET_MESSAGE,
                log.FORGET_TAKEN: report.taken,
                log.FORGET_FINISHED: report.finished,
                log.FORGET_LEFT: report.left,
                log.FORGET_QUEUED: report.queued,
                log.FORGET_INVALID: report.invalid,
                log.FORGET_REMOVED: sum(r.removed for r in report.receipts),
                log.FORGET_BYTES: report.bytes_processed,
            }
        )
        return report


def build_forget(config: ForgetConfig) -> ForgetFunction:
    if not config.forget_bucket:
        raise ConfigError("FORGET_BUCKET: required (the bucket the requests are filed in)")
    config.check_dataset()
    return ForgetFunction(
        config,
        storage=partial(
            clients.storage_client,
            config.project,
            config.storage_emulator_host,
            connections=CONNECTIONS,
        ),
    )
