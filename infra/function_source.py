"""The capture function's source archive: its folder plus the ``schemas`` package, zipped.

The zip is byte-for-byte reproducible (sorted names, fixed timestamps and modes), so its hash
changes when and only when a file's name or content changes. The bucket object is named by that
hash: a code change uploads a new object and redeploys the function; anything else, including a
fresh checkout or a touched file, leaves both alone.
"""

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = REPO_ROOT / "functions" / "capture"
SCHEMAS_DIR = REPO_ROOT / "schemas"
BUILD_DIR = REPO_ROOT / "infra" / ".build"

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
    function_dir: Path = FUNCTION_DIR, schemas_dir: Path = SCHEMAS_DIR
) -> SourceArchive:
    """``main.py``, ``requirements.txt`` and ``ingest/`` at the root, ``schemas/`` beside them."""
    files = {**_files(function_dir, ""), **_files(schemas_dir, "schemas/")}
    for required in ("main.py", "requirements.txt", "schemas/__init__.py"):
        if required not in files:
            raise FileNotFoundError(f"function source is missing {required}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    data = buffer.getvalue()
    return SourceArchive(data, hashlib.sha256(data).hexdigest(), tuple(sorted(files)))
