"""The capture function's source archive: its folder plus the ``event_capture`` packages it imports.

The zip is byte-for-byte reproducible (sorted names, fixed timestamps and modes), so its hash
changes when and only when a file's name or content changes. The bucket object is named by that
hash: a code change uploads a new object and redeploys the function; anything else, including a
fresh checkout or a touched file, leaves both alone.
"""

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = REPO_ROOT / "functions" / "capture"
BUILD_DIR = REPO_ROOT / "infra" / ".build"
# What the function imports, by its path in the archive. The schemas ship in the client wheel
# too, so they live under client/; the operator tools (replay) stay out of every archive.
CAPTURE_PACKAGES: dict[str, Path] = {
    "event_capture/schemas": REPO_ROOT / "client" / "src" / "event_capture" / "schemas",
    "event_capture/ingest": REPO_ROOT / "src" / "event_capture" / "ingest",
    # Its Redis keys: the capture path writes the live activity the features function reads.
    "event_capture/features": REPO_ROOT / "src" / "event_capture" / "features",
    "event_capture/tables": REPO_ROOT / "src" / "event_capture" / "tables",
}

_SUFFIXES = {".py", ".txt", ".json"}
_SKIP_PARTS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache"}
# 1980-01-01 is the earliest time a zip entry can carry.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SourceArchive:
    data: bytes
    sha256: str
    names: tuple[str, ...]

    @property
    def object_name(self) -> str:
        return f"capture/source-{self.sha256[:20]}.zip"

    def write(self, directory: Path = BUILD_DIR) -> Path:
        """The archive as a file (Pulumi uploads files); named by hash, so writes are idempotent."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"capture-{self.sha256[:20]}.zip"
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


def build_source_archive(
    function_dir: Path = FUNCTION_DIR, packages: Mapping[str, Path] = CAPTURE_PACKAGES
) -> SourceArchive:
    """``main.py`` and ``requirements.txt`` at the root, each package at its import path.

    ``event_capture`` itself has no ``__init__.py`` (a namespace package, as on a developer's
    machine), so the runtime finds its parts beside ``main.py``.
    """
    files = _files(function_dir, "")
    for prefix, directory in packages.items():
        files |= _files(directory, f"{prefix}/")
    required = ["main.py", "requirements.txt", *(f"{p}/__init__.py" for p in packages)]
    for name in required:
        if name not in files:
            raise FileNotFoundError(f"function source is missing {name}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    data = buffer.getvalue()
    return SourceArchive(data, hashlib.sha256(data).hexdigest(), tuple(sorted(files)))
