"""The Google API methods the code calls, declared next to the code that calls them, and what
they are called on: the IAM proof (``tools/iam_proof.py``) maps each to the permissions it
needs and checks that the account the code runs as is granted them on that resource, and
nothing more.

A module that calls Google declares ``API_CALLS``, a tuple of ``ApiCall``; the proof collects
them from every module a function ships (or a tool imports). ``method`` is the method's
Discovery id (``bigquery.tabledata.insertAll``), with a ``#variant`` where one method needs
different permissions by how it is called (a query job, a load job, an upload that overwrites);
``infra/iam/exceptions.json`` says what each variant needs, with Google's page.
"""

from dataclasses import dataclass

# What a call acts on, by the part it plays; the proof finds each in the deployed stack.
PROJECT = "project"
EVENT_TABLES = "event tables"
FEATURE_TABLES = "feature tables"
# The warehouse tables that hold a user's rows (personal data with a user_id column: user_daily
# and the user-level feature tables), which forgetting a user deletes from.
USER_TABLES = "user-level tables"
ARCHIVE_BUCKET = "archive bucket"
DEAD_LETTER_BUCKET = "dead-letter bucket"
CONTROL_BUCKET = "control bucket"
# Where the app files requests to forget a user, and their receipts (contracts.forget).
FORGET_BUCKET = "forget bucket"
SCHEDULED_QUERIES = "scheduled queries"
RESOURCES = (
    PROJECT,
    EVENT_TABLES,
    FEATURE_TABLES,
    USER_TABLES,
    ARCHIVE_BUCKET,
    DEAD_LETTER_BUCKET,
    CONTROL_BUCKET,
    FORGET_BUCKET,
    SCHEDULED_QUERIES,
)


@dataclass(frozen=True)
class ApiCall:
    method: str
    on: str

    def __post_init__(self) -> None:
        if self.on not in RESOURCES:
            raise ValueError(f"ApiCall.on: {self.on!r} is none of {RESOURCES}")


def query_job(reads: str) -> tuple[ApiCall, ...]:
    """A query job the code starts and reads the results of, reading ``reads``."""
    return (
        ApiCall("bigquery.jobs.insert#query", PROJECT),
        ApiCall("bigquery.jobs.getQueryResults", PROJECT),
        ApiCall("bigquery.jobs.insert#reads", reads),
    )
