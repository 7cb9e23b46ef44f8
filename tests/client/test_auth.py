"""ID tokens: fetched once, renewed five minutes before expiry or after a refusal."""

from datetime import UTC, datetime, timedelta

import pytest

from event_capture.client.auth import GoogleIdTokens
from tests.fakes.id_tokens import FakeIdTokenCredentials

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> FakeIdTokenCredentials:
    return FakeIdTokenCredentials(clock=lambda: NOW).install(monkeypatch)


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
    assert credentials.audiences == ["https://capture-abc-uc.a.run.app"]


def test_invalidate_forces_a_new_token(credentials: FakeIdTokenCredentials) -> None:
    tokens = GoogleIdTokens("https://capture-abc-uc.a.run.app", clock=lambda: NOW)
    tokens()
    tokens.invalidate()

    assert tokens() == "id-token-2"
