"""HTTP entry point of the features function (Cloud Functions gen2, functions-framework).

``GET /v1/users/<user_id>/features`` and ``GET /v1/products/<product_id>/similar``; the
contract lives in ``event_capture.features.http_api``. Reads Redis only, never BigQuery.
"""

import time
from functools import partial

import flask
import functions_framework

from event_capture.features.config import load_features_config, redis_client
from event_capture.features.http_api import Answer, handle
from event_capture.features.serve import FeatureReader
from event_capture.platform.answer import json_response
from event_capture.platform.log_line import write_log_line
from event_capture.platform.serving import serve_every_path

CONFIG = load_features_config()
READER = FeatureReader(partial(redis_client, CONFIG), activity_length=CONFIG.redis_activity_length)


def _respond(answer: Answer) -> flask.Response:
    write_log_line(answer.log)
    return json_response(answer.status, answer.body, answer.headers)


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


serve_every_path(_answer)
