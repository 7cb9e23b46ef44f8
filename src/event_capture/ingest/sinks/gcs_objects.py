"""Create-only NDJSON objects in Cloud Storage: the archive, the dead-letter area and replay."""

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from event_capture.ingest.retry import (
    DEFAULT_BACKOFF,
    REAL_TIME,
    BackoffPolicy,
    Timing,
    is_transient_storage,
)
from event_capture.ingest.row import Request

NDJSON = "application/x-ndjson"
PRECONDITION_FAILED = 412


def object_name(folder: str, received_at: datetime, request_id: str) -> str:
    """``folder/dt=YYYY-MM-DD/hour=HH/<time>-<request>.ndjson``.

    Hive-style ``dt=``/``hour=`` folders let a load or a listing pick one day or hour, and the
    request id makes every name unique, so create-only writes never clash.
    """
    return (
        f"{folder}/dt={received_at:%Y-%m-%d}/hour={received_at:%H}/"
        f"{received_at:%Y%m%dT%H%M%S}-{request_id}.ndjson"
    )


class NdjsonWriter:
    def __init__(
        self,
        client: Callable[[], Any],
        *,
        bucket: str,
        deadline_seconds: float,
        policy: BackoffPolicy = DEFAULT_BACKOFF,
        timing: Timing = REAL_TIME,
    ) -> None:
        self._client_factory = client
        self._bucket: Any = None
        self._bucket_name = bucket
        self._deadline_seconds = deadline_seconds
        self._policy = policy
        self._timing = timing
        self._lock = threading.Lock()

    def bucket(self) -> Any:
        """The ``google.cloud.storage`` bucket, its client created on first use."""
        with self._lock:
            if self._bucket is None:
                self._bucket = self._client_factory().bucket(self._bucket_name)
            return self._bucket

    def create(
        self,
        name: str,
        lines: Iterable[str],
        *,
        exists_ok: bool = False,
        request: Request | None = None,
    ) -> int:
        """Write one new object; returns the number of retries it took.

        ``if_generation_match=0`` makes the write create-only: an archived batch can never be
        overwritten. A 412 on a retry means our earlier attempt landed, so it counts as done;
        ``exists_ok`` says the same of a 412 on the first attempt, for names that an earlier,
        interrupted run may have written with the same content (replay's). A ``request`` cuts
        the writer's deadline to what is left of that request's budget.
        """
        data = "\n".join(lines) + "\n"
        seconds = self._deadline_seconds
        if request is not None:
            seconds = request.seconds_left(seconds, self._timing.clock())
        deadline = self._timing.deadline(seconds)
        attempt = 0
        while True:
            try:
                self.bucket().blob(name).upload_from_string(
                    data,
                    content_type=NDJSON,
                    if_generation_match=0,
                    timeout=max(0.1, min(deadline.remaining(), 30.0)),
                    retry=None,
                )
                return attempt
            except Exception as error:
                if getattr(error, "code", None) == PRECONDITION_FAILED and (attempt or exists_ok):
                    return attempt
                attempt += 1
                if not is_transient_storage(error) or not deadline.backoff(self._policy, attempt):
                    raise
