"""The program, the policy pack and the function each need only their own requirements file."""

import subprocess
import sys
from pathlib import Path

import pytest

from infra.function_source import FUNCTIONS, FunctionSource

REPO = Path(__file__).resolve().parents[2]
FUNCTION_ONLY = ["pydantic", "google.cloud", "functions_framework", "redis"]


def imports_without(blocked: list[str], module: str) -> subprocess.CompletedProcess[str]:
    """Import ``module`` in a fresh interpreter where the ``blocked`` packages cannot load."""
    code = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\nimport {module}\n"
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "module", ["infra.stack", "infra.settings", "tools.mocked_stack", "tools.plan"]
)
def test_the_program_and_the_plan_need_none_of_the_functions_packages(module: str) -> None:
    result = imports_without(FUNCTION_ONLY, module)

    assert result.returncode == 0, result.stderr


def test_the_policy_pack_needs_only_pulumi_policy() -> None:
    result = imports_without([*FUNCTION_ONLY, "pulumi_gcp"], "infra.policy.pack")

    assert result.returncode == 0, result.stderr


def test_blocking_works_so_the_checks_above_can_fail() -> None:
    result = imports_without(["pulumi_gcp"], "infra.stack")

    assert result.returncode != 0
    assert "pulumi_gcp" in result.stderr


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_requirement_files_keep_the_infrastructure_out_of_every_function(
    function: FunctionSource,
) -> None:
    requirements = (REPO / function.directory / "requirements.txt").read_text()

    assert "pulumi" not in requirements
    assert "functions-framework==" in requirements


def test_the_program_needs_none_of_the_functions_packages_by_its_requirements() -> None:
    infra = (REPO / "infra/requirements.txt").read_text()

    assert "pulumi-gcp==" in infra and "pydantic" not in infra
