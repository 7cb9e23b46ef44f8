"""The features function: ``GET /v1/users/<user_id>/features`` and
``GET /v1/products/<product_id>/similar``, read from Redis only (never BigQuery). The contract
is ``http_api``; the answers are ``schemas.features``.
"""

import time
from functools import partial

import flask

from event_capture.contracts.log_fields import FEATURES_MESSAGE
from event_capture.features.config import FeaturesConfig, redis_client
from event_capture.features.http_api import NO_CACHE, handle
from event_capture.features.serve import FeatureReader
from event_capture.platform.answer import Answer
from event_capture.platform.http_error import HttpError
from event_capture.platform.serving import refusal_line


class FeaturesFunction:
    crash_message = "internal error"

    def __init__(self, reader: FeatureReader) -> None:
        self.reader = reader

    def answer(self, request: flask.Request) -> Answer:
        started = time.perf_counter()
        query = request.args.to_dict(flat=False)
        return handle(self.reader, request.method, request.path, query, started=started)

    def refusal(self, error: HttpError) -> Answer:
        return Answer(
            status=error.status,
            body={"error": error.message},
            headers={**dict(error.headers), "Cache-Control": NO_CACHE},
            log=refusal_line(FEATURES_MESSAGE, error),
        )


def build_features(config: FeaturesConfig) -> FeaturesFunction:
    """The features function of one instance; Redis is connected on first use."""
    reader = FeatureReader(
        partial(redis_client, config), activity_length=config.redis_activity_length
    )
    return FeaturesFunction(reader)
