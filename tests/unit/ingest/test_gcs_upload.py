"""The create-only upload: the multipart body Cloud Storage reads, and what an answer means.

A recording transport stands in for ``curl_http.CurlHttp`` here; tests/integration/
test_gcs_upload_emulator.py makes the same calls to fake-gcs-server.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
from typing import Any

import google_crc32c
import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.ingest.gcs_upload import MULTIPART_HEADERS, CurlUploads, crc32c, multipart_body
from event_capture.ingest.retry import is_transient_storage
from event_capture.platform.api_transport import ApiError, ApiResponse
from tests.fakes.api_transport import RecordingTransport


def parts(body: bytes, headers: dict[str, str]) -> list[Any]:
    """The body as a MIME parser (not this module) reads it."""
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    return list(message.iter_parts())


@given(
    st.lists(st.text(max_size=40), max_size=20).map(
        lambda texts: "\n".join(json.dumps({"text": text}) for text in texts) + "\n"
    )
)
def test_the_body_is_the_metadata_with_its_crc32c_then_the_data_unchanged(ndjson: str) -> None:
    # Any NDJSON validation can write: its lines are JSON, which escapes every CR and LF.
    data = ndjson.encode()

    metadata_part, data_part = parts(
        multipart_body("archive/dt=2026-12-01/x.ndjson", data, "application/x-ndjson"),
        MULTIPART_HEADERS,
    )

    metadata = json.loads(metadata_part.get_content())
    assert metadata["name"] == "archive/dt=2026-12-01/x.ndjson"
    assert metadata["contentType"] == "application/x-ndjson"
    assert base64.b64decode(metadata["crc32c"]) == google_crc32c.value(data).to_bytes(4, "big")
    assert data_part.get_content_type() == "application/x-ndjson"
    assert data_part.get_payload(decode=True) == data


def test_a_create_posts_a_multipart_upload_that_must_not_find_the_object() -> None:
    transport = RecordingTransport(ApiResponse(200, b'{"name":"o"}'))

    CurlUploads(transport).create(
        "my-bucket", "archive/o.ndjson", b"{}\n", content_type="application/x-ndjson", timeout=3
    )

    [call] = transport.calls
    assert call["path"] == (
        "/upload/storage/v1/b/my-bucket/o?uploadType=multipart&ifGenerationMatch=0"
    )
    assert call["headers"] == MULTIPART_HEADERS
    assert call["timeout"] == 3


@pytest.mark.parametrize(
    ("status", "transient"),
    [(412, False), (503, True), (429, True), (408, True), (403, False), (404, False)],
)
def test_an_answer_other_than_200_is_an_error_with_its_status(status: int, transient: bool) -> None:
    data = json.dumps({"error": {"code": status, "message": "m", "errors": []}}).encode()
    uploads = CurlUploads(RecordingTransport(ApiResponse(status, data)))

    with pytest.raises(ApiError) as raised:
        uploads.create("b", "o", b"{}\n", content_type="application/x-ndjson", timeout=1)

    assert raised.value.code == status
    assert is_transient_storage(raised.value) is transient


def test_the_checksum_is_crc32c_big_endian_in_base64() -> None:
    # RFC 3720's check value for CRC32C: "123456789" -> 0xE3069283.
    assert crc32c(b"123456789") == base64.b64encode(bytes.fromhex("e3069283")).decode()
