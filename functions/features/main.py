"""HTTP entry point of the features function (Cloud Functions gen2, functions-framework).

``GET /v1/users/<user_id>/features`` and ``GET /v1/products/<product_id>/similar``; the
contract lives in ``event_capture.features.http_api``. Reads Redis only, never BigQuery.
"""

import sys
import time
from functools import partial

import flask
import functions_framework
from werkzeug.exceptions import NotFound

from event_capture.features.config import load_features_config, redis_client
from event_capture.features.http_api import Answer, handle
from event_capture.features.serve import FeatureReader

CONFIG = load_features_config()
READER = FeatureReader(partial(redis_client, CONFIG), activity_length=CONFIG.redis_activity_length)


def _respond(answer: Answer) -> flask.Response:
    # One line per request on stdout: Cloud Logging parses it into jsonPayload.
    sys.stdout.write(flask.json.dumps(answer.log, separators=(",", ":")) + "\n")
    payload = answer.payload()
    response = flask.Response(payload, status=answer.status, mimetype="application/json")
    response.headers.update(answer.headers)
    return response


def _answer(request: flask.Request) -> flask.Response:
    started = time.perf_counter()
    try:
        answer = handle(
            READER, request.method, request.path, request.args.to_dict(flat=False), started=started
        )
    except Exception as error:  # noqa: BLE001 - the last resort: still JSON, still logged
        line = {
            "severity": "ERROR",
            "message": "features",
            "http_status": 500,
            "rule": "internal_error",
            "error_type": type(error).__name__,
        }
        answer = Answer(500, {"error": "internal error"}, {"Cache-Control": "no-store"}, line)
    return _respond(answer)


@functions_framework.http
def features(request: flask.Request) -> flask.Response:
    """A user's features or a product's similar products, as JSON (see http_api)."""
    return _answer(request)


def _every_path(error: NotFound) -> flask.Response:
    # functions-framework answers /robots.txt and /favicon.ico itself; the contract is the same
    # on every path.
    return _answer(flask.request)


def _no_static_route() -> flask.Response | None:
    # Flask's /static/<path> route would answer before the function does.
    if flask.request.endpoint == "static":
        return _answer(flask.request)
    return None


if flask.has_app_context():
    # As in the capture function: every path is the function's, answered in JSON.
    flask.current_app.url_map.strict_slashes = False
    flask.current_app.url_map.merge_slashes = False
    flask.current_app.before_request(_no_static_route)
    flask.current_app.register_error_handler(NotFound, _every_path)
