"""One JSON line per request or event on stdout, time-stamped: every function writes it here.

Cloud Logging parses the line into ``jsonPayload`` and takes ``time`` as the entry's timestamp
(so a day's counts are the function's own clock's). The field names below are those every
function's line shares; log-based metrics select on them (``contracts.log_fields`` has the
rest), so they are a contract. Import-free beyond the standard library: the Pulumi program
reads the names without the functions' dependencies.
"""

import json
import sys
from datetime import UTC, datetime
from typing import Any

TIME = "time"
SEVERITY = "severity"
MESSAGE = "message"
HTTP_STATUS = "http_status"
LATENCY_MS = "latency_ms"
# A refused request's line: the rule it broke and where, never what the client sent; and for a
# bug (a 500), the exception's type only.
RULE = "rule"
POSITION = "position"
ERROR_TYPE = "error_type"


def write_log_line(line: dict[str, Any]) -> None:
    stamped = {TIME: datetime.now(UTC).isoformat().replace("+00:00", "Z"), **line}
    sys.stdout.write(json.dumps(stamped, separators=(",", ":"), default=str) + "\n")
