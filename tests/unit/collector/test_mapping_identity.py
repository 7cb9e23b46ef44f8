"""collector.mapping, the ids: a trusted sender's (server key) userId is kept as sent, a client
key's only with the backend's proof; anonymousId is always kept; identify becomes a link of the
two ids and nothing else; the session is optional."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.collector.identity import TRUSTED, Unproven, UserIdProofs
from event_capture.collector.mapping import Ignored, Mapped, map_call, segment_field
from event_capture.ingest.validation import validate_events
from event_capture.schemas.identity_link import IdentityLink
from event_capture.schemas.user_proof import user_proof
from tests.unit.collector import calls
from tests.unit.event_factory import RECEIVED_AT, iso

R = RECEIVED_AT
CURRENT = "c" * 16 + "0123456789abcdef"
NEXT = "n" * 16 + "fedcba9876543210"
PROOFS = UserIdProofs((CURRENT, NEXT))
USER = "u_8f14e45f"
DEVICE = "a_3b1f9c2e"
TRAITS = {"email": "jane.doe@example.com", "name": "Jane Doe", "phone": "+44 20 7946 0958"}


def proven(secret: str = CURRENT, user_id: str = USER) -> dict[str, Any]:
    return {"Intercom": {"user_hash": user_proof(secret, user_id)}}


def viewed(**fields: Any) -> dict[str, Any]:
    return calls.track("Product Viewed", calls.PRODUCT, **{"anonymousId": DEVICE, **fields})


def identify(**fields: Any) -> dict[str, Any]:
    call = calls.identify(**{"anonymousId": DEVICE, "traits": TRAITS, **fields})
    call["timestamp"] = iso(R)
    return call


def outcome(call: dict[str, Any], proofs: UserIdProofs | None) -> Mapped | Ignored:
    result = map_call(call, sent_at=iso(R), received_at=R, proofs=proofs)
    assert isinstance(result, Mapped | Ignored), result
    return result


def mapped(call: dict[str, Any], proofs: UserIdProofs | None) -> Mapped:
    result = outcome(call, proofs)
    assert isinstance(result, Mapped), result
    return result


def stored(event: dict[str, Any]) -> dict[str, Any]:
    rows, rejections = validate_events([event], R, batch=False)
    assert rejections == [], rejections
    return rows[0].data


# --- track -----------------------------------------------------------------------------------


def test_a_server_keys_user_id_is_kept_without_a_proof() -> None:
    result = mapped(viewed(), TRUSTED)

    assert (result.event["user_id"], result.event["anonymous_id"]) == (USER, DEVICE)
    assert result.unproven is None


@pytest.mark.parametrize("secret", [CURRENT, NEXT])
def test_a_client_keys_user_id_is_kept_with_a_proof_under_either_secret(secret: str) -> None:
    result = mapped(viewed(integrations=proven(secret)), PROOFS)

    assert (result.event["user_id"], result.event["anonymous_id"]) == (USER, DEVICE)
    assert result.unproven is None
    assert (stored(result.event)["user_id"], stored(result.event)["anonymous_id"]) == (USER, DEVICE)


@pytest.mark.parametrize(
    ("integrations", "proofs", "reason"),
    [
        ({}, PROOFS, Unproven.MISSING),
        (proven(), PROOFS, Unproven.MISMATCH),  # the forger's own valid proof, for USER
        (proven("o" * 32, "u_victim"), PROOFS, Unproven.MISMATCH),
        ({"Intercom": {"user_hash": "not hex"}}, PROOFS, Unproven.MALFORMED),
        (proven(), UserIdProofs(), Unproven.NO_SECRET),
    ],
)
def test_a_forged_user_id_is_dropped_and_the_call_kept_as_its_devices(
    integrations: dict[str, Any], proofs: UserIdProofs, reason: Unproven
) -> None:
    result = mapped(viewed(userId="u_victim", integrations=integrations), proofs)

    assert "user_id" not in result.event
    assert result.event["anonymous_id"] == DEVICE
    assert result.unproven is reason
    row = stored(result.event)
    assert row.get("user_id") is None and row["anonymous_id"] == DEVICE
    assert "u_victim" not in json.dumps(row)


@pytest.mark.parametrize("user_id", [42, ["u_victim"], {"id": "u_victim"}, True])
def test_a_client_keys_user_id_that_is_not_a_string_is_malformed_and_dropped(user_id: Any) -> None:
    result = mapped(viewed(userId=user_id, integrations=proven()), PROOFS)

    assert "user_id" not in result.event
    assert result.unproven is Unproven.MALFORMED


def test_a_call_without_a_user_id_is_not_counted_as_unproven() -> None:
    result = mapped(viewed(userId=None), PROOFS)

    assert "user_id" not in result.event and result.event["anonymous_id"] == DEVICE
    assert result.unproven is None


def test_a_user_id_no_backend_could_prove_is_dropped_not_raised() -> None:
    call = viewed(userId="u_\ud800", integrations={"Intercom": {"user_hash": "0" * 64}})
    result = mapped(call, PROOFS)

    assert "user_id" not in result.event and result.unproven is Unproven.MISMATCH


def test_an_unproven_user_id_without_an_anonymous_id_is_rejected_naming_anonymous_id() -> None:
    result = mapped(viewed(userId="u_victim", anonymousId=None), PROOFS)

    assert "user_id" not in result.event and "anonymous_id" not in result.event
    _, [rejection] = validate_events([result.event], R, batch=False)
    [error] = rejection.errors
    assert (error.field, error.rule) == ("anonymous_id", "user_or_device_missing")
    assert segment_field(result, error.field) == "anonymousId"


def test_the_session_is_optional() -> None:
    call = viewed(userId=None)
    call["properties"].pop("session_id")

    result = mapped(call, PROOFS)

    assert "session_id" not in result.event
    assert stored(result.event).get("session_id") is None


@given(user_id=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_user_id_is_kept_only_with_its_own_proof(user_id: str, other: str) -> None:
    result = mapped(viewed(userId=user_id, integrations=proven(user_id=other)), PROOFS)

    assert result.event.get("user_id") == (user_id if user_id == other else None)
    assert result.event["anonymous_id"] == DEVICE


# --- identify --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proofs", "integrations"),
    [(TRUSTED, {}), (PROOFS, proven()), (PROOFS, proven(NEXT))],
    ids=["server", "client-current", "client-next"],
)
def test_a_trusted_identify_is_a_link_of_the_two_ids_only(
    proofs: UserIdProofs | None, integrations: dict[str, Any]
) -> None:
    result = mapped(identify(integrations=integrations), proofs)

    assert result.event["event_type"] == "identify"
    assert (result.event["user_id"], result.event["anonymous_id"]) == (USER, DEVICE)
    assert set(result.event) == {
        "event_id",
        "event_type",
        "occurred_at",
        "user_id",
        "anonymous_id",
        "source",
    }
    rows, rejections = validate_events([result.event], R, batch=False)
    assert rejections == []
    assert rows[0].table == IdentityLink.TABLE


def test_identify_traits_never_reach_the_event() -> None:
    call = identify(
        traits={**TRAITS, "user_id": "u_other", "anonymous_id": "a_other", "session_id": "s"},
        context={"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 Jane", "traits": TRAITS},
    )

    result = mapped(call, TRUSTED)

    text = json.dumps(stored(result.event))
    for value in [*TRAITS.values(), "u_other", "a_other", "203.0.113.7", "Mozilla"]:
        assert value not in text
    assert (result.event["user_id"], result.event["anonymous_id"]) == (USER, DEVICE)


@pytest.mark.parametrize(
    ("integrations", "proofs", "reason"),
    [
        ({}, PROOFS, Unproven.MISSING),
        (proven(user_id="u_victim"), PROOFS, Unproven.MISMATCH),
        ({"Intercom": {"user_hash": 7}}, PROOFS, Unproven.MALFORMED),
        (proven(), UserIdProofs(), Unproven.NO_SECRET),
    ],
)
def test_an_unproven_identify_links_nothing_and_says_why(
    integrations: dict[str, Any], proofs: UserIdProofs, reason: Unproven
) -> None:
    result = outcome(identify(integrations=integrations), proofs)

    assert result == Ignored("identify", unproven=reason)


@pytest.mark.parametrize("missing", ["userId", "anonymousId"])
@pytest.mark.parametrize("proofs", [TRUSTED, PROOFS], ids=["server", "client"])
def test_an_identify_without_both_ids_links_nothing(
    missing: str, proofs: UserIdProofs | None
) -> None:
    call = identify(integrations=proven())
    call[missing] = None

    assert outcome(call, proofs) == Ignored("identify")
