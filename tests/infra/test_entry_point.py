"""``infra/__main__.py``, the file ``pulumi up`` runs, declares the same stack and exports it."""

import runpy
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
import yaml

from infra.settings import SettingsError
from tools.mocked_stack import MockedStack, use_mocks
from tools.sample_stacks import PROJECT, REQUIRED_CONFIG

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINT = REPO / "infra" / "__main__.py"


def run_entry_point(config: dict[str, str]) -> MockedStack:
    stack = MockedStack()
    use_mocks(stack, PROJECT, config)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> None:
        runpy.run_path(str(ENTRY_POINT), run_name="__main__")

    program()
    return stack


def test_the_entry_point_declares_the_whole_stack(stack: MockedStack) -> None:
    declared = run_entry_point(REQUIRED_CONFIG)

    assert sorted((r.type, r.name) for r in declared.resources) == sorted(
        (r.type, r.name) for r in stack.resources
    )


def test_the_entry_point_stops_on_bad_settings_naming_the_key() -> None:
    config = {k: v for k, v in REQUIRED_CONFIG.items() if k != "event-capture:alertEmails"}

    with pytest.raises(SettingsError, match="event-capture:alertEmails: required"):
        run_entry_point(config)


# What Pulumi's language host does: from Pulumi.yaml's `main` directory, run that directory with
# the venv's interpreter. -I keeps PYTHONPATH and the script's directory off the path, so only
# the venv's event-capture.pth (the Makefile writes it into every venv) can find the repository.
AS_PULUMI_RUNS_IT = """
import runpy, sys
import pulumi
from tools.mocked_stack import MockedStack, use_mocks
stack = MockedStack()
use_mocks(stack, {project!r}, {config!r})

@pulumi.runtime.test
def program():
    runpy.run_path(".", run_name="__main__")

program()
print(len(stack.resources))
"""
PROJECT_FILE = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
DEPLOY_PYTHON = REPO / PROJECT_FILE["runtime"]["options"]["virtualenv"] / "bin" / "python"


@pytest.mark.parametrize(
    "python",
    [
        pytest.param(Path(sys.executable), id="repository-venv"),
        pytest.param(
            DEPLOY_PYTHON,
            id="deploy-venv",
            marks=pytest.mark.skipif(
                not DEPLOY_PYTHON.exists(), reason="no infra/.venv: make deploy-venvs"
            ),
        ),
    ],
)
def test_pulumi_finds_the_programs_packages_through_the_venv_alone(
    python: Path, stack: MockedStack
) -> None:
    main = REPO / PROJECT_FILE["main"]
    code = AS_PULUMI_RUNS_IT.format(project=PROJECT, config=REQUIRED_CONFIG)

    done = subprocess.run(
        [str(python), "-I", "-W", "ignore", "-c", code],
        cwd=main,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert main / "__main__.py" == ENTRY_POINT
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == len(stack.resources)
