"""The client's version and the User-Agent it sends with every request.

The version is written once, in client/pyproject.toml. An installed client reads it from its
distribution metadata; run from the repository (whose venv finds these sources through a .pth,
with no distribution installed) it reads the pyproject.toml next to them.
"""

import importlib.metadata
import platform
import tomllib
from pathlib import Path

DISTRIBUTION = "event-capture-client"
UNKNOWN_VERSION = "0+unknown"
# client/src/event_capture/client/version.py -> client/pyproject.toml
_CHECKOUT_PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def client_version(pyproject: Path = _CHECKOUT_PYPROJECT) -> str:
    """The installed distribution's version, else the checkout's, else ``0+unknown``."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with pyproject.open("rb") as file:
            project = tomllib.load(file).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return UNKNOWN_VERSION
    # Only our own pyproject.toml: copied sources may sit next to someone else's.
    if project.get("name") != DISTRIBUTION or not isinstance(project.get("version"), str):
        return UNKNOWN_VERSION
    return str(project["version"])


__version__ = client_version()
USER_AGENT = f"{DISTRIBUTION}/{__version__} (python {platform.python_version()})"
