"""collector.handler, whose user an event is: a server key's userId is kept, a client key's only
with the backend's proof (otherwise the call is stored as its device's and the reason counted on
the log line as ``user_ids_unproven``); identify calls are stored as links, or ignored and
counted; an event with both ids stores a link beside it, which the answer does not count.

Through the function served in process on fake sinks, as test_handler.py does, with a server
key and a client key and the backend's two secrets (one being rotated in).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from event_capture.collector.auth import WriteKeys
from event_capture.collector.function import CollectorFunction
from event_capture.collector.handler import Collector
from event_capture.collector.identity import UserIdProofs
from event_capture.ingest.links import link_event_id
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.ingest.row import Row
from event_capture.schemas.identity_link import IdentityLink
from event_capture.schemas.user_proof import user_proof
from tests.fakes.functions import Function, loaded
from tests.unit.collector import calls
from tests.unit.collector.served import KEY, MARKER, Answer, post
from tests.unit.event_factory import RECEIVED_AT, iso

SERVER_KEY = f"wk_{MARKER}_srv_8e2f41c7a9"
CURRENT = "c" * 16 + "0123456789abcdef"
NEXT = "n" * 16 + "fedcba9876543210"
USER = "u_8f14e45f"
VICTIM = "u_victim"
TRAITS = {"email": "jane.doe@example.com", "name": "Jane Doe", "phone": "+44 20 7946 0958"}
CLIENT = {"Authorization": calls.basic(KEY)}
SERVER = {"Authorization": calls.basic(SERVER_KEY)}


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    keys = [
        {"id": "web", "class": "client", "key": KEY},
        {"id": "backend", "class": "server", "key": SERVER_KEY},
    ]

    def collector(pipeline: CapturePipeline) -> CollectorFunction:
        built = Collector(
            pipeline=pipeline,
            write_keys=WriteKeys.parse(json.dumps(keys)),
            clock=lambda: RECEIVED_AT,
            user_id_proofs=UserIdProofs((CURRENT, NEXT)),
        )
        return CollectorFunction(built, read_timeout_seconds=10)

    with loaded(collector) as function:
        yield function


def device() -> str:
    # A device of its own per test: the module's one pipeline remembers the links it stored.
    return f"a_{uuid.uuid4().hex[:12]}"


def proof(user_id: str = USER, secret: str = CURRENT) -> dict[str, Any]:
    return {"Intercom": {"user_hash": user_proof(secret, user_id)}}


def viewed(anonymous_id: str | None, **fields: Any) -> dict[str, Any]:
    call = calls.track("Product Viewed", calls.PRODUCT, anonymousId=anonymous_id, **fields)
    call["properties"].pop("session_id")  # as Segment's SDKs send it
    return call


def identify(anonymous_id: str, **fields: Any) -> dict[str, Any]:
    call = calls.identify(**{"anonymousId": anonymous_id, "traits": TRAITS, **fields})
    call["timestamp"] = iso(RECEIVED_AT)
    return call


def events(function: Function) -> list[Row]:
    return [row for row in function.bigquery.rows if row.table != IdentityLink.TABLE]


def links(function: Function) -> list[Row]:
    return [row for row in function.bigquery.rows if row.table == IdentityLink.TABLE]


def counts(answer: Answer) -> tuple[int, int, int, int]:
    body = answer.body
    return (body["received"], body["accepted"], body["rejected"], body["ignored"])


def test_a_server_keys_user_id_is_kept_without_a_proof(fresh: Function) -> None:
    answer = post(fresh, calls.batch(viewed(None)), SERVER)

    assert counts(answer) == (1, 1, 0, 0)
    [row] = events(fresh)
    assert row.user_id == USER and row.data["user_id"] == USER
    assert "user_ids_unproven" not in answer.line
    assert answer.line["key_class"] == "server"


def test_a_server_keys_user_id_is_kept_even_with_a_wrong_proof(fresh: Function) -> None:
    # The proof is only read for client keys; a server SDK forwarding a page's wrong one is
    # still the backend speaking.
    answer = post(fresh, calls.batch(viewed(None, integrations=proof(VICTIM))), SERVER)

    assert [row.user_id for row in events(fresh)] == [USER]
    assert "user_ids_unproven" not in answer.line


@pytest.mark.parametrize("secret", [CURRENT, NEXT])
def test_a_client_keys_proven_user_id_is_kept(fresh: Function, secret: str) -> None:
    answer = post(fresh, calls.batch(viewed(device(), integrations=proof(secret=secret))), CLIENT)

    assert counts(answer) == (1, 1, 0, 0)
    assert [row.user_id for row in events(fresh)] == [USER]
    assert "user_ids_unproven" not in answer.line


def test_a_forged_user_id_is_stored_as_the_devices_and_counted(fresh: Function) -> None:
    phone = device()
    forged = viewed(phone, userId=VICTIM, integrations=proof(USER))  # the forger's own proof

    answer = post(fresh, calls.batch(forged), CLIENT)

    assert answer.status == 200 and counts(answer) == (1, 1, 0, 0)
    [row] = fresh.bigquery.rows  # no link: the event has one id
    assert "user_id" not in row.data and row.user_id is None
    assert row.data["anonymous_id"] == row.anonymous_id == phone
    assert VICTIM not in row.json
    assert answer.line["user_ids_unproven"] == {"proof_mismatch": 1}
    assert VICTIM not in answer.log


def test_each_reason_is_counted_on_the_log_line(fresh: Function) -> None:
    sent = [
        viewed(device(), userId=VICTIM, integrations={}),  # no proof
        viewed(device(), userId=VICTIM, integrations={"Intercom": True}),  # no proof either
        viewed(device(), userId=VICTIM, integrations=proof(USER)),  # another user's
        viewed(device(), userId=VICTIM, integrations=proof(VICTIM, "o" * 32)),  # wrong secret
        viewed(device(), userId=VICTIM, integrations={"Intercom": {"user_hash": "xyz"}}),
        viewed(device(), userId=42),  # not a string
        viewed(device(), integrations=proof()),  # proven: not counted
        viewed(device(), userId=None),  # no user id: nothing to prove
    ]

    answer = post(fresh, calls.batch(*sent), CLIENT)

    assert counts(answer) == (8, 8, 0, 0)
    assert answer.line["user_ids_unproven"] == {
        "proof_missing": 2,
        "proof_mismatch": 2,
        "proof_malformed": 2,
    }
    assert [row.user_id for row in events(fresh)] == [None] * 6 + [USER, None]


def test_without_secrets_a_client_keys_user_id_is_dropped_as_no_secret_configured() -> None:
    def collector(pipeline: CapturePipeline) -> CollectorFunction:
        built = Collector(
            pipeline=pipeline, write_keys=WriteKeys.parse(KEY), clock=lambda: RECEIVED_AT
        )
        return CollectorFunction(built, read_timeout_seconds=10)

    with loaded(collector) as function:
        answer = post(function, calls.batch(viewed(device(), integrations=proof())), CLIENT)

        assert [row.user_id for row in function.bigquery.rows] == [None]
    assert answer.line["user_ids_unproven"] == {"no_secret_configured": 1}


def test_an_unproven_user_id_without_an_anonymous_id_is_rejected_naming_anonymous_id(
    fresh: Function,
) -> None:
    answer = post(fresh, calls.batch(viewed(None, userId=VICTIM, integrations={})), CLIENT)

    assert answer.status == 200 and counts(answer) == (1, 0, 1, 0)
    assert answer.body["rejections"] == [
        {
            "index": 0,
            "errors": [
                {
                    "field": "batch[0].anonymousId",
                    "rule": "user_or_device_missing",
                    # Says why: a sender that did send a userId learns it did not count.
                    "message": "is required when there is no valid user_id",
                }
            ],
        }
    ]
    assert answer.line["user_ids_unproven"] == {"proof_missing": 1}
    assert answer.line["rejected_rules"] == {"user_or_device_missing": 1}
    assert fresh.bigquery.rows == []


def test_a_user_id_no_backend_could_prove_is_dropped_not_a_500(fresh: Function) -> None:
    # JSON's "\ud800" is a lone surrogate once parsed; before the fix the proof check raised.
    call = viewed(device(), userId="u_\ud800", integrations={"Intercom": {"user_hash": "0" * 64}})

    answer = post(fresh, calls.batch(call), CLIENT)

    assert answer.status == 200 and counts(answer) == (1, 1, 0, 0)
    assert [row.user_id for row in events(fresh)] == [None]
    assert answer.line["user_ids_unproven"] == {"proof_mismatch": 1}


# --- identify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "integrations"),
    [(SERVER, {}), (CLIENT, proof()), (CLIENT, proof(secret=NEXT))],
    ids=["server", "client-current", "client-next"],
)
def test_a_trusted_identify_is_stored_as_a_link_without_traits(
    fresh: Function, headers: dict[str, str], integrations: dict[str, Any]
) -> None:
    phone = device()
    call = identify(phone, integrations=integrations)

    answer = post(fresh, calls.batch(call), headers)

    assert counts(answer) == (1, 1, 0, 0)
    # The identify row itself, and no second link made from it.
    [row] = fresh.bigquery.rows
    assert (row.table, row.event_type, row.user_id, row.anonymous_id) == (
        IdentityLink.TABLE,
        "identify",
        USER,
        phone,
    )
    for value in [*TRAITS.values(), "203.0.113.7", "Mozilla"]:
        assert value not in row.json
        assert value not in answer.log
    assert "user_ids_unproven" not in answer.line


@pytest.mark.parametrize(
    ("integrations", "reason"),
    [
        ({}, "proof_missing"),
        (proof(VICTIM, "o" * 32), "proof_mismatch"),
        ({"Intercom": {"user_hash": ["x"]}}, "proof_malformed"),
    ],
)
def test_an_unproven_identify_is_ignored_and_counted(
    fresh: Function, integrations: dict[str, Any], reason: str
) -> None:
    answer = post(fresh, calls.batch(identify(device(), userId=VICTIM, integrations=integrations)))

    assert answer.status == 200 and counts(answer) == (1, 0, 0, 1)
    assert answer.line["ignored_by_call"] == {"identify": 1}
    assert answer.line["user_ids_unproven"] == {reason: 1}
    assert fresh.bigquery.rows == []


# --- links made by events ----------------------------------------------------------------------


def test_an_event_with_both_ids_stores_a_link_the_answer_does_not_count(fresh: Function) -> None:
    phone = device()
    call = viewed(phone, integrations=proof())

    answer = post(fresh, calls.batch(call, viewed(phone, integrations=proof())), CLIENT)

    assert counts(answer) == (2, 2, 0, 0)
    assert answer.line["events_accepted"] == 2
    [link] = links(fresh)
    assert (link.user_id, link.anonymous_id) == (USER, phone)
    assert link.event_id == link_event_id(phone, USER, RECEIVED_AT.date())
    assert len(events(fresh)) == 2


def test_a_forged_event_makes_no_link(fresh: Function) -> None:
    post(fresh, calls.batch(viewed(device(), userId=VICTIM, integrations=proof(USER))), CLIENT)

    assert links(fresh) == []
