"""A stand-in for google-auth's ID token credentials, as ``client.auth.GoogleIdTokens`` fetches
them for its audience and refreshes them.

Each refresh is counted and gives the next token, ``id-token-<n>``, valid for an hour from the
fake's clock. ``install`` puts the fake where google-auth's ``fetch_id_token_credentials`` would
fetch credentials from, and records each audience asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakeIdTokenCredentials:
    clock: Callable[[], datetime] = _now
    token: str | None = None
    expiry: datetime | None = None
    refreshes: int = 0
    audiences: list[str] = field(default_factory=list)

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"id-token-{self.refreshes}"
        # google-auth stores a naive UTC expiry, an hour ahead.
        self.expiry = (self.clock() + timedelta(hours=1)).replace(tzinfo=None)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeIdTokenCredentials:
        import google.oauth2.id_token

        def fetch(audience: str, request: Any = None) -> FakeIdTokenCredentials:
            self.audiences.append(audience)
            return self

        monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token_credentials", fetch)
        return self
