"""The part of google-cloud-storage the code uses: a client's buckets, and their objects.

google-cloud-storage ships no type information, so mypy sees its client as Any and cannot
check it against these Protocols; the integration tests run the same calls on fake-gcs-server.
What they do check is the code that uses a bucket, and the tests' fake
(tests/fakes/storage.py) that stands in for one. The capture path's own uploads do not go
through the library (``ingest.gcs_upload``).

``retry`` is only ever None here (the caller's deadline and backoff decide, not the library's
retry policy) or left out (the library's default).
"""

from collections.abc import Iterable
from typing import Protocol


class StorageBlob(Protocol):
    """One object, by name; its metadata as last read or written through this handle."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def crc32c(self) -> str | None:
        """Base64 of the big-endian CRC32C, as Cloud Storage reports it."""
        ...

    @property
    def generation(self) -> int | None: ...

    # Sent with the next upload.
    cache_control: str | None

    def upload_from_string(
        self,
        data: str,
        *,
        content_type: str,
        if_generation_match: int,
        timeout: float,
        retry: None = ...,
    ) -> None:
        """Write the object if its generation is ``if_generation_match`` (0: it must not
        exist); otherwise an error whose ``code`` is 412."""
        ...

    def download_as_bytes(self, *, timeout: float, retry: None = ...) -> bytes:
        """Its bytes; ``google.api_core.exceptions.NotFound`` when it does not exist."""
        ...

    def download_as_text(self) -> str: ...


class StorageBucket(Protocol):
    def blob(self, name: str, /) -> StorageBlob:
        """A handle to the object ``name``; nothing is read until it is used."""
        ...

    def get_blob(self, name: str, /, *, timeout: float, retry: None = ...) -> StorageBlob | None:
        """The object with its metadata, or None when it does not exist."""
        ...

    def list_blobs(self, *, prefix: str) -> Iterable[StorageBlob]: ...

    def copy_blob(
        self,
        blob: StorageBlob,
        destination_bucket: "StorageBucket",
        new_name: str,
        /,
        *,
        if_generation_match: int,
    ) -> StorageBlob: ...

    def delete_blob(self, name: str, /, *, if_generation_match: int | None) -> None: ...


class StorageClient(Protocol):
    def bucket(self, name: str, /) -> StorageBucket: ...
