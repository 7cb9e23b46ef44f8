"""Build the collector from its configuration: the capture pipeline's own wiring, and the keys."""

from event_capture.collector.config import CollectorConfig
from event_capture.collector.handler import Collector
from event_capture.ingest.wiring import build_pipeline


def build_collector(config: CollectorConfig) -> Collector:
    return Collector(
        pipeline=build_pipeline(config.capture),
        write_keys=config.write_keys,
        retry_after_seconds=config.retry_after_seconds,
        elevenlabs_secrets=config.elevenlabs_secrets,
        allowed_origins=config.allowed_origins,
    )
