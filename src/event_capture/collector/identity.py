"""Whose call it is: the user id a call from a public write key carries is kept only with the
backend's proof (``schemas.user_proof``); otherwise the call is kept as its device's, under its
anonymous id, and the reason is counted. Server keys are held by the app's backend and trusted.
"""

import enum
import re
from dataclasses import dataclass
from typing import Any

from event_capture.schemas import user_proof

_HEX_PROOF = re.compile(r"[0-9a-f]{64}")


class Unproven(enum.StrEnum):
    """Why a call's user id was not kept (the log line's ``user_ids_unproven``)."""

    NO_SECRET = "no_secret_configured"  # noqa: S105 - a reason, not a secret
    MISSING = "proof_missing"
    MALFORMED = "proof_malformed"
    MISMATCH = "proof_mismatch"


@dataclass(frozen=True, slots=True)
class UserIdProofs:
    """The backend's secrets (two while rotating); none: no user id from a client key is kept."""

    secrets: tuple[str, ...] = ()

    def verdict(self, call: dict[str, Any], user_id: str) -> Unproven | None:
        """None when the Segment call proves ``user_id``; otherwise why not."""
        integrations = call.get("integrations")
        options = (
            integrations.get(user_proof.INTEGRATION) if isinstance(integrations, dict) else None
        )
        proof = options.get(user_proof.FIELD) if isinstance(options, dict) else None
        return self.check(proof, user_id)

    def check(self, proof: Any, user_id: str) -> Unproven | None:
        """None when ``proof`` (as sent, any JSON value) proves ``user_id``; otherwise why not."""
        if not self.secrets:
            return Unproven.NO_SECRET
        if proof is None:
            return Unproven.MISSING
        if type(proof) is not str or not _HEX_PROOF.fullmatch(proof.lower()):
            return Unproven.MALFORMED
        if not user_proof.proof_matches(self.secrets, user_id, proof.lower()):
            return Unproven.MISMATCH
        return None


TRUSTED: UserIdProofs | None = None
"""A server key's calls: their user ids are kept as sent."""
