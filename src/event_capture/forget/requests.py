"""A run over the requests filed in the forget bucket (``contracts.forget``): every request
taken at once, suppression first, one erasure for all the requests that are due, a receipt per
request, and the request deleted once nothing of its user is left.

- **Suppression** (or its lifting) is written at the first run that sees a request. A lifting
  deletes nothing and is finished at once.
- **Erasure** is batched: a request is due ``batch_seconds`` after the first run that saw it
  (its first receipt), or at once with ``erase_now``. Each erasure reads the user-level tables
  whole, however few users it forgets, so one a week costs a week's requests one read.
- **Order.** When the erasure follows a suppression written in the same run, it waits
  ``settle_seconds`` (capture's TTL of the control documents, and a request's deadline), so that
  no instance still stores the user's events when the rows are read; an event stored meanwhile
  is found by the erasure or, if still in the streaming buffer, by the next run.
- A request whose erasure left something pending stays filed, with a receipt saying what; the
  next run erases it again. Every step is safe to repeat.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from event_capture.contracts.forget import (
    MAX_USERS_A_RUN,
    RECEIPTS_FOLDER,
    REQUESTS_FOLDER,
    SUPPRESSION_OBJECT,
    read_suppressed,
    receipt_object,
    receipt_time,
    request_id_of,
    request_object,
    subject_digest,
    suppression_document,
)
from event_capture.contracts.forget_request import ForgetRequest, parse_request
from event_capture.forget.erase import BigQueryReceipt, Stores, forget, pending
from event_capture.forget.stores import STORAGE_TIMEOUT_SECONDS, StoreReceipt
from event_capture.platform.api_calls import CONTROL_BUCKET, FORGET_BUCKET, ApiCall
from event_capture.platform.storage_surface import StorageBucket

API_CALLS = (
    ApiCall("storage.objects.list", FORGET_BUCKET),
    ApiCall("storage.objects.get", FORGET_BUCKET),
    ApiCall("storage.objects.insert", FORGET_BUCKET),
    ApiCall("storage.objects.delete", FORGET_BUCKET),
    ApiCall("storage.objects.get", CONTROL_BUCKET),
    ApiCall("storage.objects.insert#overwrite", CONTROL_BUCKET),
)


@dataclass
class Filed:
    """One request as read, or why it could not be, and when a run first saw it."""

    request_id: str
    generation: int | None
    request: ForgetRequest | None
    problem: str | None = None
    first_seen: datetime | None = None


@dataclass
class RunReport:
    """What one run did: the requests it took, finished, left, and queued for the batch."""

    taken: int = 0
    finished: int = 0
    left: int = 0
    queued: int = 0
    invalid: int = 0
    suppressed: int = 0
    lifted: int = 0
    erased_users: int = 0
    receipts: list[StoreReceipt] = field(default_factory=list)

    @property
    def bytes_processed(self) -> int:
        """What BigQuery read for the run's erasure."""
        return sum(r.bytes_processed for r in self.receipts if isinstance(r, BigQueryReceipt))


