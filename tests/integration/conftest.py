"""The real local stack, started once per test session on free loopback ports.

BigQuery is local-bigquery, Cloud Storage is fake-gcs-server, Redis is redis-server: the same
processes ``make run`` uses. Tests that stop an emulator restart it on the same port before
they end, so later tests see a healthy stack.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from localcloud import bootstrap
from localcloud.processes import Service, bigquery_emulator, gcs_emulator, redis_server
from localcloud.sample_events import sample_event
from event_capture.ingest.config import Config, load_config
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.wiring import build_pipeline
from event_capture.tables.definitions import load_table_definitions

PROJECT = "capture-test"
DATASET = "events"
BUCKET = "capture-test-events"
# The Stack field named `bigquery` shadows the module inside the class body.
BigQueryClient = bigquery.Client
TABLES = [definition["table_id"] for definition in load_table_definitions()]


@dataclass
class Stack:
    bigquery: Service
    gcs: Service
    redis: Service

    @property
    def bigquery_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.bigquery.port}"

    @property
    def gcs_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.gcs.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """Configuration variables for a function or pipeline on this stack."""
        env = {
            "GCP_PROJECT": PROJECT,
            "BIGQUERY_DATASET": DATASET,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_endpoint,
            "STORAGE_EMULATOR_HOST": self.gcs_endpoint,
            "GCS_BUCKET": BUCKET,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            # Generous: a starved CI machine can take seconds per request. The tests that
            # stop a backend shorten these to stay quick.
            "BIGQUERY_DEADLINE_SECONDS": "60",
            "GCS_DEADLINE_SECONDS": "30",
            "REDIS_TIMEOUT_SECONDS": "10",
        }
        env.update(overrides)
        return env

    def config(self, **overrides: str) -> Config:
        return load_config(self.env(**overrides))

    def pipeline(self, **overrides: str) -> CapturePipeline:
        return build_pipeline(self.config(**overrides))

    def bq(self) -> BigQueryClient:
        return bootstrap.bigquery_client(PROJECT, self.bigquery_endpoint)

    def bucket(self) -> Any:
        return bootstrap.storage_client(PROJECT).bucket(BUCKET)

    def rows(self, table: str, event_ids: list[str]) -> list[dict[str, Any]]:
        """Rows of ``table`` with these event ids (every copy, so duplicates show)."""
        job = self.bq().query(
            f"SELECT * FROM `{PROJECT}.{DATASET}.{table}` "
            "WHERE received_at > TIMESTAMP('2000-01-01') AND event_id IN UNNEST(@ids) "
            "ORDER BY event_id",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", event_ids)]
            ),
        )
        return [dict(row.items()) for row in job.result()]

    def objects(self, prefix: str) -> dict[str, str]:
        blobs = self.bucket().list_blobs(prefix=prefix)
        return {blob.name: blob.download_as_text() for blob in blobs}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("bigquery-data")
    services: list[Service] = []
    try:
        bq = bigquery_emulator(PROJECT, data_dir)
        # A filesystem backend, so objects (dead letters) survive the restarts tests do.
        gcs = gcs_emulator(root=tmp_path_factory.mktemp("gcs-data"))
        redis = redis_server()
        for service in (redis, gcs, bq):
            services.append(service.start())
        # google-cloud-storage reads the emulator address from the environment.
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{gcs.port}"
        stack = Stack(bq, gcs, redis)
        bootstrap.create_dataset_and_tables(stack.bq(), DATASET)
        bootstrap.create_bucket(bootstrap.storage_client(PROJECT), BUCKET)
        # The emulator's first insert and query load its SQL engine; pay that here, not
        # inside a test with a deadline.
        stack.pipeline(GCS_ENABLED="false").handle([sample_event("search")], batch=False)
        stack.rows("searches", [])
        yield stack
    finally:
        for service in services:
            service.stop()
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
