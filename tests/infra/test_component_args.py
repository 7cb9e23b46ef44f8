"""Every component takes its arguments as a frozen, keyword-only dataclass.

Several share a type (``project``, ``location``, ``dataset_id`` are all ``str``): built
positionally, two swapped fields pass the type checker and deploy to the wrong place.
"""

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pytest

import infra

# Importing an entry point (__main__) would run the program or the pack.
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(infra.__path__, "infra.")
    if not m.name.endswith(".__main__")
)


def defined_in_infra(predicate: Callable[[type], bool]) -> list[type]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == name and predicate(cls)
        ]
    return found


COMPONENTS = defined_in_infra(lambda cls: issubclass(cls, pulumi.ComponentResource))
ARGS = defined_in_infra(lambda cls: cls.__name__.endswith("Args"))


def loose(cls: type) -> list[str]:
    """What keeps ``cls`` from being a frozen dataclass with keyword-only fields."""
    if not dataclasses.is_dataclass(cls):
        return ["not a dataclass"]
    problems = [f"{f.name} is positional" for f in dataclasses.fields(cls) if not f.kw_only]
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        problems.append("not frozen")
    return problems


def test_every_component_is_found() -> None:
    assert "infra.monitoring.log_metrics" in MODULES
    assert {cls.__name__ for cls in COMPONENTS} >= {
        "EventTables",
        "LogMetrics",
        "AlertPolicies",
        "OnlineFeatures",
        "RedisSecret",
        "CollectorFunction",
        "CostGuard",
        "CaptureLogSink",
        "ArchiveBackfill",
        "Forget",
    }
    assert len(COMPONENTS) == 17


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda cls: cls.__name__)
def test_a_component_takes_a_name_its_args_and_keywords_only(component: type) -> None:
    name, args, *rest = inspect.signature(component, eval_str=True).parameters.values()

    assert (name.name, name.annotation, args.name) == ("name", str, "args")
    assert args.annotation in ARGS
    assert [p.name for p in rest if p.kind is not inspect.Parameter.KEYWORD_ONLY] == []


@pytest.mark.parametrize("cls", ARGS, ids=lambda cls: cls.__name__)
def test_args_are_frozen_and_keyword_only(cls: type) -> None:
    assert loose(cls) == []


def test_a_positional_or_mutable_args_class_is_caught() -> None:
    @dataclass
    class SwappableArgs:
        project: str
        location: str

    assert loose(SwappableArgs) == ["project is positional", "location is positional", "not frozen"]
