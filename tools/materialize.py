"""``make materialize``: load the newest nightly feature snapshot into ``make run``'s Redis,
as the materializer function does in the cloud after the nightly queries:
``python -m tools.materialize [--snapshot-date D]``.
"""

import argparse
import datetime as dt
import sys

from event_capture.features.materialize import materialize
from event_capture.platform.clients import redis_connection
from localcloud.cloud import LocalCloud
from localcloud.processes import port_open
from localcloud.run import run_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--snapshot-date",
        type=dt.date.fromisoformat,
        default=None,
        help="the snapshot to load (default: the newest in user_profiles)",
    )
    args = parser.parse_args(argv)
    settings = run_settings()
    for name, port in (
        ("BigQuery emulator", settings.bigquery_port),
        ("Redis", settings.redis_port),
    ):
        if not port_open(port):
            sys.exit(
                f"error: no {name} on 127.0.0.1:{port}; start the local cloud with "
                "`REDIS_ENABLED=true make run` first"
            )
    cloud = LocalCloud(settings)
    result = materialize(
        cloud.bigquery_client(),
        redis_connection(cloud.redis_url, 10.0),
        settings.warehouse_datasets.events,
        snapshot_date=args.snapshot_date,
    )
    if result is None:
        sys.exit("error: no feature snapshot in BigQuery; run `make nightly` first")
    verb = "loaded" if result.changed else "already current:"
    print(f"{verb} snapshot {result.snapshot} ({result.users} users, {result.products} products)")


if __name__ == "__main__":
    main()
