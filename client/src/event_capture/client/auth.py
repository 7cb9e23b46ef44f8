"""Google ID tokens for calling an IAM-protected function, refreshed before they expire."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

TokenProvider = Callable[[], str | None]

# ID tokens live an hour; refreshing five minutes early keeps a slow request from carrying
# one that expires on the way.
REFRESH_MARGIN = timedelta(minutes=5)


class GoogleIdTokens:
    """ID tokens for ``audience`` (the function URL) from application default credentials.

    On Google Cloud they come from the metadata server for the attached service account; with
    a service-account impersonation config they come from the IAM credentials API. Needs the
    ``gcp`` extra (google-auth).
    """

    def __init__(self, audience: str, clock: Callable[[], datetime] | None = None) -> None:
        import google.auth.transport.requests
        import google.oauth2.id_token

        self._request: Any = google.auth.transport.requests.Request()
        self._credentials: Any = google.oauth2.id_token.fetch_id_token_credentials(  # type: ignore[no-untyped-call]
            audience, request=self._request
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._needs_refresh():
                self._credentials.refresh(self._request)
            return str(self._credentials.token)

    def invalidate(self) -> None:
        """Forget the token: the function refused it (401), so the next call fetches anew."""
        with self._lock:
            self._credentials.token = None

    def _needs_refresh(self) -> bool:
        expiry = self._credentials.expiry
        if self._credentials.token is None or expiry is None:
            return True
        # google-auth keeps expiry as a naive UTC datetime.
        expiry = expiry.replace(tzinfo=UTC) if expiry.tzinfo is None else expiry
        return bool(self._clock() >= expiry - REFRESH_MARGIN)


def no_token() -> str | None:
    """The local cloud has no authentication."""
    return None
