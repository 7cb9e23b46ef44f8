"""Build the pipeline from the configuration: which sinks exist and how they reach them."""

from functools import cache, partial

from event_capture.ingest import clients
from event_capture.ingest.config import Config
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.sinks.bigquery import BigQuerySink
from event_capture.ingest.sinks.dead_letter import DeadLetterWriter
from event_capture.ingest.sinks.gcs_archive import GcsArchiveSink
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.ingest.sinks.redis_activity import RedisActivitySink


def build_pipeline(config: Config) -> CapturePipeline:
    assert config.project is not None
    archive_writer: NdjsonWriter | None = None
    dead_letter_writer: NdjsonWriter | None = None
    if config.gcs_enabled and config.gcs_bucket:
        # One client for both writers, built on first use.
        storage = cache(partial(clients.storage_client, config))
        deadline = config.gcs_deadline_seconds
        archive_writer = NdjsonWriter(storage, config.gcs_bucket, deadline)
        dead_letter_writer = NdjsonWriter(
            storage, config.dead_letter_bucket or config.gcs_bucket, deadline
        )
    return CapturePipeline(
        bigquery=BigQuerySink(
            partial(clients.bigquery_client, config),
            config.project,
            config.bigquery_dataset,
            config.bigquery_deadline_seconds,
        )
        if config.bigquery_enabled
        else None,
        dead_letter=DeadLetterWriter(dead_letter_writer) if dead_letter_writer else None,
        archive=GcsArchiveSink(archive_writer) if archive_writer else None,
        redis=RedisActivitySink(
            partial(clients.redis_client, config),
            config.redis_activity_length,
            config.redis_ttl_seconds,
        )
        if config.redis_enabled
        else None,
    )
