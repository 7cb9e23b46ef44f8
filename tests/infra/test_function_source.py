"""The function's source archive: what it holds, and a name that changes only with its content."""

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from infra.function_source import FUNCTION_DIR, SCHEMAS_DIR, build_source_archive
from infra.mocked_stack import MockedStack, run_mocked
from tests.infra.conftest import REQUIRED_CONFIG


@pytest.fixture
def source_copy(tmp_path: Path) -> tuple[Path, Path]:
    function_dir, schemas_dir = tmp_path / "capture", tmp_path / "schemas"
    shutil.copytree(FUNCTION_DIR, function_dir, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SCHEMAS_DIR, schemas_dir, ignore=shutil.ignore_patterns("__pycache__"))
    return function_dir, schemas_dir


def test_the_archive_holds_main_requirements_ingest_and_schemas() -> None:
    archive = build_source_archive()
    names = set(zipfile.ZipFile(io.BytesIO(archive.data)).namelist())

    assert {
        "main.py",
        "requirements.txt",
        "ingest/pipeline.py",
        "ingest/sinks/bigquery.py",
    } <= names
    assert {"schemas/__init__.py", "schemas/order.py", "schemas/tables/orders.json"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert names == set(archive.names)


def test_the_deployed_requirements_carry_no_infrastructure_or_test_packages() -> None:
    archive = build_source_archive()
    requirements = zipfile.ZipFile(io.BytesIO(archive.data)).read("requirements.txt").decode()
    packages = {line.split("==")[0] for line in requirements.splitlines() if "==" in line}

    assert "functions-framework" in packages
    assert not packages & {"pulumi", "pulumi-gcp", "pulumi-policy", "pytest", "mypy", "ruff"}


def test_the_same_source_gives_the_same_bytes_whatever_the_file_times(
    source_copy: tuple[Path, Path],
) -> None:
    before = build_source_archive(*source_copy)
    main = source_copy[0] / "main.py"
    os.utime(main, (1_000_000_000, 1_000_000_000))

    assert build_source_archive(*source_copy).data == before.data


@pytest.mark.parametrize("changed", ["main.py", "ingest/pipeline.py", "schemas/order.py"])
def test_changing_any_source_file_changes_the_object_name(
    source_copy: tuple[Path, Path], changed: str
) -> None:
    function_dir, schemas_dir = source_copy
    before = build_source_archive(function_dir, schemas_dir)
    path = (schemas_dir.parent if changed.startswith("schemas/") else function_dir) / changed
    path.write_text(path.read_text() + "\n# changed\n")

    after = build_source_archive(function_dir, schemas_dir)
    assert after.object_name != before.object_name


def test_a_bytecode_cache_or_test_file_does_not_change_the_name(
    source_copy: tuple[Path, Path],
) -> None:
    function_dir, schemas_dir = source_copy
    before = build_source_archive(function_dir, schemas_dir)
    (function_dir / "__pycache__").mkdir()
    (function_dir / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (function_dir / "notes.md").write_text("local notes")

    assert build_source_archive(function_dir, schemas_dir).object_name == before.object_name


def test_the_function_deploys_the_object_named_by_the_hash(
    stack: MockedStack, source_copy: tuple[Path, Path]
) -> None:
    archive = build_source_archive()
    assert stack.named("capture-source").get("name") == archive.object_name
    assert stack.named("capture").get("buildConfig.source.storageSource.object") == (
        archive.object_name
    )

    function_dir, schemas_dir = source_copy
    (function_dir / "main.py").write_text((function_dir / "main.py").read_text() + "\n")
    changed = run_mocked(REQUIRED_CONFIG, build_source_archive(function_dir, schemas_dir))
    assert changed.named("capture-source").get("name") != archive.object_name
