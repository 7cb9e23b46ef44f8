"""ID tokens: fetched once, renewed five minutes before expiry or after a refusal."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_capture.client.auth import GoogleIdTokens

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class FakeIdTokenCredentials:
    """Stands in for google-auth's ID token credentials: counts refreshes, sets expiry."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"id-token-{self.refreshes}"
        # google-auth stores a naive UTC expiry, an hour ahead.
        self.expiry = (NOW + timedelta(hours=1)).replace(tzinfo=None)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> FakeIdTokenCredentials:
    import google.oauth2.id_token

    fake = FakeIdTokenCredentials()
    audiences: list[str] = []

    def fetch(audience: str, request: Any = None) -> FakeIdTokenCredentials:
        audiences.append(audience)
        return fake

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token_credentials", fetch)
    fake.audiences = audiences  # type: ignore[attr-defined]
    return fake


def test_a_token_is_reused_until_five_minutes_before_expiry(
    credentials: FakeIdTokenCredentials,
) -> None:
    now = [NOW]
    tokens = GoogleIdTokens("https://capture-abc-uc.a.run.app", clock=lambda: now[0])

    assert tokens() == "id-token-1"
    now[0] = NOW + timedelta(minutes=54)
    assert tokens() == "id-token-1"
    now[0] = NOW + timedelta(minutes=55)
    assert tokens() == "id-token-2"
    assert credentials.refreshes == 2
    assert credentials.audiences == ["https://capture-abc-uc.a.run.app"]  # type: ignore[attr-defined]


def test_invalidate_forces_a_new_token(credentials: FakeIdTokenCredentials) -> None:
    tokens = GoogleIdTokens("https://capture-abc-uc.a.run.app", clock=lambda: NOW)
    tokens()
    tokens.invalidate()

    assert tokens() == "id-token-2"
