"""Each function's source archive: its folder plus the ``event_capture`` packages it imports.

Which packages a function ships follows from its code: every ``event_capture`` import reachable
from its ``main.py`` (imports inside functions too), found by reading the source, not by running
it. The zip is byte-for-byte reproducible (sorted names, fixed timestamps and modes), so its
hash changes when and only when a file's name or content changes. The bucket object is named by
that hash: a code change uploads a new object and redeploys that function; anything else,
including a fresh checkout, a touched file or a change to a package only another function
ships, leaves it alone.
"""

import ast
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "infra" / ".build"
NAMESPACE = "event_capture"
# Where the namespace's packages live: the server's, and the client wheel's (the schemas ship
# with the client too). The operator tools and the client's own code are never imported by a
# function, so they never ship.
SOURCE_ROOTS = ("src", "client/src")

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

    @property
    def directory(self) -> str:
        return f"functions/{self.name}"


CAPTURE = FunctionSource(name="capture", entry_point="capture")
FEATURES = FunctionSource(name="features", entry_point="features")
MATERIALIZER = FunctionSource(name="materializer", entry_point="materialize_snapshot")
# The Segment tracking API and ElevenLabs webhooks in front of the capture pipeline.
COLLECTOR = FunctionSource(name="collector", entry_point="collector")
COST_GUARD = FunctionSource(name="cost-guard", entry_point="cost_guard")
# Archives, every hour, what BigQuery holds and the archive lacks (an instance killed before
# its group commit's flush).
ARCHIVE_BACKFILL = FunctionSource(name="archive-backfill", entry_point="backfill_archive")
# Carries out, every hour, the requests to forget a user filed in the forget bucket.
FORGET = FunctionSource(name="forget", entry_point="forget_users")
FUNCTIONS = (CAPTURE, FEATURES, MATERIALIZER, COLLECTOR, COST_GUARD, ARCHIVE_BACKFILL, FORGET)


def package_sources(root: Path = REPO_ROOT) -> dict[str, str]:
    """Every package of the namespace: its path in an archive (its import path) and in the
    repository."""
    found: dict[str, str] = {}
    for source_root in SOURCE_ROOTS:
        for init in sorted((root / source_root / NAMESPACE).glob("*/__init__.py")):
            found[f"{NAMESPACE}/{init.parent.name}"] = init.parent.relative_to(root).as_posix()
    return found


PACKAGE_SOURCES = package_sources()


def _module_file(module: str, root: Path) -> Path | None:
    relative = Path(*module.split("."))
    for source_root in SOURCE_ROOTS:
        for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
            if (root / source_root / candidate).is_file():
                return root / source_root / candidate
    return None


def _imported(path: Path) -> set[str]:
    """The namespace's modules a file imports, wherever in the file (a lazy import counts);
    ``from package import module`` names the module too."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in modules if m.startswith(f"{NAMESPACE}.")}


def imported_modules(function: FunctionSource, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The namespace's modules reachable from the function's ``main.py`` through its imports,
    with every package ``__init__`` on their way (importing a module runs them)."""
    seen: set[Path] = set()
    modules: set[str] = set()
    pending = [root / function.directory / "main.py"]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imported(path):
            parts = module.split(".")
            for depth in range(2, len(parts) + 1):
                name = ".".join(parts[:depth])
                found = _module_file(name, root)
                if found is not None:
                    modules.add(name)
                    pending.append(found)
    return tuple(sorted(modules))


def imported_packages(function: FunctionSource, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The namespace's packages reachable from the function's ``main.py``, as archive paths."""
    return tuple(
        sorted({f"{NAMESPACE}/{m.split('.')[1]}" for m in imported_modules(function, root)})
    )


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
    packages = imported_packages(function, root)
    sources = package_sources(root)
    for package in packages:
        if package in sources:
            files |= _files(root / sources[package], f"{package}/")
    required = ["main.py", "requirements.txt", *(f"{p}/__init__.py" for p in packages)]
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
