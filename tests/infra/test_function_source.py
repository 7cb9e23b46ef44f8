"""Each function's source archive: what it holds, and a name that changes only with its content."""

import io
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from infra.collector_function import (
    USER_ID_SECRETS_VARIABLE,
    WEBHOOK_SECRETS_VARIABLE,
    WRITE_KEYS_VARIABLE,
)
from infra.function_source import (
    ARCHIVE_BACKFILL,
    CAPTURE,
    COLLECTOR,
    COST_GUARD,
    FEATURES,
    FORGET,
    FUNCTIONS,
    MATERIALIZER,
    PACKAGE_SOURCES,
    REPO_ROOT,
    FunctionSource,
    build_source_archive,
    imported_modules,
)
from infra.redis_secret import VARIABLE
from tools.mocked_stack import MockedStack, run_mocked
from tools.sample_stacks import (
    REDIS_URL,
    REQUIRED_CONFIG,
    USER_ID_SECRET,
    WEBHOOK_SECRET,
    WRITE_KEYS,
)

by_name = pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
# Client libraries a function must start without unless its requirements pin them.
OPTIONAL_LIBRARIES = {
    "google-cloud-bigquery": "google.cloud.bigquery",
    "google-cloud-storage": "google.cloud.storage",
}


@pytest.fixture
def source_root(tmp_path: Path) -> Path:
    """A copy of everything any function ships, laid out as in the checkout."""
    for relative in [f.directory for f in FUNCTIONS] + list(PACKAGE_SOURCES.values()):
        shutil.copytree(
            REPO_ROOT / relative, tmp_path / relative, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def names(function: FunctionSource) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(build_source_archive(function).data)).namelist())


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (
            CAPTURE,
            {
                "event_capture/ingest/pipeline.py",
                "event_capture/ingest/sinks/bigquery.py",
                "event_capture/schemas/order.py",
                "event_capture/tables/orders.json",
                "event_capture/contracts/redis_keys.py",
            },
        ),
        (FEATURES, {"event_capture/features/serve.py", "event_capture/platform/clients.py"}),
        (
            COLLECTOR,
            {
                "event_capture/collector/handler.py",
                "event_capture/ingest/pipeline.py",
                "event_capture/schemas/order.py",
                "event_capture/tables/orders.json",
                "event_capture/contracts/redis_keys.py",
            },
        ),
        (
            MATERIALIZER,
            {
                "event_capture/features/materialize.py",
                "event_capture/warehouse/catalog.py",
                "event_capture/tables/orders.json",
            },
        ),
        (
            ARCHIVE_BACKFILL,
            {"event_capture/archive_backfill/__init__.py", "event_capture/platform/api_calls.py"},
        ),
        (
            COST_GUARD,
            {
                "event_capture/cost_guard/guard.py",
                "event_capture/cost_guard/scheduled_queries.py",
                "event_capture/contracts/capture_mode.py",
                "event_capture/tables/orders.json",
            },
        ),
    ],
    ids=lambda v: v.name if isinstance(v, FunctionSource) else "",
)
def test_the_archive_holds_main_requirements_and_the_packages_main_imports(
    function: FunctionSource, expected: set[str]
) -> None:
    found = names(function)

    assert {"main.py", "requirements.txt", *expected} <= found
    # A namespace package, and no operator tool or client code in a deployed function.
    assert "event_capture/__init__.py" not in found
    assert not [n for n in found if n.startswith(("event_capture/client/", "tools/"))]
    assert not [n for n in found if "replay" in n]
    assert not [n for n in found if "__pycache__" in n or n.endswith(".pyc")]
    assert found == set(build_source_archive(function).names)


def test_the_features_function_ships_no_warehouse_table_or_capture_code() -> None:
    """It reads Redis only; BigQuery's tables and queries, and the capture pipeline, are not its
    business."""
    assert not [
        n
        for n in names(FEATURES)
        if n.startswith(
            ("event_capture/warehouse/", "event_capture/tables/", "event_capture/ingest/")
        )
    ]