def _problem(error: ValueError) -> str:
    """Why a request was refused: each field and rule, never the value it held."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return "request: not a JSON object"
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
        for e in errors(include_input=False)
    )


def filed_requests(bucket: StorageBucket, limit: int = MAX_USERS_A_RUN) -> list[Filed]:
    found: list[Filed] = []
    for blob in bucket.list_blobs(prefix=f"{REQUESTS_FOLDER}/"):
        request_id = request_id_of(blob.name)
        if request_id is None:
            continue
        data = blob.download_as_bytes(timeout=STORAGE_TIMEOUT_SECONDS)
        try:
            filed = Filed(request_id, blob.generation, parse_request(data))
        except ValueError as error:
            filed = Filed(request_id, blob.generation, None, _problem(error))
        found.append(filed)
        if len(found) >= limit:
            break
    if found:
        first_seen = _first_receipts(bucket)
        for filed in found:
            filed.first_seen = first_seen.get(filed.request_id)
    return found


def _first_receipts(bucket: StorageBucket) -> dict[str, datetime]:
    """When a run first wrote a receipt, per request id: one listing of every receipt (a page
    per thousand), not one per request in every hourly run."""
    first: dict[str, datetime] = {}
    for receipt in bucket.list_blobs(prefix=f"{RECEIPTS_FOLDER}/"):
        request_id = receipt.name.removeprefix(f"{RECEIPTS_FOLDER}/").split("/", 1)[0]
        moment = receipt_time(receipt.name)
        if moment is not None and (request_id not in first or moment < first[request_id]):
            first[request_id] = moment
    return first


def update_suppression(
    control: StorageBucket, suppress: set[str], lift: set[str], now: datetime
) -> bool:
    """Add and remove digests on the suppression list, generation-matched; True if it changed."""
    from google.api_core.exceptions import NotFound

    blob = control.blob(SUPPRESSION_OBJECT)
    try:
        data: bytes | None = blob.download_as_bytes(timeout=STORAGE_TIMEOUT_SECONDS)
        generation = blob.generation or 0
    except NotFound:
        data, generation = None, 0
    before = read_suppressed(data)
    after = (before | suppress) - lift
    if after == before:
        return False
    control.blob(SUPPRESSION_OBJECT).upload_from_string(
        suppression_document(after, now).decode(),
        content_type="application/json",
        if_generation_match=generation,
        timeout=STORAGE_TIMEOUT_SECONDS,
    )
    return True


def receipt_document(
    filed: Filed,
    status: str,
    now: datetime,
    *,
    receipts: list[StoreReceipt] | None = None,
    users_in_run: int = 0,
    due: datetime | None = None,
) -> dict[str, Any]:
    request = filed.request
    return {
        "request_id": filed.request_id,
        "subject_digest": subject_digest(request.user_id) if request else None,
        "run_at": now.isoformat(),
        # invalid, queued (suppression done, erasure with the batch), pending (erased, some
        # left), complete, or lifted
        "status": status,
        "problem": filed.problem,
        "suppressed": bool(request and request.suppress),
        "suppression_lifted": bool(request and request.lift_suppression),
        "erase_due": due.isoformat() if due else None,
        # One erasure serves every request due in the run: its counts are over all their users.
        "users_in_run": users_in_run,
        "stores": [receipt.as_dict() for receipt in receipts or []],
        "pending": pending(receipts or []),
    }


def run_requests(
    requests: StorageBucket,
    control: StorageBucket | None,
    stores: Stores,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait: Callable[[float], None],
    settle_seconds: float,
    batch_seconds: float = 0.0,
) -> RunReport:
    """Take every filed request (up to ``MAX_USERS_A_RUN``) and carry out what is due."""
    report = RunReport()
    filed = filed_requests(requests)
    report.taken = len(filed)
    now = clock()
    asked = [f.request for f in filed if f.request is not None]
    suppress = {subject_digest(r.user_id) for r in asked if r.suppress}
    lift = {subject_digest(r.user_id) for r in asked if r.lift_suppression}
    report.suppressed, report.lifted = len(suppress), len(lift)
    if (suppress or lift) and control is None:
        raise ValueError("CAPTURE_MODE_BUCKET: needed to suppress a user; not set")
    # Nothing asked of the list: it is not read.
    changed = (
        control is not None
        and bool(suppress or lift)
        and update_suppression(control, suppress, lift, now)
    )

    batch = timedelta(seconds=batch_seconds)
    erasing = [f for f in filed if f.request is not None and not f.request.lift_suppression]
    due = [
        f
        for f in erasing
        if f.request is not None and (f.request.erase_now or (f.first_seen or now) + batch <= now)
    ]
    due_ids = {f.request_id for f in due}
    receipts: list[StoreReceipt] = []
    users = {f.request.user_id for f in due if f.request is not None}
    if users:
        if changed and suppress:
            wait(settle_seconds)
        receipts = forget(stores, users, now=clock())
    report.receipts, report.erased_users = receipts, len(users)
    left = pending(receipts)
    finished_at = clock()
    for one in filed:
        if one.problem:
            status, done = "invalid", True
            report.invalid += 1
        elif one.request is not None and one.request.lift_suppression:
            status, done = "lifted", True
        elif one.request_id in due_ids:
            status, done = ("pending", False) if left else ("complete", True)
        else:
            # Not due: a receipt the first time only, which also marks when it was first seen.
            report.queued += 1
            if one.first_seen is not None:
                continue
            document = receipt_document(one, "queued", finished_at, due=now + batch)
            _write_receipt(requests, one, document, finished_at)
            continue
        document = receipt_document(
            one,
            status,
            finished_at,
            receipts=receipts if one.request_id in due_ids else None,
            users_in_run=len(users),
        )
        _write_receipt(requests, one, document, finished_at)
        if done:
            # The request leaves the bucket; its receipts stay.
            requests.delete_blob(request_object(one.request_id), if_generation_match=one.generation)
            report.finished += 1
        else:
            report.left += 1
    return report


def _write_receipt(
    bucket: StorageBucket, filed: Filed, document: dict[str, Any], at: datetime
) -> None:
    bucket.blob(receipt_object(filed.request_id, at)).upload_from_string(
        json.dumps(document, indent=1),
        content_type="application/json",
        if_generation_match=0,
        timeout=STORAGE_TIMEOUT_SECONDS,
    )
