"""Create-only NDJSON objects in Cloud Storage: the archive, the dead-letter area and replay."""

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from event_capture.ingest.retry import (
    DEFAULT_BACKOFF,
    REAL_TIME,
    BackoffPolicy,
    Timing,
    is_transient_storage,
)
from event_capture.ingest.row import Request
from event_capture.platform.storage_surface import StorageBucket, StorageClient

if TYPE_CHECKING:
    from event_capture.ingest.gcs_upload import ObjectUploads

NDJSON = "application/x-ndjson"
PRECONDITION_FAILED = 412


class NdjsonWriter:
    def __init__(
        self,
        client: Callable[[], StorageClient],
        *,
        bucket: str,
        deadline_seconds: float,
        uploads: "Callable[[], ObjectUploads] | None" = None,
        policy: BackoffPolicy = DEFAULT_BACKOFF,
        timing: Timing = REAL_TIME,
    ) -> None:
        # ``client`` is google-cloud-storage's (``bucket()`` lists and reads for replay and
        # backfill); ``uploads``, where given, creates the objects instead of the library:
        # the capture path's archive and dead letters, a call in a third of the CPU.
        self._client_factory = client
        self._uploads_factory = uploads
        self._uploads: ObjectUploads | None = None
        self._bucket: StorageBucket | None = None
        self._bucket_name = bucket
        self._deadline_seconds = deadline_seconds
        self._policy = policy
        self._timing = timing
        self._lock = threading.Lock()

    def bucket(self) -> StorageBucket:
        """The ``google.cloud.storage`` bucket, its client created on first use."""
        with self._lock:
            if self._bucket is None:
                self._bucket = self._client_factory().bucket(self._bucket_name)
            return self._bucket

    def _upload(self, name: str, data: str, timeout: float) -> None:
        if self._uploads_factory is None:
            self.bucket().blob(name).upload_from_string(
                data, content_type=NDJSON, if_generation_match=0, timeout=timeout, retry=None
            )
            return
        with self._lock:
            if self._uploads is None:
                self._uploads = self._uploads_factory()
        self._uploads.create(
            self._bucket_name, name, data.encode(), content_type=NDJSON, timeout=timeout
        )

    def _holds(self, name: str, data: str, seconds: float) -> bool:
        """Whether the object ``name`` has exactly ``data`` (its size and CRC32C)."""
        from event_capture.ingest.gcs_upload import crc32c

        try:
            blob = self.bucket().get_blob(name, timeout=max(0.1, min(seconds, 30.0)), retry=None)
        except Exception:  # noqa: BLE001 - cannot tell: a name clash, as without the check
            return False
        encoded = data.encode()
        return blob is not None and blob.size == len(encoded) and blob.crc32c == crc32c(encoded)

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
        so does a 412 on the first attempt when the object there holds exactly these bytes (the
        transport sent the request twice: ``curl_http.CurlHttp.post``). ``exists_ok`` accepts
        any 412 on the first attempt, for names that an earlier, interrupted run may have
        written with the same content (replay's). A ``request`` cuts the writer's deadline to
        what is left of that request's budget.
        """
        data = "\n".join(lines) + "\n"
        seconds = self._deadline_seconds
        if request is not None:
            seconds = request.seconds_left(seconds, self._timing.clock())
        deadline = self._timing.deadline(seconds)
        attempt = 0
        while True:
            try:
                self._upload(name, data, timeout=max(0.1, min(deadline.remaining(), 30.0)))
                return attempt
            except Exception as error:
                if getattr(error, "code", None) == PRECONDITION_FAILED and (
                    attempt or exists_ok or self._holds(name, data, deadline.remaining())
                ):
                    return attempt
                attempt += 1
                if not is_transient_storage(error) or not deadline.backoff(self._policy, attempt):
                    raise
