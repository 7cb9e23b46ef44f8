"""Write keys: Basic auth or writeKey, two keys at once, every key compared in constant time."""

from __future__ import annotations

import hmac

import pytest

from event_capture.collector.auth import WriteKeys, basic_user
from event_capture.collector.config import load_collector_config
from event_capture.ingest.config import ConfigError
from tests.unit.collector.calls import NEXT_WRITE_KEY, WRITE_KEY, basic
from tests.unit.collector.test_config import BASE


def test_both_configured_keys_are_accepted_and_nothing_else() -> None:
    keys = WriteKeys.parse(f" {WRITE_KEY} , {NEXT_WRITE_KEY} ")
    assert keys.accepts(WRITE_KEY) and keys.accepts(NEXT_WRITE_KEY)
    assert not keys.accepts(WRITE_KEY[:-1])
    assert not keys.accepts("")
    assert not keys.accepts(WRITE_KEY + "x")


def test_every_key_is_compared_with_compare_digest_even_after_a_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    keys = WriteKeys.parse(f"{WRITE_KEY},{NEXT_WRITE_KEY}")
    assert keys.accepts(WRITE_KEY)
    assert not keys.accepts("wrong")
    assert len(compared) == 4
    # Digests of equal length: neither a key's length nor its prefix shows in the timing.
    assert {len(a) for pair in compared for a in pair} == {32}


def test_basic_user_name_is_the_key_and_the_password_is_ignored() -> None:
    assert basic_user(basic(WRITE_KEY)) == WRITE_KEY
    assert basic_user(basic(WRITE_KEY).replace("Basic", "basic")) == WRITE_KEY
    assert basic_user("Basic " + "d2tfbGl2ZTpzZWNyZXQ=") == "wk_live"  # "wk_live:secret"
    assert basic_user(None) is None
    assert basic_user("Bearer token") is None  # Segment's OAuth: the key is in the body
    assert basic_user("Basic !!!") == ""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("short", "at least 16"),
        (f"{WRITE_KEY},{NEXT_WRITE_KEY},{WRITE_KEY}x", "at most 2"),
        ("has:colon_0123456789", "no ':'"),
    ],
)
def test_unusable_keys_stop_start_up_naming_the_variable_not_the_key(
    value: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_collector_config({**BASE, "COLLECTOR_WRITE_KEYS": value})
    message = str(error.value)
    assert message.startswith("COLLECTOR_WRITE_KEYS: ") and reason in message
    for key in filter(None, value.split(",")):
        if key.strip():
            assert key.strip() not in message
