"""The capture path's calls to Google APIs (insertAll, object uploads), over libcurl (pycurl).

Per request the capture function makes one insertAll call per table and one archive upload.
Through urllib3 and http.client each call cost about 0.6 ms of CPU here (building the request
in Python, parsing the answer's headers with the email package); libcurl does both in C, for
about 0.2 ms. Credentials stay google-auth's: ``before_request`` adds the token and refreshes it
as ``AuthorizedHttp`` would, and a 401 refreshes once and sends again, as it does.

Each thread keeps its own curl handle (a handle is not thread-safe) and with it a kept-alive
connection. Network failures raise builtin ``ConnectionError``/``TimeoutError`` subclasses, so
the retry rules (``retry.is_transient``, ``retry.is_transient_storage``) read them as before; a
call set up wrong (its URL) raises ``CurlSetupError``, which neither retries.
"""

import threading
from typing import Any

import certifi
import pycurl

from event_capture.platform.api_transport import ApiResponse

# libcurl's codes for a certificate or TLS setup problem: retrying does not fix them. Not 35
# (E_SSL_CONNECT_ERROR): libcurl reports any failure during the handshake with it, a reset
# connection included, which the libraries' transports raise as a retryable connection error.
_TLS_CODES = frozenset(
    {
        pycurl.E_PEER_FAILED_VERIFICATION,
        pycurl.E_SSL_CERTPROBLEM,
        pycurl.E_SSL_CIPHER,
        pycurl.E_SSL_CACERT_BADFILE,
        pycurl.E_SSL_ENGINE_NOTFOUND,
        pycurl.E_SSL_ENGINE_SETFAILED,
    }
)
# A call this process set up wrong (an emulator host like "htp://..."): no wait mends it.
_SETUP_CODES = frozenset(
    {
        pycurl.E_UNSUPPORTED_PROTOCOL,
        pycurl.E_URL_MALFORMAT,
        pycurl.E_BAD_FUNCTION_ARGUMENT,
        pycurl.E_OUT_OF_MEMORY,
    }
)
UNAUTHORIZED = 401


class CurlConnectionError(ConnectionError):
    """The call did not get an answer: connection refused or reset, name not resolved."""


class CurlTimeoutError(TimeoutError):
    """No whole answer within the call's timeout."""


class CurlSetupError(Exception):
    """The call could not be made as set up (its URL, its options); never retried."""


class SSLError(ConnectionError):
    """A certificate or TLS setup problem (its name is what ``retry.is_transient`` reads)."""


def _raised(error: pycurl.error) -> Exception:
    code, message = error.args if len(error.args) == 2 else (0, str(error))
    text = f"curl {code}: {message}"
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return CurlTimeoutError(text)
    if code in _TLS_CODES:
        return SSLError(text)
    if code in _SETUP_CODES:
        return CurlSetupError(text)
    return CurlConnectionError(text)


class CurlHttp:
    """POSTs to one API host (``base_url``) with google-auth ``credentials``.

    ``token_request`` is the google-auth transport request used only to refresh the token
    (the metadata server on Cloud Run); the API calls themselves go through libcurl.
    """

    def __init__(self, base_url: str, credentials: Any, token_request: Any) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._token_request = token_request
        self._local = threading.local()

    def _handle(self) -> pycurl.Curl:
        handle: pycurl.Curl | None = getattr(self._local, "handle", None)
        if handle is None:
            handle = pycurl.Curl()
            # Timeouts by signal would be process-wide; with several threads they must not be.
            handle.setopt(pycurl.NOSIGNAL, 1)
            # Cloud Run sets no proxy; the environment must not route API calls elsewhere.
            handle.setopt(pycurl.NOPROXY, "*")
            # The wheel's libcurl looks for a CA bundle at its build machine's path.
            handle.setopt(pycurl.CAINFO, certifi.where())
            handle.setopt(pycurl.POST, 1)
            # HTTP/1.1, as the emulators speak and the tests prove; libcurl would otherwise
            # negotiate HTTP/2 with Google's hosts, a path no test here takes.
            handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
            self._local.handle = handle
        return handle

    def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> ApiResponse:
        """POST ``body`` to ``path``; sent again here only after a 401.

        A 401 means the token was refused before anything was done, so sending again is safe.
        libcurl itself may send a request again, unasked: when a kept-alive connection closes
        after the request went out and before any byte of the answer. The answer is then the
        second request's; a create-only upload whose first copy landed answers 412, which
        ``NdjsonWriter`` checks against the object's bytes.
        """
        url = self._base_url + path
        answer = self._perform(url, body, headers, timeout)
        if answer.status == UNAUTHORIZED:
            self._credentials.refresh(self._token_request)
            answer = self._perform(url, body, headers, timeout)
        return answer

    def _perform(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> ApiResponse:
        headers = dict(headers)  # the token goes on a copy: callers share their headers
        self._credentials.before_request(self._token_request, "POST", url, headers)
        handle = self._handle()
        chunks: list[bytes] = []
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.POSTFIELDSIZE, len(body))
        handle.setopt(pycurl.POSTFIELDS, body)
        # "Expect:" off: libcurl would otherwise wait up to a second for a 100 Continue
        # before sending a large body.
        handle.setopt(
            pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in headers.items()] + ["Expect:"]
        )
        handle.setopt(pycurl.WRITEFUNCTION, chunks.append)
        milliseconds = max(1, int(timeout * 1000))
        handle.setopt(pycurl.TIMEOUT_MS, milliseconds)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, milliseconds)
        try:
            handle.perform()
        except pycurl.error as error:
            raise _raised(error) from None
        return ApiResponse(int(handle.getinfo(pycurl.RESPONSE_CODE)), b"".join(chunks))
