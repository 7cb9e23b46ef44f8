"""``infra/__main__.py``, the file ``pulumi up`` runs, declares the same stack and exports it."""

import runpy
from pathlib import Path

import pulumi
import pytest

from tools.mocked_stack import MockedStack, use_mocks
from infra.settings import SettingsError
from tests.infra.conftest import PROJECT, REQUIRED_CONFIG

ENTRY_POINT = Path(__file__).resolve().parents[2] / "infra" / "__main__.py"


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
