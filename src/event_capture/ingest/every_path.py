"""Every path of a function's server answered by the function itself, in its JSON.

functions-framework routes ``/`` and ``/<path>`` to the function, but Flask answers some
requests before it runs: its ``/static/<path>`` route (OPTIONS gets an empty HTML 200),
functions-framework's own 404 pages for ``/robots.txt`` and ``/favicon.ico``, and werkzeug's
HTML redirects for an empty path or doubled slashes. Called at import by a function's
``main.py``, inside the app context functions-framework loads it in.
"""

from collections.abc import Callable

import flask
from werkzeug.exceptions import NotFound

Answer = Callable[[flask.Request], flask.Response]


def serve_every_path(answer: Answer) -> None:
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
