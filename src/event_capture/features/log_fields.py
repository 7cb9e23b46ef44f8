"""Names in the log lines of the features function and the materializer that the log-based
metrics select on (infra/monitoring/log_metrics.py): a contract, kept free of imports so the
Pulumi program reads it without the functions' dependencies."""

# The features function's one line per request.
FEATURES_MESSAGE = "features"
# The materializer's one line per run, and the outcomes it reports.
MATERIALIZE_MESSAGE = "materialize"
MATERIALIZE_OUTCOMES = ("loaded", "unchanged", "no_snapshot", "skipped", "refused")