# What Cloud Run puts in each secret variable: the value of the version it names.
SECRET_SAMPLES = {
    VARIABLE: REDIS_URL,
    WRITE_KEYS_VARIABLE: ",".join(WRITE_KEYS),
    WEBHOOK_SECRETS_VARIABLE: WEBHOOK_SECRET,
    USER_ID_SECRETS_VARIABLE: USER_ID_SECRET,
}


def deployed_environment(stack: MockedStack, function: FunctionSource) -> dict[str, str]:
    """The variables the stack gives the function, its secrets standing in with a sample."""
    deployed = stack.named(function.name)
    env = dict(deployed.get("serviceConfig.environmentVariables") or {})
    for secret in deployed.get("serviceConfig.secretEnvironmentVariables") or []:
        env[secret["key"]] = SECRET_SAMPLES[secret["key"]]
    return env


@by_name
def test_main_imports_from_the_unpacked_archive_alone_with_the_deployed_environment(
    function: FunctionSource, tmp_path: Path, stack_with_everything: MockedStack
) -> None:
    """What the runtime does: main.py at the root, nothing of the checkout on the path, the
    variables the stack sets; and the entry point the build names is there."""
    zipfile.ZipFile(io.BytesIO(build_source_archive(function).data)).extractall(tmp_path)
    env = {"PATH": os.environ["PATH"], **deployed_environment(stack_with_everything, function)}
    requirements = (tmp_path / "requirements.txt").read_text()
    absent = [m for dist, m in OPTIONAL_LIBRARIES.items() if f"{dist}==" not in requirements]
    # -S: no site-packages .pth pointing back at the checkout; -I isolates from PYTHONPATH.
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({absent!r})); sys.path[:0] = ["
        + repr(str(tmp_path))
        + "] + "
        + repr(_site_packages())
        + f"; import main; print(main.{function.entry_point}.__module__, main.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["main", str(tmp_path / "main.py")]
    assert stack_with_everything.named(function.name).get("buildConfig.entryPoint") == (
        function.entry_point
    )


@by_name
def test_the_deployed_requirements_carry_no_infrastructure_or_test_packages(
    function: FunctionSource,
) -> None:
    archive = build_source_archive(function)
    requirements = zipfile.ZipFile(io.BytesIO(archive.data)).read("requirements.txt").decode()
    packages = {line.split("==")[0] for line in requirements.splitlines() if "==" in line}

    assert "functions-framework" in packages
    assert not packages & {"pulumi", "pulumi-gcp", "pulumi-policy", "pytest", "mypy", "ruff"}


def test_the_same_source_gives_the_same_bytes_whatever_the_file_times(source_root: Path) -> None:
    before = build_source_archive(CAPTURE, source_root)
    main = source_root / CAPTURE.directory / "main.py"
    os.utime(main, (1_000_000_000, 1_000_000_000))

    assert build_source_archive(CAPTURE, source_root).data == before.data


def _touch(root: Path, relative: str) -> None:
    path = root / relative
    path.write_text(path.read_text() + "\n# changed\n")


@pytest.mark.parametrize(
    ("changed", "changes", "keeps"),
    [
        (
            "functions/capture/main.py",
            {CAPTURE},
            {FEATURES, MATERIALIZER, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "functions/features/main.py",
            {FEATURES},
            {CAPTURE, MATERIALIZER, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "functions/collector/main.py",
            {COLLECTOR},
            {CAPTURE, FEATURES, MATERIALIZER, COST_GUARD, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "functions/cost-guard/main.py",
            {COST_GUARD},
            {CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "functions/archive-backfill/main.py",
            {ARCHIVE_BACKFILL},
            {CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, COST_GUARD, FORGET},
        ),
        (
            "functions/forget/main.py",
            {FORGET},
            {CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL},
        ),
        (
            "src/event_capture/collector/mapping.py",
            {COLLECTOR},
            {CAPTURE, FEATURES, MATERIALIZER, COST_GUARD, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "src/event_capture/cost_guard/guard.py",
            {COST_GUARD},
            {CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, ARCHIVE_BACKFILL, FORGET},
        ),
        (
            "src/event_capture/ingest/pipeline.py",
            {CAPTURE, COLLECTOR, ARCHIVE_BACKFILL, FORGET},
            {FEATURES, MATERIALIZER, COST_GUARD},
        ),
        (
            "client/src/event_capture/schemas/order.py",
            set(FUNCTIONS),
            set(),
        ),
        (
            "src/event_capture/warehouse/catalog.py",
            {MATERIALIZER, FORGET},
            {CAPTURE, FEATURES, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL},
        ),
        (
            "src/event_capture/tables/definitions.py",
            {CAPTURE, MATERIALIZER, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL, FORGET},
            {FEATURES},
        ),
    ],
)
def test_a_source_file_changes_the_object_name_of_exactly_the_functions_that_ship_it(
    source_root: Path,
    changed: str,
    changes: set[FunctionSource],
    keeps: set[FunctionSource],
) -> None:
    before = {f: build_source_archive(f, source_root).object_name for f in FUNCTIONS}
    _touch(source_root, changed)
    after = {f: build_source_archive(f, source_root).object_name for f in FUNCTIONS}

    assert {f for f in FUNCTIONS if after[f] != before[f]} == changes
    assert {f for f in FUNCTIONS if after[f] == before[f]} == keeps


def test_a_bytecode_cache_or_test_file_does_not_change_the_name(source_root: Path) -> None:
    before = build_source_archive(CAPTURE, source_root)
    function_dir = source_root / CAPTURE.directory
    (function_dir / "__pycache__").mkdir()
    (function_dir / "__pycache__" / "main.cpython-313.pyc").write_bytes(b"\0")
    (function_dir / "notes.md").write_text("local notes")

    assert build_source_archive(CAPTURE, source_root).object_name == before.object_name


def test_a_package_missing_its_init_is_refused(source_root: Path) -> None:
    (source_root / PACKAGE_SOURCES["event_capture/features"] / "__init__.py").unlink()

    with pytest.raises(FileNotFoundError, match="features function source is missing"):
        build_source_archive(FEATURES, source_root)


@by_name
def test_each_function_deploys_the_object_named_by_its_hash(
    function: FunctionSource, stack_with_everything: MockedStack
) -> None:
    archive = build_source_archive(function)
    deployed = stack_with_everything.named(function.name)

    assert stack_with_everything.named(f"{function.name}-source").get("name") == (
        archive.object_name
    )
    assert archive.object_name.startswith(f"{function.name}/")
    assert deployed.get("buildConfig.source.storageSource.object") == archive.object_name


def test_a_changed_source_uploads_a_new_object(stack: MockedStack, source_root: Path) -> None:
    _touch(source_root, "functions/capture/main.py")
    changed = run_mocked(REQUIRED_CONFIG, source_root)

    assert changed.named("capture-source").get("name") != stack.named("capture-source").get("name")


def _site_packages() -> list[str]:
    # The deployed runtime installs requirements.txt; the test venv stands in for that.
    return [sysconfig.get_paths()["purelib"]]


@by_name
def test_a_function_shipping_the_scrubber_pins_the_libraries_it_imports(
    function: FunctionSource,
) -> None:
    """The deployed runtime has what requirements.txt names and nothing else; the scrubber
    imports phonenumbers and stdnum at module level, so a function importing it without them
    fails to start."""
    if "event_capture.schemas.scrub" not in imported_modules(function):
        pytest.skip("does not import the scrubber")
    archive = zipfile.ZipFile(io.BytesIO(build_source_archive(function).data))
    requirements = archive.read("requirements.txt").decode()

    assert "phonenumbers==" in requirements and "python-stdnum==" in requirements
