"""Show what landed in ``make run``'s BigQuery emulator: ``python -m tools.show_rows [SQL]``.

Without an argument: per table, the last 24 hours' row count and the latest three rows.
"""

import sys

from event_capture.tables.definitions import load_table_definitions
from localcloud.cloud import LocalCloud
from localcloud.run import run_settings


def main(argv: list[str]) -> None:
    settings = run_settings()
    client = LocalCloud(settings).bigquery_client()
    if argv:
        for row in client.query(argv[0]).result():
            print(dict(row.items()))
        return
    # Table names come from the repository's own definitions; only argv[0] is free text, and
    # running it is this tool's purpose.
    for definition in load_table_definitions():
        table = f"`{settings.project}.{settings.dataset}.{definition['table_id']}`"
        recent = "received_at > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)"
        count_sql = f"SELECT COUNT(*) AS n FROM {table} WHERE {recent}"
        [count] = client.query(count_sql).result()
        print(f"{definition['table_id']}: {count['n']} rows in the last 24 h")
        latest_sql = (
            f"SELECT event_id, event_type, user_id, received_at FROM {table} "
            f"WHERE {recent} ORDER BY received_at DESC LIMIT 3"
        )
        latest = client.query(latest_sql).result()
        for row in latest:
            print("   ", dict(row.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
