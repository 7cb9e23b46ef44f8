"""Times the capture function and the cost guard must agree on. Import-free: the Pulumi program
reads them without the functions' dependencies.

After switching capture back to streaming, the guard waits until every capture instance has
read the switch (at most ``CAPTURE_MODE_TTL_SECONDS``, this by default) and every request
received before it has finished (at most ``REQUEST_DEADLINE_SECONDS``) before it loads the
archive: what was archived without streaming in that time is then in the load.
"""

# How long a capture instance uses the mode it read before reading it again: a switch of the
# cost guard reaches every instance within this, plus one read.
MODE_TTL_SECONDS = 30.0

# The most REQUEST_DEADLINE_SECONDS may be; the infrastructure derives it from the function's
# timeout and keeps below this.
MAX_REQUEST_DEADLINE_SECONDS = 300.0
