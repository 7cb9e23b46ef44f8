"""Create-only object uploads to Cloud Storage's JSON API, sent over ``curl_http.CurlHttp``.

The capture path writes one archive object per request (and dead letters when BigQuery fails).
google-cloud-storage's ``upload_from_string`` costs about 0.6 ms of CPU per object here, most
of it requests and the library's upload machinery around one POST; this is that POST: the
same multipart upload, with the object's CRC32C in its metadata, so Cloud Storage refuses an
object whose bytes were changed on the way, as it does for the library's uploads. Listing,
reading and copying objects stay with the library.
"""

import base64
import json
from typing import Protocol
from urllib.parse import quote

import google_crc32c

from event_capture.platform.api_transport import ApiError, Transport

STORAGE_API = "https://storage.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
# Each NDJSON line is JSON, whose strings escape every control character, so no line holds a
# CR LF and the body's parts cannot be confused with the data, whatever the data says.
BOUNDARY = "event-capture-object"
MULTIPART_HEADERS = {"Content-Type": f'multipart/related; boundary="{BOUNDARY}"'}


class ObjectUploads(Protocol):
    """Creates an object that must not exist yet; an existing one is an ``ApiError`` 412."""

    def create(
        self, bucket: str, name: str, data: bytes, *, content_type: str, timeout: float
    ) -> None: ...


def crc32c(data: bytes) -> str:
    """The checksum as Cloud Storage writes it in object metadata: base64, big-endian."""
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def multipart_body(name: str, data: bytes, content_type: str) -> bytes:
    metadata = json.dumps({"name": name, "contentType": content_type, "crc32c": crc32c(data)})
    return b"".join(
        (
            f"--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            metadata.encode(),
            f"\r\n--{BOUNDARY}\r\nContent-Type: {content_type}\r\n\r\n".encode(),
            data,
            f"\r\n--{BOUNDARY}--".encode(),
        )
    )


class CurlUploads:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def path(bucket: str) -> str:
        # ifGenerationMatch=0: the object must not exist, so an archived batch is never
        # overwritten.
        return (
            f"/upload/storage/v1/b/{quote(bucket, safe='')}/o"
            "?uploadType=multipart&ifGenerationMatch=0"
        )

    def create(
        self, bucket: str, name: str, data: bytes, *, content_type: str, timeout: float
    ) -> None:
        answer = self._transport.post(
            self.path(bucket),
            multipart_body(name, data, content_type),
            MULTIPART_HEADERS,
            timeout=timeout,
        )
        if answer.status != 200:
            raise ApiError.from_answer(answer.status, answer.data)
