"""Stack configurations of a sample shop, as `pulumi config` would hold them: the defaults,
and each option switched on. The infra tests run the program with each, and the IAM proof
(`tools.iam_proof`) with everything on.
"""

import json

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


# Two keys while rotating, a webhook secret shaped as ElevenLabs' (wsec_ and 64 hex digits), and
# the backend's user-id secret as docs/deploy.md has it made (32 random bytes, hex).
WRITE_KEYS = ("wk_live_0123456789abcdef", "wk_next_fedcba9876543210")
WEBHOOK_SECRET = "wsec_" + "0123456789abcdef" * 4
USER_ID_SECRET = "uid_" + "fedcba9876543210" * 4
ORIGINS = ("https://shop.example.com", "http://localhost:3000")
WITH_COLLECTOR = {
    **WITH_PRINCIPALS,
    "event-capture:collectorEnabled": "true",
    "event-capture:collectorWriteKeys": json.dumps(list(WRITE_KEYS)),
    "event-capture:collectorAllowedOrigins": json.dumps(list(ORIGINS)),
}
# Everything on: every function, the collector public with webhooks and user-id proofs.
WITH_EVERYTHING = {
    **WITH_REDIS,
    **WITH_COLLECTOR,
    "event-capture:collectorPublic": "true",
    "event-capture:elevenlabsWebhookSecrets": json.dumps([WEBHOOK_SECRET]),
    "event-capture:collectorUserIdSecrets": json.dumps([USER_ID_SECRET]),
}
