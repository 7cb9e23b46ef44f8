"""collector.identity: whether a client key's call proves its userId, and if not, the one reason
counted on the log line (no secret, no proof, a malformed one, one that does not match)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.collector.identity import TRUSTED, Unproven, UserIdProofs
from event_capture.schemas.user_proof import user_proof

CURRENT = "c" * 16 + "0123456789abcdef"
NEXT = "n" * 16 + "fedcba9876543210"
OTHER = "o" * 32
USER = "u_8f14e45f"
PROOFS = UserIdProofs((CURRENT, NEXT))


def call(proof: Any = None, *, user_id: str = USER, **integrations: Any) -> dict[str, Any]:
    """A call as an SDK sends it; ``proof`` in Intercom's user_hash unless None."""
    if proof is not None:
        integrations.setdefault("Intercom", {"user_hash": proof})
    return {"type": "track", "userId": user_id, "integrations": integrations}


@pytest.mark.parametrize("secret", [CURRENT, NEXT])
def test_a_proof_under_either_secret_is_accepted(secret: str) -> None:
    assert PROOFS.verdict(call(user_proof(secret, USER)), USER) is None


def test_upper_case_hex_is_accepted() -> None:
    # The backend documents lower case, but hex is hex: a backend that upper-cases is not
    # forging anything (the comparison stays exact after lower-casing).
    assert PROOFS.verdict(call(user_proof(CURRENT, USER).upper()), USER) is None


def test_a_proof_among_other_integrations_is_found() -> None:
    sent = call(user_proof(CURRENT, USER))
    sent["integrations"] = {"Segment.io": True, "All": False, **sent["integrations"]}
    assert PROOFS.verdict(sent, USER) is None


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        (user_proof(OTHER, USER), Unproven.MISMATCH),  # a secret the backend does not hold
        (user_proof(CURRENT, "u_victim"), Unproven.MISMATCH),  # another user's proof
        ("0" * 64, Unproven.MISMATCH),
        ("g" * 64, Unproven.MALFORMED),  # not hex
        ("z" + user_proof(CURRENT, USER)[1:], Unproven.MALFORMED),
        (user_proof(CURRENT, USER)[:63], Unproven.MALFORMED),  # too short
        (user_proof(CURRENT, USER) + "0", Unproven.MALFORMED),  # too long
        (" " + user_proof(CURRENT, USER), Unproven.MALFORMED),
        (user_proof(CURRENT, USER) + "\n", Unproven.MALFORMED),
        ("", Unproven.MALFORMED),
        (12345, Unproven.MALFORMED),  # not a string
        (True, Unproven.MALFORMED),
        ([user_proof(CURRENT, USER)], Unproven.MALFORMED),
        ({"hash": user_proof(CURRENT, USER)}, Unproven.MALFORMED),
        ("é" * 64, Unproven.MALFORMED),
        ("٠" * 64, Unproven.MALFORMED),  # Arabic-Indic zeros: digits to \d, not hex
    ],
)
def test_each_bad_proof_has_its_reason(proof: Any, reason: Unproven) -> None:
    assert PROOFS.verdict(call(proof), USER) is reason


@pytest.mark.parametrize(
    "integrations",
    [
        {},
        {"Intercom": True},  # Segment's way of switching a destination on: no proof in it
        {"Intercom": {}},
        {"Intercom": {"user_hash": None}},
        {"intercom": {"user_hash": "0" * 64}},  # the names are case-sensitive, as Segment's
        {"Intercom": {"userHash": "0" * 64}},
    ],
)
def test_a_call_without_the_proof_is_proof_missing(integrations: dict[str, Any]) -> None:
    assert PROOFS.verdict({"userId": USER, "integrations": integrations}, USER) is Unproven.MISSING


@pytest.mark.parametrize("integrations", [None, "Intercom", ["Intercom"], 7])
def test_integrations_that_are_not_an_object_are_proof_missing(integrations: Any) -> None:
    assert PROOFS.verdict({"userId": USER, "integrations": integrations}, USER) is Unproven.MISSING
    assert PROOFS.verdict({"userId": USER}, USER) is Unproven.MISSING


def test_without_secrets_no_user_id_is_kept_even_with_a_proof() -> None:
    assert UserIdProofs().verdict(call(user_proof(CURRENT, USER)), USER) is Unproven.NO_SECRET


def test_a_user_id_no_backend_could_prove_is_a_mismatch() -> None:
    # A lone surrogate, as json.loads makes of "\ud800"; it raised before the fix.
    assert PROOFS.verdict(call("0" * 64, user_id="u_\ud800"), "u_\ud800") is Unproven.MISMATCH


def test_the_reasons_are_the_log_lines_names() -> None:
    # The log-based metric and the docs count by these strings.
    assert {reason.value for reason in Unproven} == {
        "no_secret_configured",
        "proof_missing",
        "proof_malformed",
        "proof_mismatch",
    }
    assert TRUSTED is None


hex_text = st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)


@given(user_id=st.text(min_size=1, max_size=40), proof=hex_text)
def test_a_well_formed_proof_is_accepted_only_if_it_is_the_user_ids(
    user_id: str, proof: str
) -> None:
    verdict = PROOFS.verdict(call(proof, user_id=user_id), user_id)
    own = {user_proof(CURRENT, user_id), user_proof(NEXT, user_id)}
    assert verdict is (None if proof.lower() in own else Unproven.MISMATCH)


@given(user_id=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_one_users_proof_never_proves_another(user_id: str, other: str) -> None:
    verdict = PROOFS.verdict(call(user_proof(CURRENT, other), user_id=user_id), user_id)
    assert verdict is (None if other == user_id else Unproven.MISMATCH)


@given(proof=st.text(max_size=70))
def test_no_other_text_passes_for_a_proof(proof: str) -> None:
    # Lower-casing happens before the match: no character outside ASCII may lower-case into it.
    own = {user_proof(CURRENT, USER), user_proof(NEXT, USER)}
    accepted = PROOFS.verdict(call(proof), USER) is None
    assert accepted == (proof.isascii() and proof.lower() in own)
