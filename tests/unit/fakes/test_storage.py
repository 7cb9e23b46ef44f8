"""The Storage stand-in (tests/fakes/storage.py) speaks Cloud Storage's preconditions; the same
calls run on fake-gcs-server in tests/integration."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

from tests.fakes.storage import FakeBucket, precondition_failed


def test_the_fake_speaks_cloud_storage_preconditions() -> None:
    # The fake itself: a create-only write over an existing object is refused with a 412.
    bucket = FakeBucket()
    bucket.upload("a", "x", {"if_generation_match": 0})
    with pytest.raises(gexc.PreconditionFailed):
        bucket.upload("a", "y", {"if_generation_match": 0})
    assert isinstance(precondition_failed("a"), gexc.PreconditionFailed)
