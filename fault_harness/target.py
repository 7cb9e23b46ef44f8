"""Where the harness's capture function writes (a dataset and bucket of its own) and the short
deadlines it runs with."""

from collections.abc import Mapping
from dataclasses import dataclass

from event_capture.warehouse.render import Datasets
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.warehouse import create_warehouse

FAULT_DATASET = "faults"

# Short deadlines, so that an outage costs seconds, not the defaults' tens of seconds.
# REQUEST_DEADLINE_SECONDS is the whole budget of one request; CIRCUIT_COOLDOWN_SECONDS how
# long a backend's open circuit is skipped before it is tried again (the default, 30 s, would
# keep answering 503 for up to that long after both backends are back).
# ARCHIVE_FLUSH_SECONDS: the archive's group commit writes every second, so its writes meet
# the faults of runs a few seconds long (the deployed interval is a minute).
FUNCTION_ENV: Mapping[str, str] = {
    "ARCHIVE_FLUSH_SECONDS": "1",
    "WORKERS": "1",
    "THREADS": "8",
    "BIGQUERY_DEADLINE_SECONDS": "2",
    "GCS_DEADLINE_SECONDS": "2",
    "REQUEST_DEADLINE_SECONDS": "5",
    "CIRCUIT_COOLDOWN_SECONDS": "2",
    "REDIS_ENABLED": "false",
}


def request_budget(env: Mapping[str, str]) -> float:
    """One request's whole time budget under ``env``: REQUEST_DEADLINE_SECONDS, or, without
    it, BigQuery's deadline plus two object writes' (dead letters, then the archive)."""
    if "REQUEST_DEADLINE_SECONDS" in env:
        return float(env["REQUEST_DEADLINE_SECONDS"])
    return float(env.get("BIGQUERY_DEADLINE_SECONDS", "20")) + 2 * float(
        env.get("GCS_DEADLINE_SECONDS", "10")
    )


@dataclass(frozen=True, kw_only=True)
class Target:
    """The harness's own dataset (tables and ``_dedup`` views) and bucket on a cloud."""

    project: str
    dataset: str
    bucket: str

    @property
    def datasets(self) -> Datasets:
        return Datasets(
            f"{self.project}.{self.dataset}", f"{self.project}.{self.dataset}_analytics"
        )

    def env(self) -> dict[str, str]:
        """The function's variables that point it here (dead letters beside the archive)."""
        return {
            "BIGQUERY_DATASET": self.dataset,
            "GCS_BUCKET": self.bucket,
            "DEAD_LETTER_BUCKET": self.bucket,
        }


def prepare(cloud: LocalCloud, dataset: str = FAULT_DATASET) -> Target:
    """Create the harness's dataset, event tables, warehouse views and bucket (idempotent)."""
    project = cloud.settings.project
    target = Target(project=project, dataset=dataset, bucket=f"{project}-{dataset}")
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, dataset)
    create_warehouse(client, target.datasets)
    bootstrap.create_bucket(cloud.storage_client(), target.bucket)
    return target
