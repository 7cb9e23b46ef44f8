"""schemas.user_proof: the backend's proof of a user id (lower-case hex HMAC-SHA256 under a
secret only it holds) and the collector's check of it, under either of two secrets while one is
rotated. The expected proofs are computed here with hmac itself, not with ``user_proof``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_capture.schemas.user_proof import (
    FIELD,
    INTEGRATION,
    MIN_SECRET_LENGTH,
    PATH,
    proof_matches,
    user_proof,
)

CURRENT = "c" * 16 + "0123456789abcdef"
NEXT = "n" * 16 + "fedcba9876543210"
USER = "u_8f14e45f"

# Printable, as an environment variable holds them (HMAC pads a short key with NULs, so "k" and
# "k\0" are one key: not a case a configured secret can be).
secrets = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=MIN_SECRET_LENGTH)
user_ids = st.text(min_size=1, max_size=64)


def expected(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_the_proof_is_lower_case_hex_hmac_sha256_of_the_user_id() -> None:
    proof = user_proof(CURRENT, USER)

    assert proof == expected(CURRENT, USER)
    assert len(proof) == 64 and proof == proof.lower()
    # A known answer, so that a change of digest or of encoding cannot hide behind `expected`.
    key = "key" * 11
    assert user_proof(key, "u_1") == hmac.new(b"key" * 11, b"u_1", "sha256").hexdigest()


def test_the_documented_path_is_intercoms_user_hash() -> None:
    assert (INTEGRATION, FIELD, PATH) == (
        "Intercom",
        "user_hash",
        "integrations.Intercom.user_hash",
    )


@pytest.mark.parametrize("signed_with", [CURRENT, NEXT])
def test_a_proof_under_either_secret_matches_while_rotating(signed_with: str) -> None:
    assert proof_matches((CURRENT, NEXT), USER, user_proof(signed_with, USER))


def test_a_proof_under_a_retired_secret_no_longer_matches() -> None:
    assert not proof_matches((NEXT,), USER, user_proof(CURRENT, USER))


def test_without_secrets_nothing_matches() -> None:
    assert not proof_matches((), USER, user_proof(CURRENT, USER))


def test_another_users_proof_does_not_match() -> None:
    assert not proof_matches((CURRENT,), USER, user_proof(CURRENT, "u_victim"))


def test_a_proof_compares_exactly_not_by_prefix_or_case() -> None:
    proof = user_proof(CURRENT, USER)

    assert not proof_matches((CURRENT,), USER, proof[:-1])
    assert not proof_matches((CURRENT,), USER, proof + "0")
    # proof_matches itself is exact; the collector lower-cases first (collector/identity.py).
    assert not proof_matches((CURRENT,), USER, proof.upper())
    assert not proof_matches((CURRENT,), USER, "")


def test_every_secret_is_compared_even_after_a_match() -> None:
    # Constant time over the secrets: stopping at the first match would tell a timing observer
    # which secret signed. Counted on an iterable that records how far it was read.
    read: list[str] = []

    def recorded() -> Iterator[str]:
        for secret in (CURRENT, NEXT):
            read.append(secret)
            yield secret

    assert proof_matches(recorded(), USER, user_proof(CURRENT, USER))
    assert read == [CURRENT, NEXT]


def test_a_proof_that_is_not_ascii_is_a_mismatch_not_an_error() -> None:
    assert not proof_matches((CURRENT,), USER, "é" * 64)


def test_a_user_id_that_is_not_encodable_is_a_mismatch_not_an_error() -> None:
    # JSON's "\ud800" parses to a lone surrogate, which UTF-8 cannot encode: no backend can have
    # proven it, and a public caller must not be able to make the check raise (a 500 for the
    # whole batch, which the SDKs would resend for ever).
    assert not proof_matches((CURRENT,), "u_\ud800", "0" * 64)


@given(secret=secrets, user_id=user_ids)
def test_a_proof_matches_its_own_user_id(secret: str, user_id: str) -> None:
    assert proof_matches((secret,), user_id, user_proof(secret, user_id))


@given(secret=secrets, user_id=user_ids, other=user_ids)
def test_a_proof_matches_only_the_exact_user_id(secret: str, user_id: str, other: str) -> None:
    assert proof_matches((secret,), other, user_proof(secret, user_id)) == (other == user_id)


@given(secret=secrets, other_secret=secrets, user_id=user_ids)
def test_a_proof_matches_only_under_the_secret_that_made_it(
    secret: str, other_secret: str, user_id: str
) -> None:
    proof = user_proof(other_secret, user_id)
    assert proof_matches((secret,), user_id, proof) == (secret == other_secret)
    assert proof_matches((secret, other_secret), user_id, proof)
