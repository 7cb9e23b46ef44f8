"""Where the control document lives: one object, written only if it is what the writer read.

Notifications can be delivered twice at once; each write names the generation it read
(``if_generation_match``, 0 for "must not exist yet"), so one of two concurrent writers gets a
``ConflictError`` and decides again from what the other wrote.
"""

from collections.abc import Callable
from typing import Protocol

from event_capture.contracts.capture_mode import MODE_OBJECT, ControlState
from event_capture.platform.api_calls import CONTROL_BUCKET, ApiCall
from event_capture.platform.storage_surface import StorageBlob, StorageBucket

JSON = "application/json"
PRECONDITION_FAILED = 412
TIMEOUT_SECONDS = 10.0

# The capture-mode document is replaced in place, under its generation.
API_CALLS = (
    ApiCall("storage.objects.get", CONTROL_BUCKET),
    ApiCall("storage.objects.insert#overwrite", CONTROL_BUCKET),
)


class ConflictError(Exception):
    """Someone wrote the document since it was read."""


class ControlStore(Protocol):
    def read(self) -> tuple[ControlState, int]:
        """The document and its generation (0: it does not exist, the default state)."""
        ...

    def write(self, state: ControlState, generation: int) -> int:
        """Replace generation ``generation``; returns the new one, or raises ``ConflictError``."""
        ...


class GcsControlStore:
    def __init__(self, bucket: Callable[[], StorageBucket], name: str = MODE_OBJECT) -> None:
        self._bucket = bucket
        self._name = name

    def read(self) -> tuple[ControlState, int]:
        from google.api_core.exceptions import NotFound

        blob = self._bucket().blob(self._name)
        try:
            data = blob.download_as_bytes(timeout=TIMEOUT_SECONDS)
        except NotFound:
            return ControlState(), 0
        return ControlState.from_json(data), _generation(blob)

    def write(self, state: ControlState, generation: int) -> int:
        blob = self._bucket().blob(self._name)
        # Capture reads it every 30 s: a cached copy at the edge would delay the switch.
        blob.cache_control = "no-store"
        try:
            blob.upload_from_string(
                state.to_json(),
                content_type=JSON,
                if_generation_match=generation,
                timeout=TIMEOUT_SECONDS,
            )
        except Exception as error:
            if getattr(error, "code", None) == PRECONDITION_FAILED:
                raise ConflictError(self._name) from None
            raise
        return _generation(blob)


def _generation(blob: StorageBlob) -> int:
    # The library sets it from the answer to the download or upload just made.
    if blob.generation is None:
        raise RuntimeError(f"{blob.name}: the answer named no generation")
    return blob.generation
