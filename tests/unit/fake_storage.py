"""An in-memory stand-in for the part of ``google.cloud.storage`` the writers and replay use.

Generations and ``if_generation_match`` behave as in Cloud Storage (0 means "must not exist";
a mismatch is a 412), and a test can script failures per call. The same contract is proven
against fake-gcs-server in tests/integration (archive, dead letters, replay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from event_capture.ingest.gcs_upload import crc32c


def precondition_failed(name: str) -> gexc.GoogleAPICallError:
    return gexc.PreconditionFailed(f"conditionNotMet: {name}")  # type: ignore[no-untyped-call]


def not_found(name: str) -> gexc.GoogleAPICallError:
    return gexc.NotFound(f"No such object: {name}")  # type: ignore[no-untyped-call]


@dataclass
class StoredObject:
    name: str
    data: str
    generation: int

    def download_as_text(self) -> str:
        return self.data

    @property
    def size(self) -> int:
        return len(self.data.encode())

    @property
    def crc32c(self) -> str:
        # As Cloud Storage reports it: base64 of the big-endian CRC32C.
        return crc32c(self.data.encode())


# A scripted failure: raised before (land=False) or after (land=True) the write takes effect,
# the second being a timeout whose request nevertheless reached the server.
@dataclass
class Fault:
    error: BaseException
    land: bool = False


@dataclass
class FakeBucket:
    name: str = "bucket"
    objects: dict[str, StoredObject] = field(default_factory=dict)
    # Per operation ("upload", "copy", "delete", "get"), the failures of its next calls.
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    # Called after every effective operation, e.g. to play a concurrent run.
    after: Callable[[str, str], None] | None = None
    journal: list[tuple[str, str]] = field(default_factory=list)
    _generation: int = 0

    def blob(self, name: str) -> _Blob:
        return _Blob(self, name)

    def get_blob(self, name: str, **kw: Any) -> StoredObject | None:
        fault = self.faults.get("get", []).pop(0) if self.faults.get("get") else None
        if fault is not None:
            raise fault.error
        return self.objects.get(name)

    def list_blobs(self, prefix: str = "") -> Iterator[StoredObject]:
        return iter([o for n, o in sorted(self.objects.items()) if n.startswith(prefix)])

    def copy_blob(
        self, blob: StoredObject, destination_bucket: FakeBucket, new_name: str, **kw: Any
    ) -> None:
        self._operate("copy", new_name, kw, lambda: self._put(new_name, blob.data))

    def delete_blob(self, name: str, **kw: Any) -> None:
        if name not in self.objects:
            raise not_found(name)
        self._operate("delete", name, kw, lambda: self.objects.pop(name))

    def upload(self, name: str, data: str, kw: dict[str, Any]) -> None:
        self._operate("upload", name, kw, lambda: self._put(name, data))

    def _put(self, name: str, data: str) -> None:
        self._generation += 1
        self.objects[name] = StoredObject(name, data, self._generation)

    def _operate(self, op: str, name: str, kw: dict[str, Any], effect: Callable[[], Any]) -> None:
        fault = self.faults.get(op, []).pop(0) if self.faults.get(op) else None
        if fault is not None and not fault.land:
            raise fault.error
        match = kw.get("if_generation_match")
        existing = self.objects.get(name)
        if match is not None and (existing.generation if existing else 0) != match:
            raise precondition_failed(name)
        effect()
        self.journal.append((op, name))
        if self.after is not None:
            self.after(op, name)
        if fault is not None:
            raise fault.error


@dataclass
class _Blob:
    bucket: FakeBucket
    name: str

    def upload_from_string(self, data: str, **kw: Any) -> None:
        self.bucket.upload(self.name, data, kw)


@dataclass
class FakeStorageClient:
    bucket_: FakeBucket = field(default_factory=FakeBucket)

    def bucket(self, name: str) -> FakeBucket:
        self.bucket_.name = name
        return self.bucket_
