"""report.capture_log: the capture functions' log lines as Cloud Logging's sink names their
table."""

from event_capture.report import capture_log
from event_capture.report.queries import Sources

SOURCES = Sources.of_project("p")


def test_the_capture_log_table_is_named_as_logging_names_it() -> None:
    assert SOURCES.capture_log_table == "p.capture_logs.run_googleapis_com_stdout"
    assert capture_log.log_name("p") == "projects/p/logs/run.googleapis.com%2Fstdout"
