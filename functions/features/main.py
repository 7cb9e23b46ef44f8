"""The features function's entry point (Cloud Functions gen2): ``event_capture.features.function``.

The configuration is read once per instance: a bad one stops the instance at start-up.
"""

import flask
import functions_framework

from event_capture.features.config import load_features_config
from event_capture.features.function import build_features
from event_capture.platform.serving import serve

FUNCTION = build_features(load_features_config())
VIEW = serve(FUNCTION)


@functions_framework.http
def features(request: flask.Request) -> flask.Response:
    """A user's features or a product's similar products, as JSON (see ``FeaturesFunction``)."""
    return VIEW(request)
