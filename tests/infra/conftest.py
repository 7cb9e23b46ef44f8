"""The real Pulumi program, run under Pulumi's mocks once per session with the defaults."""

import json

import pytest

from tools.mocked_stack import MockedStack, run_mocked

PROJECT = "shop-analytics-prod"
REQUIRED_CONFIG = {
    "gcp:project": PROJECT,
    "event-capture:billingAccount": "01ABCD-23EF45-6789AB",
    "event-capture:alertEmails": '["data-team@example.com", "on-call@example.com"]',
}
WITH_PRINCIPALS = {
    **REQUIRED_CONFIG,
    "event-capture:appPrincipals": '["serviceAccount:shop-app@shop.iam.gserviceaccount.com"]',
    "event-capture:operators": '["group:data-team@example.com"]',
}
# A password in the URL, as Memorystore with AUTH has: it must reach no plain variable.
REDIS_URL = "rediss://:s3cret-auth-string@10.0.0.3:6378/0"
WITH_REDIS = {
    **WITH_PRINCIPALS,
    "event-capture:redisEnabled": "true",
    "event-capture:redisUrl": REDIS_URL,
    "event-capture:vpcConnector": (
        "projects/shop-analytics-prod/locations/us-central1/connectors/redis"
    ),
}


# Two keys while rotating, and a webhook secret shaped as ElevenLabs' (wsec_ and 64 hex digits).
WRITE_KEYS = ("wk_live_0123456789abcdef", "wk_next_fedcba9876543210")
WEBHOOK_SECRET = "wsec_" + "0123456789abcdef" * 4
ORIGINS = ("https://shop.example.com", "http://localhost:3000")
WITH_COLLECTOR = {
    **WITH_PRINCIPALS,
    "event-capture:collectorEnabled": "true",
    "event-capture:collectorWriteKeys": json.dumps(list(WRITE_KEYS)),
    "event-capture:collectorAllowedOrigins": json.dumps(list(ORIGINS)),
}
# Everything on: every function, the collector public with webhooks.
WITH_EVERYTHING = {
    **WITH_REDIS,
    **WITH_COLLECTOR,
    "event-capture:collectorPublic": "true",
    "event-capture:elevenlabsWebhookSecrets": json.dumps([WEBHOOK_SECRET]),
}


@pytest.fixture(scope="session")
def stack() -> MockedStack:
    """Defaults only: what a new production stack gets."""
    return run_mocked(REQUIRED_CONFIG)


@pytest.fixture(scope="session")
def stack_with_principals() -> MockedStack:
    """With an app principal and an operator, the grants that only exist when configured."""
    return run_mocked(WITH_PRINCIPALS)


@pytest.fixture(scope="session")
def stack_with_redis() -> MockedStack:
    """With the Redis sink and online features: the secret, the features function and the
    materializer."""
    return run_mocked(WITH_REDIS)


@pytest.fixture(scope="session")
def stack_with_collector() -> MockedStack:
    """With the collector, private: callable with the app's ID token only."""
    return run_mocked(WITH_COLLECTOR)


@pytest.fixture(scope="session")
def stack_with_everything() -> MockedStack:
    """Every function, the collector public, with webhook secrets and the Redis sink."""
    return run_mocked(WITH_EVERYTHING)
