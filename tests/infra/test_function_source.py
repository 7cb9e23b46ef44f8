"""The function's source archive: what it holds, and a name that changes only with its content."""

import io
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from infra.function_source import CAPTURE_PACKAGES, FUNCTION_DIR, build_source_archive
from tests.infra.conftest import REQUIRED_CONFIG
from tools.mocked_stack import MockedStack, run_mocked

Source = tuple[Path, dict[str, Path]]


@pytest.fixture
def source_copy(tmp_path: Path) -> Source:
    function_dir = tmp_path / "capture"
    shutil.copytree(FUNCTION_DIR, function_dir, ignore=shutil.ignore_patterns("__pycache__"))
    packages = {}
    for prefix, directory in CAPTURE_PACKAGES.items():
        packages[prefix] = tmp_path / prefix
        shutil.copytree(directory, packages[prefix], ignore=shutil.ignore_patterns("__pycache__"))
    return function_dir, packages


def test_the_archive_holds_main_requirements_and_the_packages_main_imports() -> None:
    archive = build_source_archive()
    names = set(zipfile.ZipFile(io.BytesIO(archive.data)).namelist())

    assert {
        "main.py",
        "requirements.txt",
        "event_capture/ingest/pipeline.py",
        "event_capture/ingest/sinks/bigquery.py",
        "event_capture/schemas/order.py",
        "event_capture/tables/orders.json",
    } <= names
    # A namespace package, and no operator tool or client code in a deployed function.
    assert "event_capture/__init__.py" not in names
    assert not [n for n in names if n.startswith(("event_capture/client/", "tools/"))]
    assert not [n for n in names if "replay" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert names == set(archive.names)


def test_main_imports_from_the_unpacked_archive_alone(tmp_path: Path) -> None:
    """What the runtime does: main.py at the root, nothing of the checkout on the path."""
    zipfile.ZipFile(io.BytesIO(build_source_archive().data)).extractall(tmp_path)
    env = {"PATH": os.environ["PATH"], "GCP_PROJECT": "p", "GCS_BUCKET": "b"}
    # -S: no site-packages .pth pointing back at the checkout; -I isolates from PYTHONPATH.
    code = (
        "import sys; sys.path[:0] = ["
        + repr(str(tmp_path))
        + "] + "
        + repr(_site_packages())
        + "; import main; print(main.capture.__module__, main.__file__)"
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


def test_the_deployed_requirements_carry_no_infrastructure_or_test_packages() -> None:
    archive = build_source_archive()
    requirements = zipfile.ZipFile(io.BytesIO(archive.data)).read("requirements.txt").decode()
    packages = {line.split("==")[0] for line in requirements.splitlines() if "==" in line}

    assert "functions-framework" in packages
    assert not packages & {"pulumi", "pulumi-gcp", "pulumi-policy", "pytest", "mypy", "ruff"}


def test_the_same_source_gives_the_same_bytes_whatever_the_file_times(
    source_copy: Source,
) -> None:
    before = build_source_archive(*source_copy)
    main = source_copy[0] / "main.py"
    os.utime(main, (1_000_000_000, 1_000_000_000))

    assert build_source_archive(*source_copy).data == before.data


@pytest.mark.parametrize(
    "changed",
    ["main.py", "event_capture/ingest/pipeline.py", "event_capture/schemas/order.py"],
)
def test_changing_any_source_file_changes_the_object_name(
    source_copy: Source, changed: str
) -> None:
    function_dir, packages = source_copy
    before = build_source_archive(function_dir, packages)
    prefix = "/".join(changed.split("/")[:2])
    path = (
        packages[prefix] / changed.removeprefix(prefix + "/")
        if prefix in packages
        else (function_dir / changed)
    )
    path.write_text(path.read_text() + "\n# changed\n")

    after = build_source_archive(function_dir, packages)
    assert after.object_name != before.object_name


def test_a_bytecode_cache_or_test_file_does_not_change_the_name(source_copy: Source) -> None:
    function_dir, packages = source_copy
    before = build_source_archive(function_dir, packages)
    (function_dir / "__pycache__").mkdir()
    (function_dir / "__pycache__" / "main.cpython-313.pyc").write_bytes(b"\0")
    (function_dir / "notes.md").write_text("local notes")

    assert build_source_archive(function_dir, packages).object_name == before.object_name


def test_the_function_deploys_the_object_named_by_the_hash(
    stack: MockedStack, source_copy: Source
) -> None:
    archive = build_source_archive()
    assert stack.named("capture-source").get("name") == archive.object_name
    assert stack.named("capture").get("buildConfig.source.storageSource.object") == (
        archive.object_name
    )

    function_dir, packages = source_copy
    (function_dir / "main.py").write_text((function_dir / "main.py").read_text() + "\n")
    changed = run_mocked(REQUIRED_CONFIG, build_source_archive(function_dir, packages))
    assert changed.named("capture-source").get("name") != archive.object_name


def _site_packages() -> list[str]:
    # The deployed runtime installs requirements.txt; the test venv stands in for that.
    return [sysconfig.get_paths()["purelib"]]
