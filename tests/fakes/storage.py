"""An in-memory stand-in for the part of ``google.cloud.storage`` the code uses: the Protocols
of ``platform.storage_surface``, which mypy holds it to wherever it is passed for one.

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
from event_capture.platform.storage_surface import StorageBlob, StorageBucket


def precondition_failed(name: str) -> gexc.GoogleAPICallError:
    return gexc.PreconditionFailed(f"conditionNotMet: {name}")  # type: ignore[no-untyped-call]


def not_found(name: str) -> gexc.GoogleAPICallError:
    return gexc.NotFound(f"No such object: {name}")  # type: ignore[no-untyped-call]


@dataclass
class StoredObject:
    """What the bucket holds under a name."""

    name: str
    data: str
    generation: int


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

    def blob(self, name: str, /) -> FakeBlob:
        return FakeBlob(self, name)

    def get_blob(self, name: str, /, *, timeout: float, retry: None = None) -> FakeBlob | None:
        fault = self.faults.get("get", []).pop(0) if self.faults.get("get") else None
        if fault is not None:
            raise fault.error
        stored = self.objects.get(name)
        return None if stored is None else FakeBlob(self, name).loaded(stored)

    def list_blobs(self, *, prefix: str) -> Iterator[FakeBlob]:
        return iter(
            [
                FakeBlob(self, n).loaded(o)
                for n, o in sorted(self.objects.items())
                if n.startswith(prefix)
            ]
        )

    def copy_blob(
        self,
        blob: StorageBlob,
        destination_bucket: StorageBucket,
        new_name: str,
        /,
        *,
        if_generation_match: int,
    ) -> FakeBlob:
        assert destination_bucket is self, "the fake copies within one bucket, as replay does"
        source = self.objects.get(blob.name)
        if source is None:
            raise not_found(blob.name)
        self._operate(
            "copy", new_name, if_generation_match, lambda: self._put(new_name, source.data)
        )
        return FakeBlob(self, new_name).loaded(self.objects[new_name])

    def delete_blob(self, name: str, /, *, if_generation_match: int | None) -> None:
        if name not in self.objects:
            raise not_found(name)
        self._operate("delete", name, if_generation_match, lambda: self.objects.pop(name))

    def upload(self, name: str, data: str, kw: dict[str, Any]) -> None:
        """Write an object as an upload does (``kw``: its ``if_generation_match``, if any)."""
        self._operate("upload", name, kw.get("if_generation_match"), lambda: self._put(name, data))

    def _put(self, name: str, data: str) -> None:
        self._generation += 1
        self.objects[name] = StoredObject(name, data, self._generation)

    def _operate(self, op: str, name: str, match: int | None, effect: Callable[[], object]) -> None:
        fault = self.faults.get(op, []).pop(0) if self.faults.get(op) else None
        if fault is not None and not fault.land:
            raise fault.error
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
class FakeBlob:
    """A handle to one object: its metadata is what it last read or wrote (None before), as
    with the library's ``Blob``."""

    bucket: FakeBucket
    name: str
    generation: int | None = None
    size: int | None = None
    crc32c: str | None = None
    cache_control: str | None = None

    def loaded(self, stored: StoredObject) -> FakeBlob:
        encoded = stored.data.encode()
        # As Cloud Storage reports it: crc32c is base64 of the big-endian CRC32C.
        self.generation, self.size, self.crc32c = stored.generation, len(encoded), crc32c(encoded)
        return self

    def upload_from_string(
        self,
        data: str,
        *,
        content_type: str,
        if_generation_match: int,
        timeout: float,
        retry: None = None,
    ) -> None:
        self.bucket.upload(self.name, data, {"if_generation_match": if_generation_match})
        self.loaded(self.bucket.objects[self.name])

    def download_as_bytes(self, *, timeout: float, retry: None = None) -> bytes:
        return self._read().encode()

    def download_as_text(self) -> str:
        return self._read()

    def _read(self) -> str:
        stored = self.bucket.objects.get(self.name)
        if stored is None:
            raise not_found(self.name)
        self.loaded(stored)
        return stored.data


@dataclass
class FakeStorageClient:
    bucket_: FakeBucket = field(default_factory=FakeBucket)

    def bucket(self, name: str, /) -> FakeBucket:
        self.bucket_.name = name
        return self.bucket_
