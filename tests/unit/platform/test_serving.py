"""A function's answer to every request, in its own JSON: every path, crashes, refusals.

Each case fails without the piece it names: Flask would answer with its own HTML.
"""

from __future__ import annotations

import json

import flask
import pytest
from werkzeug.exceptions import Forbidden

from event_capture.platform.answer import Answer
from event_capture.platform.http_error import HttpError
from event_capture.platform.serving import refusal_line, serve


class Echo:
    """Answers with the path it was asked for; has a bug on /bug."""

    crash_message = "not taken"

    def answer(self, request: flask.Request) -> Answer:
        if request.path == "/bug":
            raise KeyError("a bug")
        return Answer(status=200, body={"answered": request.path}, log={"message": "echo"})

    def refusal(self, error: HttpError) -> Answer:
        return Answer(
            status=error.status,
            body={"refused": error.rule, "said": error.message},
            headers=dict(error.headers),
            log=refusal_line("echo", error),
        )


@pytest.fixture
def client() -> flask.testing.FlaskClient:
    app = flask.Flask(__name__)

    @app.before_request
    def hooks() -> None:
        # Stand-ins for the framework's own hooks failing before the function runs.
        if flask.request.path == "/hook-bug":
            raise RuntimeError("in a hook")
        if flask.request.path == "/hook-refuses":
            raise Forbidden()

    with app.app_context():
        view = serve(Echo())
    app.add_url_rule("/", "root", lambda: view(flask.request), methods=["GET", "POST"])
    return app.test_client()


def test_any_path_is_answered_by_the_function(client: flask.testing.FlaskClient) -> None:
    for path in ("/", "/robots.txt", "/static/x", "/a//b"):
        assert client.get(path).get_json() == {"answered": path}


def test_an_exception_in_the_function_is_its_crash_answer(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/bug")

    assert (response.status_code, response.get_json()) == (
        500,
        {"refused": "internal_error", "said": "not taken"},
    )
    assert response.headers["X-Google-Status"] == "crash"
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert (line["severity"], line["error_type"], line["rule"]) == (
        "ERROR",
        "KeyError",
        "internal_error",
    )
    # The exception's text may hold request data: only its type is logged.
    assert "a bug" not in json.dumps(line) and "position" not in line


def test_an_exception_in_a_hook_is_the_functions_crash_answer_with_the_original_type(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/hook-bug")

    assert response.status_code == 500
    assert response.get_json()["refused"] == "internal_error"
    assert json.loads(capsys.readouterr().out)["error_type"] == "RuntimeError"


def test_a_refusal_before_the_function_runs_is_its_http_error_answer(
    client: flask.testing.FlaskClient,
) -> None:
    response = client.get("/hook-refuses")

    assert (response.status_code, response.get_json()) == (
        403,
        {"refused": "http_403", "said": "forbidden"},
    )


def test_every_answer_is_one_time_stamped_log_line(
    client: flask.testing.FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.get("/x")

    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["message"] == "echo" and line["time"].endswith("Z")
