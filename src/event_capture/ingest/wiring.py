"""Build the pipeline from the configuration: which sinks exist and how they reach them."""

from concurrent.futures import Executor, ThreadPoolExecutor
from functools import cache, partial

from event_capture.contracts import log_fields as log
from event_capture.contracts.forget import SUPPRESSION_OBJECT
from event_capture.ingest import clients
from event_capture.ingest.circuit import CircuitBreaker
from event_capture.ingest.config import Config
from event_capture.ingest.mode_reader import ModeReader, gcs_mode_source
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.dead_letter import DeadLetterSink
from event_capture.ingest.sinks.gcs_archive import GcsArchiveSink
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.sinks.redis_activity import RedisActivitySink
from event_capture.ingest.suppression import SuppressionReader
from event_capture.schemas.families import FAMILIES


def _pool(name: str, config: Config) -> Executor:
    """Enough threads for every table of every request the server runs at once: a table
    write that waited for a thread would spend its deadline waiting."""
    workers = config.server_threads * len(FAMILIES)  # a table per family
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)


def bigquery_sink(config: Config, executor: Executor | None = None) -> BigQuerySink:
    return BigQuerySink(
        partial(clients.bigquery_writes, config),
        project=config.project,
        dataset=config.bigquery_dataset,
        deadline_seconds=config.bigquery_deadline_seconds,
        executor=executor,
    )


def dead_letter_writer(config: Config) -> NdjsonWriter:
    """The dead-letter bucket's writer (``DEAD_LETTER_BUCKET``, else ``GCS_BUCKET``)."""
    assert config.dead_letter_bucket is not None
    return NdjsonWriter(
        partial(clients.storage_client, config),
        bucket=config.dead_letter_bucket,
        deadline_seconds=config.gcs_deadline_seconds,
    )


def build_pipeline(config: Config) -> CapturePipeline:
    """The pipeline of one instance: its sinks, their thread pools and circuit breakers."""
    archive: GcsArchiveSink | None = None
    dead_letter: DeadLetterSink | None = None
    mode: ModeReader | None = None
    suppressed: SuppressionReader | None = None
    if config.gcs_enabled and config.gcs_bucket and config.dead_letter_bucket:
        # One client for both writers and the mode's reads, built on first use.
        storage = cache(partial(clients.storage_client, config))
        if config.capture_mode_bucket:
            bucket_name = config.capture_mode_bucket
            mode = ModeReader(
                gcs_mode_source(lambda: storage().bucket(bucket_name)),
                ttl_seconds=config.capture_mode_ttl_seconds,
            )
            # Beside the mode, read as often (contracts/forget.py).
            suppressed = SuppressionReader(
                gcs_mode_source(lambda: storage().bucket(bucket_name), SUPPRESSION_OBJECT),
                ttl_seconds=config.capture_mode_ttl_seconds,
            )
        uploads = cache(partial(clients.storage_uploads, config))
        deadline = config.gcs_deadline_seconds
        archive = GcsArchiveSink(
            NdjsonWriter(
                storage, bucket=config.gcs_bucket, deadline_seconds=deadline, uploads=uploads
            )
        )
        dead_letter = DeadLetterSink(
            NdjsonWriter(
                storage,
                bucket=config.dead_letter_bucket,
                deadline_seconds=deadline,
                uploads=uploads,
            ),
            executor=_pool("dead-letter", config),
        )
    breakers = {
        backend: CircuitBreaker(
            failure_threshold=config.circuit_failures,
            cooldown_seconds=config.circuit_cooldown_seconds,
        )
        for backend in log.BACKENDS
    }
    return CapturePipeline(
        bigquery=bigquery_sink(config, _pool("bigquery", config))
        if config.bigquery_enabled
        else None,
        dead_letter=dead_letter,
        archive=archive,
        redis=RedisActivitySink(
            partial(clients.redis_client, config),
            max_length=config.redis_activity_length,
            ttl_seconds=config.redis_ttl_seconds,
        )
        if config.redis_enabled
        else None,
        budget_seconds=config.request_deadline_seconds,
        breakers=breakers,
        executor=_pool("fan-out", config),
        mode=mode,
        suppressed=suppressed,
        archive_flush_seconds=config.archive_flush_seconds,
    )
