"""A function's answer to every request, in its own JSON: every path, crashes, refusals.

Each case fails without the piece it names: Flask would answer with its own HTML.
"""

from __future__ import annotations

import flask
import pytest
from werkzeug.exceptions import Forbidden, HTTPException

from event_capture.platform.serving import answer_or_crash, serve_every_path


def answer(request: flask.Request) -> flask.Response:
    if request.path == "/bug":
        raise KeyError("a bug")
    return flask.jsonify(answered=request.path)


def crash(error: BaseException) -> flask.Response:
    response = flask.jsonify(crash=type(error).__name__)
    response.status_code = 500
    return response


def http_error(error: HTTPException) -> flask.Response:
    response = flask.jsonify(refused=error.code)
    response.status_code = error.code or 400
    return response


@pytest.fixture
def client() -> flask.testing.FlaskClient:
    app = flask.Flask(__name__)
    guarded = answer_or_crash(answer, crash)
    app.add_url_rule("/", "root", lambda: guarded(flask.request), methods=["GET", "POST"])

    @app.before_request
    def hooks() -> None:
        # Stand-ins for the framework's own hooks failing before the function runs.
        if flask.request.path == "/hook-bug":
            raise RuntimeError("in a hook")
        if flask.request.path == "/hook-refuses":
            raise Forbidden()

    with app.app_context():
        serve_every_path(guarded, crash=crash, http_error=http_error)
    return app.test_client()


def test_any_path_is_answered_by_the_function(client: flask.testing.FlaskClient) -> None:
    for path in ("/", "/robots.txt", "/static/x", "/a//b"):
        assert client.get(path).get_json() == {"answered": path}


def test_an_exception_in_the_function_is_its_crash_answer(
    client: flask.testing.FlaskClient,
) -> None:
    response = client.get("/bug")

    assert (response.status_code, response.get_json()) == (500, {"crash": "KeyError"})


def test_an_exception_in_a_hook_is_the_functions_crash_answer_with_the_original_type(
    client: flask.testing.FlaskClient,
) -> None:
    response = client.get("/hook-bug")

    assert (response.status_code, response.get_json()) == (500, {"crash": "RuntimeError"})


def test_a_refusal_before_the_function_runs_is_its_http_error_answer(
    client: flask.testing.FlaskClient,
) -> None:
    response = client.get("/hook-refuses")

    assert (response.status_code, response.get_json()) == (403, {"refused": 403})
