"""Every path of a function's server answered by the function itself, in its JSON.

functions-framework routes ``/`` and ``/<path>`` to the function, but Flask answers some
requests before it runs: its ``/static/<path>`` route (OPTIONS gets an empty HTML 200),
functions-framework's own 404 pages for ``/robots.txt`` and ``/favicon.ico``, and werkzeug's
HTML redirects for an empty path or doubled slashes; and its crash page for an exception. Called
at import by a function's ``main.py``, inside the app context functions-framework loads it in.
"""

from collections.abc import Callable

import flask
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

Answer = Callable[[flask.Request], flask.Response]
Crash = Callable[[BaseException], flask.Response]


def answer_or_crash(handle: Answer, crash: Crash) -> Answer:
    """``handle``, or ``crash``'s answer to any exception it raises: a bug, not an input, but
    still the function's JSON and log line, never the framework's crash page."""

    def answer(request: flask.Request) -> flask.Response:
        try:
            return handle(request)
        except Exception as error:  # noqa: BLE001 - the last resort: still JSON, still logged
            return crash(error)

    return answer


def serve_every_path(
    answer: Answer,
    *,
    crash: Crash | None = None,
    http_error: Callable[[HTTPException], flask.Response] | None = None,
) -> None:
    """Route every path to ``answer``; where given, ``crash`` answers an exception outside the
    function (in the framework's hooks) and ``http_error`` anything else werkzeug refuses
    before the function runs."""
    if not flask.has_app_context():
        return
    app = flask.current_app

    def no_static_route() -> flask.Response | None:
        # Runs before Flask's static route could answer.
        return answer(flask.request) if flask.request.endpoint == "static" else None

    def every_path(error: NotFound) -> flask.Response:
        return answer(flask.request)

    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.before_request(no_static_route)
    app.register_error_handler(NotFound, every_path)
    if crash is not None:
        app.register_error_handler(
            InternalServerError, lambda error: crash(error.original_exception or error)
        )
    if http_error is not None:
        app.register_error_handler(HTTPException, http_error)
