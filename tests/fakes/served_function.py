"""functions-framework's source for in-process tests (``functions.serve_in_process``): shaped as
every ``functions/<name>/main.py`` is, around the function the test built."""

import flask
import functions_framework

from event_capture.platform.serving import serve
from tests.fakes.functions import built

VIEW = serve(built())


@functions_framework.http
def function(request: flask.Request) -> flask.Response:
    return VIEW(request)
