"""Each function's source archive: its folder plus the ``event_capture`` packages it imports.

The zip is byte-for-byte reproducible (sorted names, fixed timestamps and modes), so its hash
changes when and only when a file's name or content changes. The bucket object is named by that
hash: a code change uploads a new object and redeploys that function; anything else, including
a fresh checkout, a touched file or a change to a package only another function ships, leaves
it alone.
"""

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "infra" / ".build"
# Every package a function may ship: its path in an archive (its import path) and in the
# repository. The schemas ship in the client wheel too, so they live under client/; the
# operator tools (replay) stay out of every archive.
PACKAGE_SOURCES: dict[str, str] = {
    "event_capture/schemas": "client/src/event_capture/schemas",
    "event_capture/ingest": "src/event_capture/ingest",
    "event_capture/features": "src/event_capture/features",
    "event_capture/tables": "src/event_capture/tables",
    "event_capture/warehouse": "src/event_capture/warehouse",
    "event_capture/collector": "src/event_capture/collector",
    "event_capture/cost_guard": "src/event_capture/cost_guard",
}

_SUFFIXES = {".py", ".txt", ".json"}
_SKIP_PARTS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache"}
# 1980-01-01 is the earliest time a zip entry can carry.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, kw_only=True)
class FunctionSource:
    """A deployable function: ``functions/<name>/`` and the packages its ``main`` imports."""

    name: str
    # The function in main.py that the runtime calls (functions-framework's target).
    entry_point: str
    packages: tuple[str, ...]

    @property
    def directory(self) -> str:
        return f"functions/{self.name}"


CAPTURE = FunctionSource(
    name="capture",
    entry_point="capture",
    packages=(
        "event_capture/schemas",
        "event_capture/ingest",
        # Its Redis keys: the capture path writes the live activity the features function reads.
        "event_capture/features",
        "event_capture/tables",
    ),
)
# Reads Redis only: the ingest package for its configuration and Redis client helpers.
FEATURES = FunctionSource(
    name="features",
    entry_point="features",
    packages=("event_capture/schemas", "event_capture/ingest", "event_capture/features"),
)
# The warehouse catalog names the feature tables it reads; the catalog lists the event tables.
MATERIALIZER = FunctionSource(
    name="materializer",
    entry_point="materialize_snapshot",
    packages=(
        "event_capture/schemas",
        "event_capture/ingest",
        "event_capture/features",
        "event_capture/warehouse",
        "event_capture/tables",
    ),
)
# The Segment tracking API and ElevenLabs webhooks in front of the capture pipeline: the same
# sinks and tables as capture, its Redis keys included, plus its own mapping.
COLLECTOR = FunctionSource(
    name="collector",
    entry_point="collector",
    packages=(
        "event_capture/schemas",
        "event_capture/ingest",
        "event_capture/features",
        "event_capture/tables",
        "event_capture/collector",
    ),
)
# Switches capture's mode and the scheduled queries, and loads the archive into the event
# tables: the ingest package for the mode document and the clients, the tables for the names.
COST_GUARD = FunctionSource(
    name="cost-guard",
    entry_point="cost_guard",
    packages=(
        "event_capture/schemas",
        "event_capture/ingest",
        "event_capture/tables",
        "event_capture/cost_guard",
    ),
)
FUNCTIONS = (CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, COST_GUARD)


@dataclass(frozen=True)
class SourceArchive:
    function: FunctionSource
    data: bytes
    sha256: str
    names: tuple[str, ...]

    @property
    def object_name(self) -> str:
        return f"{self.function.name}/source-{self.sha256[:20]}.zip"

    def write(self, directory: Path = BUILD_DIR) -> Path:
        """The archive as a file (Pulumi uploads files); named by hash, so writes are idempotent."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.function.name}-{self.sha256[:20]}.zip"
        if not path.exists():
            path.write_bytes(self.data)
        return path


def _files(root: Path, prefix: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and path.suffix in _SUFFIXES and not _SKIP_PARTS & set(relative.parts):
            files[f"{prefix}{relative.as_posix()}"] = path.read_bytes()
    return files


def build_source_archive(function: FunctionSource, root: Path = REPO_ROOT) -> SourceArchive:
    """``main.py`` and ``requirements.txt`` at the root, each package at its import path, as
    found under ``root`` (the checkout, or a test's copy of it).

    ``event_capture`` itself has no ``__init__.py`` (a namespace package, as on a developer's
    machine), so the runtime finds its parts beside ``main.py``.
    """
    files = _files(root / function.directory, "")
    for package in function.packages:
        files |= _files(root / PACKAGE_SOURCES[package], f"{package}/")
    required = ["main.py", "requirements.txt", *(f"{p}/__init__.py" for p in function.packages)]
    for name in required:
        if name not in files:
            raise FileNotFoundError(f"{function.name} function source is missing {name}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    data = buffer.getvalue()
    return SourceArchive(function, data, hashlib.sha256(data).hexdigest(), tuple(sorted(files)))
