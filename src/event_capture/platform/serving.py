"""Serving an HTTP function: every path and every failure answered by the function itself, in
its JSON, with one log line each.

A function is what its factory builds (``HttpFunction``): its answer to a request, and its
answer to an ``HttpError`` (its own error body and log line). ``serve`` turns it into the view
functions-framework calls, and must be called inside the app context functions-framework loads
``main.py`` in: functions-framework routes ``/`` and ``/<path>`` to the function, but Flask
answers some requests before it runs (its ``/static/<path>`` route, where OPTIONS gets an empty
HTML 200; functions-framework's own 404 pages for ``/robots.txt`` and ``/favicon.ico``;
werkzeug's HTML redirects for an empty path or doubled slashes) and its crash page for an
exception. Here each of those is the function's answer, or its crash answer.
"""

from collections.abc import Callable
from typing import Any, Protocol

import flask
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from event_capture.platform.answer import Answer, json_response
from event_capture.platform.http_error import HttpError
from event_capture.platform.log_line import (
    ERROR_TYPE,
    HTTP_STATUS,
    MESSAGE,
    SEVERITY,
    write_log_line,
)

View = Callable[[flask.Request], flask.Response]


class HttpFunction(Protocol):
    # What a client is told when the function has a bug: the request was not taken.
    crash_message: str

    def answer(self, request: flask.Request) -> Answer: ...

    def refusal(self, error: HttpError) -> Answer:
        """The answer to a request refused as sent (or, with status 500, to a bug)."""
        ...


def refusal_line(message: str, error: HttpError) -> dict[str, Any]:
    """A refused request's log line: the rule and its position, never the message, which may
    quote what the client sent."""
    return {SEVERITY: "WARNING", MESSAGE: message, HTTP_STATUS: error.status, **error.log_fields()}


def respond(answer: Answer) -> flask.Response:
    write_log_line(answer.log)
    return json_response(answer.status, answer.body, answer.headers)


def crash_answer(function: HttpFunction, error: BaseException) -> flask.Response:
    """A bug, not an input: still the function's JSON and log line, never a stack trace. The
    exception's type only: its text may hold request data."""
    crashed = HttpError(
        status=500,
        rule="internal_error",
        message=function.crash_message,
        position=None,
        # functions-framework's own crash answer carries this header; the platform counts on it.
        headers=(("X-Google-Status", "crash"),),
    )
    answer = function.refusal(crashed)
    log = {**answer.log, SEVERITY: "ERROR", ERROR_TYPE: type(error).__name__}
    return respond(Answer(status=500, body=answer.body, headers=answer.headers, log=log))


def serve(function: HttpFunction) -> View:
    """The view of ``function``: its answer to every request on every path, its crash answer
    to any exception, and its refusal of whatever werkzeug refuses before it runs."""

    def view(request: flask.Request) -> flask.Response:
        try:
            return respond(function.answer(request))
        except Exception as error:  # noqa: BLE001 - the last resort: still JSON, still logged
            return crash_answer(function, error)

    def http_error(error: HTTPException) -> flask.Response:
        status = error.code or 400
        refused = HttpError(
            status=status, rule=f"http_{status}", message=error.name.lower(), position="request"
        )
        return respond(function.refusal(refused))

    if flask.has_app_context():
        _route_everything(flask.current_app, view, http_error, function)
    return view


def _route_everything(
    app: flask.Flask,
    view: View,
    http_error: Callable[[HTTPException], flask.Response],
    function: HttpFunction,
) -> None:
    def no_static_route() -> flask.Response | None:
        # Runs before Flask's static route could answer.
        return view(flask.request) if flask.request.endpoint == "static" else None

    def every_path(error: NotFound) -> flask.Response:
        return view(flask.request)

    def crashed(error: InternalServerError) -> flask.Response:
        return crash_answer(function, error.original_exception or error)

    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.before_request(no_static_route)
    app.register_error_handler(NotFound, every_path)
    app.register_error_handler(InternalServerError, crashed)
    app.register_error_handler(HTTPException, http_error)
