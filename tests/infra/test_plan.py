"""`make plan`: a reviewer's listing of what `pulumi up` would create, from a mocked run."""

from pathlib import Path

import pytest

from tools.plan import main


def test_the_plan_lists_resources_with_their_key_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out

    assert "Table orders" in out
    assert "expire after 90 days, partition filter required" in out
    assert "public access prevention enforced, uniform access on" in out
    assert "roles/run.invoker to serviceAccount:capture-invoker@" in out
    assert "Function capture" in out and "python313 entry capture in europe-west1" in out
    assert "alerts at 50% current, 90% current, 100% current, 100% forecasted" in out
    assert "Job archive-backfill-schedule" in out
    assert "0 * * * * (Etc/UTC) in europe-west1, publishes to projects/" in out
    assert "functionUrl:" in out


def test_a_bad_stack_file_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack_file = tmp_path / "Pulumi.broken.yaml"
    stack_file.write_text(
        "config:\n"
        "  gcp:project: shop-analytics-dev\n"
        "  event-capture:billingAccount: 01ABCD-23EF45-6789AB\n"
    )

    assert main([str(stack_file)]) == 2
    err = capsys.readouterr().err
    assert "event-capture:alertEmails: required" in err
    assert "Traceback" not in err
