"""A function built by its factory, served in process by functions-framework's own app.

``serve_in_process`` has functions-framework load ``served_function.py`` as it loads a
function's ``main.py``, so the framework's routing, error pages and hooks are the real ones;
that module serves whichever function the test built (on fake sinks, say). No module of the
framework's is patched.
"""

from pathlib import Path

import flask
from flask.testing import FlaskClient
from functions_framework import create_app

from event_capture.platform.serving import HttpFunction

SOURCE = Path(__file__).with_name("served_function.py")
_built: list[HttpFunction] = []


def built() -> HttpFunction:
    """The function the test is serving (what ``served_function.py`` serves)."""
    return _built[-1]


def serve_in_process(function: HttpFunction) -> FlaskClient:
    _built[:] = [function]
    app: flask.Flask = create_app(target="function", source=str(SOURCE))  # type: ignore[no-untyped-call]
    return app.test_client()
