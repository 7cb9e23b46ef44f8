"""cost.sizes: the statements of a script, as the read analyser and the row-size queries take
them."""

from event_capture.cost.sizes import statements


def test_a_semicolon_in_a_comment_ends_no_statement() -> None:
    script = "DELETE FROM t WHERE d = 1;\nINSERT INTO t\n-- a comment; with a semicolon\nSELECT 1;"

    assert statements(script) == [
        "DELETE FROM t WHERE d = 1",
        "INSERT INTO t\n-- a comment; with a semicolon\nSELECT 1",
    ]
