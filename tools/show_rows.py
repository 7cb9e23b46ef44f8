"""Show what landed in the local BigQuery emulator: ``python -m devstack.show_rows [SQL]``.

Without an argument: per table, today's row count and the latest three rows.
"""

import sys

from localcloud import bootstrap
from localcloud.run import BIGQUERY_PORT, DATASET, PROJECT
from event_capture.tables.definitions import load_table_definitions


def main(argv: list[str]) -> None:
    client = bootstrap.bigquery_client(PROJECT, f"http://127.0.0.1:{BIGQUERY_PORT}")
    if argv:
        for row in client.query(argv[0]).result():
            print(dict(row.items()))
        return
    for definition in load_table_definitions():
        table = f"`{PROJECT}.{DATASET}.{definition['table_id']}`"
        recent = "received_at > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)"
        [count] = client.query(f"SELECT COUNT(*) AS n FROM {table} WHERE {recent}").result()
        print(f"{definition['table_id']}: {count['n']} rows in the last 24 h")
        latest = client.query(
            f"SELECT event_id, event_type, user_id, received_at FROM {table} "
            f"WHERE {recent} ORDER BY received_at DESC LIMIT 3"
        ).result()
        for row in latest:
            print("   ", dict(row.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
