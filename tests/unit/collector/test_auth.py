"""Write keys: Basic auth or writeKey, two keys at once, every key compared in constant time."""

from __future__ import annotations

import hmac
import json

import pytest

from event_capture.collector.auth import KeyClass, WriteKeys, basic_user, key_problem
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


def keys_json(*entries: tuple[str, str, str]) -> str:
    return json.dumps([{"id": i, "class": c, "key": k} for i, c, k in entries])


SERVER_KEY = "srv_4f0c9e1a7b3d2e8f6a5c"


def test_each_key_is_found_with_its_id_and_class() -> None:
    keys = WriteKeys.parse(
        keys_json(("web", "client", WRITE_KEY), ("backend", "server", SERVER_KEY))
    )

    web, backend = keys.find(WRITE_KEY), keys.find(SERVER_KEY)
    assert web is not None and (web.key_id, web.key_class) == ("web", KeyClass.CLIENT)
    assert backend is not None and (backend.key_id, backend.key_class) == ("backend", "server")
    assert keys.find(NEXT_WRITE_KEY) is None
    assert keys.ids == {"web": KeyClass.CLIENT, "backend": KeyClass.SERVER}


def test_a_plain_list_of_keys_is_read_as_client_keys_with_ids_of_their_digests() -> None:
    keys = WriteKeys.parse(f"{WRITE_KEY},{NEXT_WRITE_KEY}")

    found = [keys.find(WRITE_KEY), keys.find(NEXT_WRITE_KEY)]
    assert [k.key_class for k in found if k] == [KeyClass.CLIENT, KeyClass.CLIENT]
    assert all(k and k.key_id.startswith("key-") and WRITE_KEY not in k.key_id for k in found)
    assert len({k.key_id for k in found if k}) == 2


@pytest.mark.parametrize(
    ("key", "predictable"),
    [
        ("a" * 40, True),
        ("ab" * 20, True),
        ("0a0b0c0d0e0f0a0b", True),
        ("wk_live_0123456789abcdef", False),
        ("3f9a1c07e2b84d6f", False),  # openssl rand -hex 8
    ],
)
def test_a_key_of_few_distinct_characters_is_refused_as_predictable(
    key: str, predictable: bool
) -> None:
    problem = key_problem(key)

    assert (problem is not None and "too predictable" in problem) is predictable, problem


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("short", "at least 16"),
        (
            keys_json(
                ("web", "client", WRITE_KEY),
                ("web", "client", NEXT_WRITE_KEY),
                ("web", "client", SERVER_KEY),
            ),
            "id web: at most 2",
        ),
        (keys_json(("web", "client", WRITE_KEY), ("web", "server", SERVER_KEY)), "one class"),
        (keys_json(("web", "browser", WRITE_KEY)), "class must be server or client"),
        (keys_json(("Web Site", "client", WRITE_KEY)), "id must be"),
        ('[{"id": "web"}]', "an object of id, class and key"),
        ("[not json", "JSON list"),
        ("has:colon_0123456789", "':'"),
        ("a" * 32, "too predictable"),
    ],
)
def test_unusable_keys_stop_start_up_naming_the_variable_not_the_key(
    value: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_collector_config({**BASE, "COLLECTOR_WRITE_KEYS": value})
    message = str(error.value)
    assert message.startswith("COLLECTOR_WRITE_KEYS: ") and reason in message
    for key in (WRITE_KEY, NEXT_WRITE_KEY, SERVER_KEY, "a" * 32):
        assert key not in message
