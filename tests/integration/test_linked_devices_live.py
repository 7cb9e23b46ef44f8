"""Stitching on the real peers: the capture pipeline, configured as the function is, stores a
device's events before the login and then an event with both ids on the BigQuery emulator and
redis-server; the features reader on that redis-server then serves the device's pre-login
activity as the user's, and an unlinked device's activity as nobody's.

Redis database 4 of the session's redis-server, flushed first, so no other test's keys count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from event_capture.contracts import redis_keys as keys
from event_capture.features.serve import FeatureReader
from event_capture.ingest.links import link_event_id
from event_capture.schemas.features import PARTS
from localcloud.cloud import LocalCloud
from tests.unit import event_factory as factory

DB = 4


@pytest.fixture
def store(cloud: LocalCloud) -> Iterator[Any]:
    client = redis.Redis(port=cloud.redis.port, db=DB)
    client.flushdb()
    yield client
    client.close()


def test_a_devices_events_before_the_login_are_served_as_the_users(
    cloud: LocalCloud, store: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    user, other = f"u_{tag}", f"u_other_{tag}"
    phone, stranger = f"a_phone_{tag}", f"a_stranger_{tag}"
    pipeline = cloud.pipeline(
        GCS_ENABLED="false",
        REDIS_ENABLED="true",
        REDIS_URL=f"redis://127.0.0.1:{cloud.redis.port}/{DB}",
    )
    now = dt.datetime.now(dt.UTC)

    def at(minutes_ago: int) -> str:
        return factory.iso(now - dt.timedelta(minutes=minutes_ago))

    def anonymous(device: str, query: str, minutes_ago: int) -> dict[str, Any]:
        return factory.search(
            now, user_id=None, anonymous_id=device, query=query, occurred_at=at(minutes_ago)
        )

    before = pipeline.handle(
        [
            anonymous(phone, "oat milk", 30),
            anonymous(stranger, "secret gift", 25),
            factory.product_interaction(
                now, user_id=None, anonymous_id=phone, product_id="sku_oat", occurred_at=at(20)
            ),
        ],
        True,
    )
    assert (before.accepted, before.links) == (3, 0)
    login = factory.search(now, user_id=user, anonymous_id=phone, query="bread", occurred_at=at(5))
    after = pipeline.handle(
        [login, factory.search(now, user_id=other, query="tea", occurred_at=at(4))], True
    )
    assert (after.accepted, after.links) == (2, 1)
    assert after.sinks["redis"].status == "ok"

    # The link is in the warehouse, once, beside the event that made it.
    link_id = link_event_id(phone, user, now.date())
    [link] = cloud.rows("identity_links", [link_id])
    assert (link["user_id"], link["anonymous_id"], link["event_type"]) == (user, phone, "identify")
    assert store.smembers(keys.devices_key(user)) == {phone.encode()}

    features = FeatureReader(lambda: store).user
    mine = features(user, PARTS, 10)
    assert mine.known is True
    assert mine.recent.searched == ["bread", "oat milk"]
    assert mine.recent.viewed == ["sku_oat"]
    for someone in (user, other, f"u_nobody_{tag}"):
        recent = features(someone, PARTS, 10).recent
        assert "secret gift" not in recent.searched, someone
    assert features(other, PARTS, 10).recent.searched == ["tea"]
