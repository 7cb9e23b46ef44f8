"""Forget a user: ``make forget USER=<id> [SUPPRESS=true | LIFT=true]`` on ``make run``'s cloud,
``python -m tools.forget --user <id> [--suppress | --lift-suppression]`` on a deployed project.

Both file a request in the forget bucket (``contracts.forget``) per user, as the app's
account-deletion flow does, and print the receipt: per store, what was matched, removed and is
still pending, and the bytes BigQuery read to find the rows. ``--user`` repeats, and
``--users-file`` names a file of ids: every user of one call is erased in one run, whose reads
are the same for one user as for thousands (``MAX_USERS_A_RUN`` at most).

- ``--local``: the request is carried out here and now, by the forget function's own code
  (``forget.requests``), against the local emulators.
- deployed (the default): the request is carried out by the forget function, which the tool
  runs at once with a message on its schedule's topic (``FORGET_TOPIC``, by default
  ``projects/<GCP_PROJECT>/topics/forget-runs``), as the operators may (infra/forget.py grants
  them that, creating requests and reading receipts, and nothing else); the tool waits for the
  receipt.

``--suppress`` also drops the user's later events at capture and the collector (answered
``suppressed``, never stored); ``--lift-suppression`` ends that and deletes nothing.

Exit status: 0 when nothing of the user is left, 1 when something is (rows still in BigQuery's
streaming buffer: the hourly run deletes them; the request stays filed until it has), 2 for a
usage or configuration error.
"""

import argparse
import base64
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from event_capture.contracts.forget import (
    RECEIPTS_FOLDER,
    RUNS_TOPIC,
    request_object,
)
from event_capture.contracts.forget_request import ForgetRequest
from event_capture.forget.config import ForgetConfig, load_forget_config
from event_capture.forget.function import settle_seconds, stores_of
from event_capture.forget.requests import run_requests
from event_capture.forget.stores import STORAGE_TIMEOUT_SECONDS
from event_capture.ingest.retry import describe
from event_capture.platform import clients
from event_capture.platform.config import ConfigError
from event_capture.platform.storage_surface import StorageBucket
from tools.cli import OneLineParser

