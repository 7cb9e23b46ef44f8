"""A run over the requests filed in the forget bucket (``contracts.forget``): every request
taken at once, suppression first, one erasure for all their users, a receipt per request, and
the request deleted once nothing of its user is left.

Order matters. The suppression list is written before anything is erased, and the erasure waits
``settle_seconds`` (capture's TTL of the control bucket's documents) so that no instance still
stores the user's events when the rows are read; an event stored meanwhile is found by the
erasure or, if it is still in the streaming buffer, by the next run. A request whose erasure left
something pending stays filed, with its receipt saying what; the next scheduled run takes it
again. Every step is safe to repeat.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from event_capture.contracts.forget import (
    MAX_USERS_A_RUN,
    REQUESTS_FOLDER,
    SUPPRESSION_OBJECT,
    ForgetRequest,
    parse_request,
    read_suppressed,
    receipt_object,
    request_id_of,
    subject_digest,
    suppression_document,
)
from event_capture.forget.erase import Stores, forget, pending
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

_log = logging.getLogger(__name__)


@dataclass
class Filed:
    """One request as read, or why it could not be."""

    request_id: str
    generation: int | None
    request: ForgetRequest | None
    problem: str | None = None


@dataclass
class RunReport:
    """What one run did: the requests it took, finished and left, and its receipts."""

    taken: int = 0
    finished: int = 0
    left: int = 0
    invalid: int = 0
    suppressed: int = 0
    lifted: int = 0
    receipts: list[StoreReceipt] = field(default_factory=list)


def filed_requests(bucket: StorageBucket, limit: int = MAX_USERS_A_RUN) -> list[Filed]:
    found: list[Filed] = []
    for blob in bucket.list_blobs(prefix=f"{REQUESTS_FOLDER}/"):
        request_id = request_id_of(blob.name)
        if request_id is None:
            continue
        data = blob.download_as_bytes(timeout=STORAGE_TIMEOUT_SECONDS)
        try:
            found.append(Filed(request_id, blob.generation, parse_request(data)))
        except ValueError as error:
            # The app's request is refused with its reason, never with the value it held.
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
                for e in getattr(error, "errors", lambda: [{"loc": (), "msg": "not JSON"}])()
            )
            found.append(Filed(request_id, blob.generation, None, reason))
        if len(found) >= limit:
            break
    return found


def update_suppression(
    control: StorageBucket, suppress: set[str], lift: set[str], now: datetime
) -> bool:
    """Add and remove digests on the suppression list, generation-matched; True if it changed."""
    blob = control.blob(SUPPRESSION_OBJECT)
    from google.api_core.exceptions import NotFound

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
    filed: Filed, receipts: list[StoreReceipt], left: int, now: datetime
) -> dict[str, Any]:
    request = filed.request
    return {
        "request_id": filed.request_id,
        "subject_digest": subject_digest(request.user_id) if request else None,
        "run_at": now.isoformat(),
        "status": "invalid" if filed.problem else ("pending" if left else "complete"),
        "problem": filed.problem,
        "suppressed": bool(request and request.suppress),
        "suppression_lifted": bool(request and request.lift_suppression),
        # One erasure serves every request of the run: the counts are the run's, over its users.
        "users_in_run": None,
        "stores": [receipt.as_dict() for receipt in receipts],
        "pending": left,
    }


def run_requests(
    requests: StorageBucket,
    control: StorageBucket | None,
    stores: Stores,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait: Callable[[float], None],
    settle_seconds: float,
) -> RunReport:
    """Take every filed request (up to ``MAX_USERS_A_RUN``) and carry it out."""
    report = RunReport()
    filed = filed_requests(requests)
    report.taken = len(filed)
    asked = [f.request for f in filed if f.request is not None]
    suppress = {subject_digest(r.user_id) for r in asked if r.suppress}
    lift = {subject_digest(r.user_id) for r in asked if r.lift_suppression}
    report.suppressed, report.lifted = len(suppress), len(lift)
    if (suppress or lift) and control is None:
        raise ValueError("CAPTURE_MODE_BUCKET: needed to suppress a user; not set")
    if control is not None and update_suppression(control, suppress, lift, clock()) and suppress:
        wait(settle_seconds)
    users = {r.user_id for r in asked if not r.lift_suppression}
    receipts = forget(stores, users, now=clock()) if users else []
    report.receipts = receipts
    left = pending(receipts)
    now = clock()
    for one in filed:
        erased = one.request is not None and not one.request.lift_suppression
        document = receipt_document(one, receipts if erased else [], left if erased else 0, now)
        document["users_in_run"] = len(users)
        requests.blob(receipt_object(one.request_id, now)).upload_from_string(
            json.dumps(document, indent=1),
            content_type="application/json",
            if_generation_match=0,
            timeout=STORAGE_TIMEOUT_SECONDS,
        )
        if one.problem:
            report.invalid += 1
        if one.problem or not (erased and left):
            # Done (or never valid): the request leaves the bucket, its receipt stays.
            requests.delete_blob(
                f"{REQUESTS_FOLDER}/{one.request_id}.json", if_generation_match=one.generation
            )
            report.finished += 1
        else:
            report.left += 1
    return report
