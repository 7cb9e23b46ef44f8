"""load_snapshot: a snapshot's keys are written in full before the pointer moves to them.

Every case runs on the in-memory fake and on a real redis-server (skipped where none is
installed); ``Recorder`` lists the commands sent and makes one of them fail. Reading the feature
tables from BigQuery is covered by the integration tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from event_capture.contracts import redis_keys as keys
from event_capture.features import materialize
from event_capture.features.documents import Snapshot
from event_capture.features.materialize import LoadResult, load_snapshot
from tests.fakes.redis import (
    InjectedError,
    Recorder,
)

DAY = dt.date(2026, 11, 27)
LOADED_AT = dt.datetime(2026, 11, 28, 4, 0, 7, tzinfo=dt.UTC)


def snapshot(day: dt.date = DAY, *, users: int = 2, products: int = 1, tag: str = "") -> Snapshot:
    return Snapshot(
        day,
        {f"u{i}": f'{{"user":{i},"tag":"{tag}"}}' for i in range(users)},
        {f"p{i}": f'{{"product":{i},"tag":"{tag}"}}' for i in range(products)},
    )


def load(redis: Any, snap: Snapshot) -> LoadResult:
    return load_snapshot(redis, snap, now=lambda: LOADED_AT)


def pointer(redis: Any) -> str | None:
    value = redis.get(keys.CURRENT_SNAPSHOT)
    return None if value is None else str(value.decode())


def hash_of(redis: Any, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}


def everything(redis: Any) -> dict[str, Any]:
    """Every key and its value: the pointer's string, every other key's hash."""
    out: dict[str, Any] = {}
    for raw in redis.keys("*"):
        key = raw.decode()
        out[key] = pointer(redis) if key == keys.CURRENT_SNAPSHOT else hash_of(redis, key)
    return out


def assert_current(redis: Any, snap: Snapshot) -> None:
    meta, users, products = keys.snapshot_keys(snap.id)
    assert pointer(redis) == snap.id
    assert hash_of(redis, users) == snap.users
    assert hash_of(redis, products) == snap.products
    assert hash_of(redis, meta)["snapshot_date"] == snap.snapshot_date.isoformat()


def assert_loaded_ttls(redis: Any, *names: str) -> None:
    # Longer than a replaced snapshot's grace, at most the snapshot's own lifetime.
    for name in names:
        assert keys.REPLACED_TTL_SECONDS < redis.ttl(name) <= keys.SNAPSHOT_TTL_SECONDS, name


def test_a_first_load_writes_the_snapshot_and_switches_the_pointer_to_it(redis: Any) -> None:
    snap = snapshot()

    result = load(redis, snap)

    assert result == LoadResult(snap.id, changed=True, users=2, products=1, replaced=None)
    assert_current(redis, snap)
    assert hash_of(redis, keys.snapshot_meta_key(snap.id)) == {
        "snapshot_date": "2026-11-27",
        "users": "2",
        "products": "1",
        "loaded_at": "2026-11-28T04:00:07+00:00",
    }
    assert_loaded_ttls(redis, keys.CURRENT_SNAPSHOT, *keys.snapshot_keys(snap.id))
    assert set(everything(redis)) == {keys.CURRENT_SNAPSHOT, *keys.snapshot_keys(snap.id)}


def test_the_pointer_moves_in_one_command_after_every_key_is_written(redis: Any) -> None:
    old, new = snapshot(tag="old"), snapshot(tag="new")
    load(redis, old)
    recorder = Recorder(redis)

    load(recorder, new)

    sent = recorder.sent
    writes_of_new = [
        i
        for i, c in enumerate(sent)
        if c.name == "hset" and c.args[0] in keys.snapshot_keys(new.id)
    ]
    pointer_writes = [
        i for i, c in enumerate(sent) if c.name == "set" and c.args[0] == keys.CURRENT_SNAPSHOT
    ]
    old_expiries = [
        i
        for i, c in enumerate(sent)
        if c.name == "expire" and c.args[0] in keys.snapshot_keys(old.id)
    ]
    assert len(writes_of_new) == 3 and len(pointer_writes) == 1 and len(old_expiries) == 3
    assert max(writes_of_new) < pointer_writes[0] < min(old_expiries)
    # Read once, written once; the old snapshot is left to expire, never deleted.
    assert [c.name for c in sent if keys.CURRENT_SNAPSHOT in c.args] == ["get", "set"]
    assert not [
        c for c in sent if c.name == "delete" and set(c.args) & set(keys.snapshot_keys(old.id))
    ]


def test_every_hash_gets_its_ttl_in_the_round_trip_that_creates_it(redis: Any) -> None:
    recorder = Recorder(redis)

    load(recorder, snapshot())

    for command in recorder.sent:
        if command.name == "hset":
            assert [
                c.args
                for c in recorder.sent
                if c.trip == command.trip and c.name == "expire" and c.args[0] == command.args[0]
            ] == [(command.args[0], keys.SNAPSHOT_TTL_SECONDS)]


def test_loading_the_current_snapshot_again_writes_nothing(redis: Any) -> None:
    load(redis, snapshot())
    before = everything(redis)
    recorder = Recorder(redis)

    # Equal content built again is the same snapshot: the id is of the content.
    result = load(recorder, snapshot())

    assert result == LoadResult(snapshot().id, changed=False, users=2, products=1, replaced=None)
    assert recorder.names() == ["get", "exists"]
    assert everything(redis) == before


def test_the_current_snapshot_whose_meta_is_gone_is_written_again_without_expiring_it(
    redis: Any,
) -> None:
    snap = snapshot()
    load(redis, snap)
    redis.delete(keys.snapshot_meta_key(snap.id))

    result = load(redis, snap)

    assert result.changed is True
    assert_current(redis, snap)
    assert_loaded_ttls(redis, keys.CURRENT_SNAPSHOT, *keys.snapshot_keys(snap.id))


def test_rewriting_the_current_snapshot_reports_nothing_replaced(redis: Any) -> None:
    snap = snapshot()
    load(redis, snap)
    redis.delete(keys.snapshot_meta_key(snap.id))

    assert load(redis, snap).replaced is None


def test_a_new_snapshot_replaces_the_old_which_expires_minutes_later(redis: Any) -> None:
    old = snapshot(tag="old")
    new = snapshot(DAY + dt.timedelta(days=1), users=3, products=2, tag="new")
    load(redis, old)

    result = load(redis, new)

    assert result == LoadResult(new.id, changed=True, users=3, products=2, replaced=old.id)
    assert_current(redis, new)
    assert_loaded_ttls(redis, keys.CURRENT_SNAPSHOT, *keys.snapshot_keys(new.id))
    for name in keys.snapshot_keys(old.id):
        assert 0 < redis.ttl(name) <= keys.REPLACED_TTL_SECONDS, name
    # Whole until it expires, for a reader that read the pointer just before the switch.
    assert hash_of(redis, keys.snapshot_users_key(old.id)) == old.users


def test_the_same_day_with_new_content_is_a_new_snapshot(redis: Any) -> None:
    old, new = snapshot(tag="first run"), snapshot(tag="rerun")
    load(redis, old)

    result = load(redis, new)

    assert new.id != old.id and result.replaced == old.id
    assert_current(redis, new)


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param(("hset", 1), id="first-users-chunk"),
        pytest.param(("hset", 2), id="second-users-chunk"),
        pytest.param(("hset", 5), id="last-products-chunk"),
        pytest.param(("hset", 6), id="meta"),
        pytest.param(("set", 1), id="pointer-switch"),
    ],
)
def test_a_load_that_fails_leaves_the_old_snapshot_current_and_removes_its_own_keys(
    redis: Any, monkeypatch: pytest.MonkeyPatch, fail: tuple[str, int]
) -> None:
    old = snapshot(tag="old")
    new = snapshot(DAY + dt.timedelta(days=1), users=3, products=2, tag="new")
    load(redis, old)
    before = everything(redis)
    old_ttls = {name: redis.ttl(name) for name in keys.snapshot_keys(old.id)}
    monkeypatch.setattr(materialize, "FIELDS_PER_COMMAND", 1)  # 3 + 2 chunks, then the meta

    with pytest.raises(InjectedError):
        load(Recorder(redis, fail={fail}), new)

    assert pointer(redis) == old.id
    assert everything(redis) == before
    assert redis.exists(*keys.snapshot_keys(new.id)) == 0
    for name, ttl in old_ttls.items():
        assert ttl - 1 <= redis.ttl(name) <= ttl, name


def test_a_first_load_that_fails_leaves_no_pointer_and_no_keys(redis: Any) -> None:
    with pytest.raises(InjectedError):
        load(Recorder(redis, fail={("hset", 2)}), snapshot())

    assert everything(redis) == {}


def test_when_the_clean_up_fails_too_the_load_error_is_raised_and_the_keys_expire(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = snapshot(tag="old"), snapshot(users=3, tag="new")
    load(redis, old)
    monkeypatch.setattr(materialize, "FIELDS_PER_COMMAND", 1)

    # delete #1 clears leftovers before the load; #2 is the clean-up after the failure.
    with pytest.raises(InjectedError, match="hset #2"):
        load(Recorder(redis, fail={("hset", 2), ("delete", 2)}), new)

    assert pointer(redis) == old.id
    [left] = [name for name in keys.snapshot_keys(new.id) if redis.exists(name)]
    assert_loaded_ttls(redis, left)


def test_what_an_interrupted_load_left_behind_is_written_again_from_scratch(redis: Any) -> None:
    snap = snapshot()
    users = keys.snapshot_users_key(snap.id)
    redis.hset(users, mapping={"u0": "half", "ghost": "from the interrupted load"})

    load(redis, snap)

    assert hash_of(redis, users) == snap.users
    assert_loaded_ttls(redis, users)


def test_documents_are_written_in_chunks_of_at_most_fields_per_command(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(materialize, "FIELDS_PER_COMMAND", 2)
    snap = snapshot(users=5, products=3)
    recorder = Recorder(redis)

    load(recorder, snap)

    hsets = [c for c in recorder.sent if c.name == "hset"]
    _, users, products = keys.snapshot_keys(snap.id)
    chunks = {
        key: [c.kwargs["mapping"] for c in hsets if c.args[0] == key] for key in (users, products)
    }
    assert [len(chunk) for chunk in chunks[users]] == [2, 2, 1]
    assert [len(chunk) for chunk in chunks[products]] == [2, 1]
    assert len({c.trip for c in hsets}) == len(hsets)  # one round trip per chunk
    assert {k: v for chunk in chunks[users] for k, v in chunk.items()} == snap.users
    assert_current(redis, snap)
    assert hash_of(redis, users) == snap.users and hash_of(redis, products) == snap.products


def test_exactly_fields_per_command_documents_are_one_chunk(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(materialize, "FIELDS_PER_COMMAND", 3)
    recorder = Recorder(redis)

    load(recorder, snapshot(users=3, products=0))

    assert [len(c.kwargs["mapping"]) for c in recorder.sent if c.name == "hset"] == [3, 4]


def test_an_empty_snapshot_is_loaded_as_a_meta_and_a_pointer(redis: Any) -> None:
    snap = snapshot(users=0, products=0)

    result = load(redis, snap)

    assert (result.changed, result.users, result.products) == (True, 0, 0)
    assert set(everything(redis)) == {keys.CURRENT_SNAPSHOT, keys.snapshot_meta_key(snap.id)}
    assert pointer(redis) == snap.id