PROG = "forget"
# How long the deployed tool waits for the function's receipt.
RECEIPT_WAIT_SECONDS = 900.0
POLL_SECONDS = 5.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    assert __doc__ is not None
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--user", action="append", default=[], help="a user id to forget (repeatable)"
    )
    parser.add_argument(
        "--users-file", help="a file of user ids, one a line: all forgotten in one run"
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--suppress", action="store_true", help="also drop their later events")
    what.add_argument(
        "--lift-suppression", action="store_true", help="accept their events again; no deletion"
    )
    parser.add_argument("--local", action="store_true", help="make run's local cloud")
    return parser.parse_args(argv)


def local_config() -> ForgetConfig:
    """``make run``'s cloud, Redis included when it is running, with its capture functions'
    TTL of the control documents (how soon they read a new suppression list)."""
    from localcloud.run import LOCAL_MODE_TTL_SECONDS, running_cloud

    cloud, running = running_cloud()
    return load_forget_config(
        cloud.forget_env(**running, CAPTURE_MODE_TTL_SECONDS=LOCAL_MODE_TTL_SECONDS)
    )


def file_request(bucket: StorageBucket, request_id: str, request: ForgetRequest) -> None:
    bucket.blob(request_object(request_id)).upload_from_string(
        request.model_dump_json(),
        content_type="application/json",
        if_generation_match=0,
        timeout=STORAGE_TIMEOUT_SECONDS,
    )


def latest_receipt(bucket: StorageBucket, request_id: str) -> dict[str, Any] | None:
    names = sorted(
        blob.name for blob in bucket.list_blobs(prefix=f"{RECEIPTS_FOLDER}/{request_id}/")
    )
    if not names:
        return None
    data = bucket.blob(names[-1]).download_as_bytes(timeout=STORAGE_TIMEOUT_SECONDS)
    receipt: dict[str, Any] = json.loads(data)
    return receipt


def print_receipt(receipt: dict[str, Any], out: TextIO) -> None:
    digest = receipt["subject_digest"] or "?"
    print(
        f"request {receipt['request_id']}: {receipt['status']} at {receipt['run_at']} "
        f"(user {digest[:12]}..., {receipt['users_in_run']} user(s) erased in the run)",
        file=out,
    )
    if receipt.get("problem"):
        print(f"  refused: {receipt['problem']}", file=out)
    if receipt.get("erase_due"):
        print(f"  erasure with the batch due {receipt['erase_due']}", file=out)
    if receipt.get("suppressed"):
        print("  suppressed: later events are accepted and dropped", file=out)
    if receipt.get("suppression_lifted"):
        print("  suppression lifted: later events are stored again", file=out)
    for store in receipt["stores"]:
        line = f"  {store['store']:<12} matched {store['matched']:>7}  removed {store['removed']}"
        if store["pending"]:
            line += f"  pending {store['pending']}"
        if "bytes_processed" in store:
            line += f"  BigQuery read {store['bytes_processed']:,} bytes"
        print(line, file=out)
        for note in store["notes"]:
            print(f"  {'':<12} {note}", file=out)


def publish_run(topic: str) -> None:
    """A message on the forget schedule's topic (its full name), as the operator: the forget
    function runs now, as it does on the hour."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    message = {"messages": [{"data": base64.b64encode(b"forget now").decode()}]}
    answer = session.post(
        f"https://pubsub.googleapis.com/v1/{topic}:publish", json=message, timeout=30
    )
    answer.raise_for_status()


def main(
    argv: list[str] | None = None,
    *,
    out: TextIO | None = None,
    env: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    out = out or sys.stdout
    args = _arguments(argv)
    try:
        users = list(args.user)
        if args.users_file:
            with open(args.users_file, encoding="utf-8") as listed:
                users += [line.strip() for line in listed if line.strip()]
        if not users:
            raise ValueError("--user or --users-file: give at least one user id")
        # The operators' erasure runs at once, not with the week's batch.
        filed = {
            uuid.uuid4().hex: ForgetRequest(
                user_id=user,
                suppress=args.suppress,
                lift_suppression=args.lift_suppression,
                erase_now=not args.lift_suppression,
            )
            for user in dict.fromkeys(users)
        }
        config = local_config() if args.local and env is None else load_forget_config(env)
        if not config.forget_bucket:
            raise ConfigError("FORGET_BUCKET: required (the bucket requests are filed in)")
        topic = (os.environ if env is None else env).get(
            "FORGET_TOPIC", f"projects/{config.project}/topics/{RUNS_TOPIC}"
        )
    except (ValueError, ConfigError, OSError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    try:
        storage = clients.storage_client(
            config.project, config.storage_emulator_host, connections=4
        )
        requests = storage.bucket(config.forget_bucket)
        for request_id, request in filed.items():
            file_request(requests, request_id, request)
        if args.local:
            mode_bucket = config.capture_mode_bucket
            run_requests(
                requests,
                storage.bucket(mode_bucket) if mode_bucket else None,
                stores_of(config, storage),
                wait=sleep,
                settle_seconds=settle_seconds(config),
            )
        else:
            publish_run(topic)
        receipts = [
            latest_receipt(requests, request_id)
            if args.local
            else _wait_for_receipt(requests, request_id, sleep)
            for request_id in filed
        ]
    except Exception as error:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"{PROG}: {describe(error)}", file=sys.stderr)
        return 1
    return _report(receipts, out)


def _report(receipts: list[dict[str, Any] | None], out: TextIO) -> int:
    """The first receipt whole (its store lines are the run's, over all its users), then how
    the others ended; 0 when every request is done."""
    found = [receipt for receipt in receipts if receipt is not None]
    if found:
        print_receipt(found[0], out)
    if len(receipts) > 1:
        statuses = Counter(r["status"] if r else "no receipt yet" for r in receipts)
        print(
            f"{len(receipts):,} requests: "
            + ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items())),
            file=out,
        )
    if len(found) < len(receipts):
        print(
            f"{PROG}: {len(receipts) - len(found)} request(s) filed with no receipt within "
            f"{RECEIPT_WAIT_SECONDS:.0f} s (the hourly run will take them)",
            file=out,
        )
        return 1
    return 0 if all(r["status"] in ("complete", "lifted") for r in found) else 1


def _wait_for_receipt(
    bucket: StorageBucket, request_id: str, sleep: Callable[[float], None]
) -> dict[str, Any] | None:
    waited = 0.0
    while waited < RECEIPT_WAIT_SECONDS:
        receipt = latest_receipt(bucket, request_id)
        if receipt is not None:
            return receipt
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
    return None


if __name__ == "__main__":
    sys.exit(main())
