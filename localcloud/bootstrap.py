"""Create the dataset, event tables and bucket on the emulators, from the table definitions in
``event_capture/tables/*.json`` that the infrastructure program deploys too.
"""

import contextlib
from typing import Any

# google-cloud-storage has no type information: imported as a module it is Any for mypy,
# whatever else in the tree imports it.
import google.cloud.storage as storage
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Conflict
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from event_capture.tables.definitions import load_table_definitions


def bigquery_client(project: str, endpoint: str) -> bigquery.Client:
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=endpoint),
    )


def storage_client(project: str, endpoint: str) -> storage.Client:
    # The endpoint is given, not read from STORAGE_EMULATOR_HOST: the local cloud never writes
    # its addresses into this process's environment.
    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=endpoint),
    )


def table_from_definition(project: str, dataset: str, definition: dict[str, Any]) -> bigquery.Table:
    table = bigquery.Table(
        f"{project}.{dataset}.{definition['table_id']}",
        schema=[bigquery.SchemaField.from_api_repr(f) for f in definition["schema"]["fields"]],
    )
    partitioning = definition["time_partitioning"]
    table.time_partitioning = bigquery.TimePartitioning(
        type_=partitioning["type"],
        field=partitioning["field"],
        expiration_ms=partitioning["expiration_ms"],
    )
    table.require_partition_filter = definition["require_partition_filter"]
    table.clustering_fields = definition["clustering"]["fields"]
    table.description = definition["description"]
    return table


def create_dataset_and_tables(client: bigquery.Client, dataset: str) -> list[str]:
    client.create_dataset(dataset, exists_ok=True)
    created = []
    for definition in load_table_definitions():
        table = table_from_definition(client.project, dataset, definition)
        create_or_update(client, table, ["schema", "description"])
        created.append(table.table_id)
    return created


def create_or_update(client: bigquery.Client, table: bigquery.Table, fields: list[str]) -> None:
    """Creates the table, or brings an existing one (make run's data kept across versions) to
    the current definition in place, as ``pulumi up`` does: the schema changes are additive
    (tables.generate refuses others), a view's query is replaced."""
    try:
        client.create_table(table)
    except Conflict:
        client.update_table(table, fields)


def create_bucket(client: storage.Client, name: str) -> None:
    with contextlib.suppress(Conflict):
        client.create_bucket(name)
