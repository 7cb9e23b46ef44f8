"""The cost guard's log line: its message and the field a log-based metric counts switches by.

Import-free, so the Pulumi program reads them without the guard's dependencies.
"""

GUARD_MESSAGE = "cost_guard"
ACTION = "action"
# ACTION's values that switch capture (decision.Action): the metric's alert fires on them.
SWITCHING_ACTIONS = ("trip", "resume")
