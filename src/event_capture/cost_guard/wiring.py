"""The guard of a configuration: its control store, query switch and archive loader."""

import datetime as dt
from functools import cache, partial

from event_capture.cost_guard.archive_load import ArchiveLoader
from event_capture.cost_guard.config import GuardConfig
from event_capture.cost_guard.control_store import GcsControlStore
from event_capture.cost_guard.guard import CostGuard
from event_capture.cost_guard.scheduled_queries import DataTransferSwitch
from event_capture.platform import clients

# One notification at a time: requests' own pool size is plenty.
GUARD_CONNECTIONS = 10


def _switch(config: GuardConfig) -> DataTransferSwitch:
    if config.data_transfer_endpoint is None:
        return DataTransferSwitch.from_environment()
    import requests

    return DataTransferSwitch(requests.Session(), config.data_transfer_endpoint)


class _LazySwitch:
    """Credentials are looked up on the first call: a guard with no queries never needs them."""

    def __init__(self, config: GuardConfig) -> None:
        self._get = cache(partial(_switch, config))

    def set_disabled(self, config: str, disabled: bool) -> None:
        self._get().set_disabled(config, disabled)

    def run_missed(self, config: str, start: dt.datetime, end: dt.datetime) -> None:
        self._get().run_missed(config, start, end)


def build_guard(config: GuardConfig) -> CostGuard:
    project, connections = config.project, GUARD_CONNECTIONS
    storage = cache(
        partial(
            clients.storage_client, project, config.storage_emulator_host, connections=connections
        )
    )
    mode_bucket, archive_bucket = config.control_bucket, config.archive_bucket
    return CostGuard(
        store=GcsControlStore(lambda: storage().bucket(mode_bucket)),
        queries=_LazySwitch(config),
        loader=ArchiveLoader(
            bucket=lambda: storage().bucket(archive_bucket),
            bigquery=cache(
                partial(
                    clients.bigquery_client,
                    project,
                    config.bigquery_emulator_host,
                    connections=connections,
                )
            ),
            dataset=f"{config.project}.{config.bigquery_dataset}",
            location=config.bigquery_location,
        ),
        settings=config.settings,
    )
