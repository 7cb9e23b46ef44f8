"""The capture path's object upload against fake-gcs-server: created once, never overwritten.

tests/unit/ingest/test_gcs_upload.py checks the same calls on a recording transport. fake-gcs-server
stores whatever checksum it is sent without comparing it; Cloud Storage refuses a mismatch with
a 400 (https://cloud.google.com/storage/docs/data-validation), which is permanent for the
writer's retry rule.
"""

from __future__ import annotations

import base64
import uuid
from functools import partial

import google_crc32c
import pytest

from event_capture.ingest import clients
from event_capture.ingest.retry import is_transient_storage
from event_capture.ingest.sinks.gcs_objects import NdjsonWriter
from event_capture.platform.api_transport import ApiError
from localcloud.cloud import LocalCloud

NDJSON = "application/x-ndjson"


def test_an_object_is_created_with_its_bytes_type_and_checksum(cloud: LocalCloud) -> None:
    uploads = clients.storage_uploads(cloud.config())
    name = f"upload-test/{uuid.uuid4()}.ndjson"
    data = '{"event_id":"a","text":"café"}\n{"event_id":"b"}\n'.encode()

    uploads.create(cloud.settings.bucket, name, data, content_type=NDJSON, timeout=10)

    blob = cloud.bucket().get_blob(name)
    assert blob.download_as_bytes() == data
    assert blob.content_type == NDJSON
    assert base64.b64decode(blob.crc32c) == google_crc32c.value(data).to_bytes(4, "big")


def test_an_existing_name_is_refused_with_412_and_left_as_it_was(cloud: LocalCloud) -> None:
    uploads = clients.storage_uploads(cloud.config())
    name = f"upload-test/{uuid.uuid4()}.ndjson"
    uploads.create(cloud.settings.bucket, name, b"first\n", content_type=NDJSON, timeout=10)

    with pytest.raises(ApiError) as raised:
        uploads.create(cloud.settings.bucket, name, b"second\n", content_type=NDJSON, timeout=10)

    assert raised.value.code == 412
    assert not is_transient_storage(raised.value)
    assert cloud.bucket().blob(name).download_as_bytes() == b"first\n"


def test_the_writer_takes_a_412_over_its_own_bytes_as_written_and_any_other_as_a_clash(
    cloud: LocalCloud,
) -> None:
    # What the writer does when libcurl sent an upload twice and the first copy landed: the
    # size and CRC32C fake-gcs-server reports decide.
    config = cloud.config()
    writer = NdjsonWriter(
        partial(clients.storage_client, config),
        bucket=cloud.settings.bucket,
        deadline_seconds=10,
        uploads=partial(clients.storage_uploads, config),
    )
    name = f"upload-test/{uuid.uuid4()}.ndjson"
    lines = ['{"event_id":"a","text":"café"}', '{"event_id":"b"}']
    assert writer.create(name, lines) == 0

    assert writer.create(name, lines) == 0
    with pytest.raises(ApiError) as raised:
        writer.create(name, [*lines, '{"event_id":"c"}'])

    assert raised.value.code == 412
    assert cloud.bucket().blob(name).download_as_text() == "\n".join(lines) + "\n"
