"""The features client's transport against the scripted features-function stand-in on
loopback: paths under the base URL's, the environment's proxy, keep-alive reuse and its limits,
and TLS cut at the deadline like plain http. The features client's own tests
(``test_features.py``) hold it to the same behaviour through its public API."""

import json
import ssl
import time

import pytest

from event_capture.client.deadline_http import DeadlineHttp, Response
from event_capture.client.features import DEFAULT_TIMEOUT_SECONDS
from tests.client.stub_features import MARGIN_SECONDS, Reply, StubFeatures, stub_features

# Room for the functional tests on a loaded machine; the timing test uses the client's default.
PATIENT = 5.0
ACCEPT = {"Accept": "application/json"}


def get(http: DeadlineHttp, path: str, seconds: float = PATIENT) -> Response:
    return http.get(path, ACCEPT, deadline=time.monotonic() + seconds, max_bytes=1024 * 1024)


def answered_for(response: Response, user_id: str) -> bool:
    """A 200 with the stand-in's answer for ``user_id``."""
    body = json.loads(response.body or b"{}")
    return response.status == 200 and body.get("user_id") == user_id


def test_a_path_in_the_base_url_prefixes_the_routes(stub: StubFeatures) -> None:
    http = DeadlineHttp(f"{stub.url}/features/")
    assert answered_for(get(http, "/v1/users/u_1/features"), "u_1")
    http.close()

    assert stub.paths == ["/features/v1/users/u_1/features"]


def test_plain_http_goes_through_the_environments_proxy(
    stub: StubFeatures, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in plays the proxy: it sees the absolute URL a proxy forwards.
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://app:s3cret@{stub.url.removeprefix('http://')}")
    http = DeadlineHttp("http://features.internal:8081")
    assert answered_for(get(http, "/v1/users/u_1/features"), "u_1")
    http.close()

    assert stub.targets == ["http://features.internal:8081/v1/users/u_1/features"]
    assert stub.headers[0]["Host"] == "features.internal:8081"
    assert stub.headers[0]["Proxy-Authorization"].startswith("Basic ")


# -- connections --------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(stub: StubFeatures) -> None:
    http = DeadlineHttp(stub.url)
    for n in range(5):
        assert answered_for(get(http, f"/v1/users/u_{n}/features"), f"u_{n}")
    assert get(http, "/v1/products/sku_1/similar").status == 200
    # Failed answers read to their end leave the connection usable too.
    stub.script.append(Reply(500))
    assert get(http, "/v1/users/u_1/features").status == 500
    assert answered_for(get(http, "/v1/users/u_1/features"), "u_1")
    http.close()

    assert stub.connections == 1
    assert http.connections_opened == 1


def test_a_connection_the_function_closed_while_idle_is_replaced(stub: StubFeatures) -> None:
    http = DeadlineHttp(stub.url)
    get(http, "/v1/users/u_1/features")
    stub.drop_idle_connections()
    response = get(http, "/v1/users/u_2/features")
    http.close()

    assert answered_for(response, "u_2")  # sent again on a new connection, not an error
    assert stub.connections == 2
    assert http.connections_opened == 2


def test_connection_close_is_honoured(stub: StubFeatures) -> None:
    stub.script.append(Reply(headers={"Connection": "close"}))
    http = DeadlineHttp(stub.url)
    get(http, "/v1/users/u_1/features")
    assert answered_for(get(http, "/v1/users/u_2/features"), "u_2")
    http.close()

    assert stub.connections == 2


# -- TLS ----------------------------------------------------------------------------------------


def test_https_answers_and_keeps_the_connection(server_tls: ssl.SSLContext) -> None:
    with stub_features(tls=server_tls) as stub:
        http = DeadlineHttp(stub.url)
        assert answered_for(get(http, "/v1/users/u_1/features"), "u_1")
        assert get(http, "/v1/products/sku_1/similar").status == 200
        http.close()

    assert stub.connections == 1
    assert http.connections_opened == 1


def test_https_trickle_is_cut_at_the_timeout(server_tls: ssl.SSLContext) -> None:
    with stub_features(Reply(trickle="body"), tls=server_tls) as stub:
        http = DeadlineHttp(stub.url)
        start = time.monotonic()
        with pytest.raises(TimeoutError):  # the handshake included
            get(http, "/v1/users/u_1/features", DEFAULT_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - start
        http.close()

    assert elapsed < DEFAULT_TIMEOUT_SECONDS + MARGIN_SECONDS
