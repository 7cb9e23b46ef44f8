"""The client as an app gets it: the wheel built from client/, installed into a fresh venv.

The wheel must hold ``event_capture.client`` and ``event_capture.schemas`` under the shared
``event_capture`` namespace (no ``event_capture/__init__.py``, nothing of the server side), so
it neither shadows nor is shadowed by an app's own top-level ``schemas`` module. It must work on
the oldest Python it declares (3.11) and on the project's 3.13. The script sends one event to a
loopback stand-in that answers like the function's 200; the function's contract itself is
proven against the real function elsewhere.
"""

import email.parser
import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "client"
UV = REPO / ".cache" / "tools" / "bin" / "uv"
TIMEOUT = 300
PACKAGES = ("event_capture/client/", "event_capture/schemas/")
SERVER_SIDE = ("ingest", "tables", "warehouse")
APP_SCHEMAS = "this is the app's own schemas module"

# Run by the venv's Python with cwd = the app's directory, which holds this script and the app's
# own schemas.py. It asserts nothing itself: it reports what it saw, as one line of JSON.
APP_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys, sysconfig

    import schemas
    import event_capture
    from event_capture.client import CaptureClient, EventContext

    client = CaptureClient(sys.argv[1])
    events = EventContext(user_id="u_wheel", session_id="s_wheel", source="web")
    queued = client.track(
        events.search("oat milk", intent="product_lookup", intent_confidence=0.9, result_count=3)
    )
    flushed = client.flush(60)
    stats = client.close(60)
    print(json.dumps({
        "python": list(sys.version_info[:2]),
        "purelib": sysconfig.get_paths()["purelib"],
        "schemas_file": schemas.__file__,
        "schemas_raise": getattr(schemas, "RAISE", None),
        "event_capture_file": event_capture.__file__,
        "event_capture_path": list(event_capture.__path__),
        "client_file": sys.modules["event_capture.client"].__file__,
        "event_schemas_file": sys.modules["event_capture.schemas"].__file__,
        "queued": queued,
        "flushed": flushed,
        "stats": dataclasses.asdict(stats),
    }))
    """
)


@dataclass
class Function:
    """A loopback stand-in for the capture function: 200 for every batch, bodies recorded."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def function() -> Iterator[Function]:
    stand_in = Function()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stand_in.posts.append(body)
            events = body["events"]
            # The shape of the function's 200 (event_capture.ingest.pipeline).
            answer = {
                "request_id": f"req-{len(stand_in.posts)}",
                "received": len(events),
                "accepted": len(events),
                "rejected": 0,
                "rejections": [],
                "sinks": {"bigquery": {"status": "ok", "rows": len(events)}},
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def uv_env() -> dict[str, str]:
    """This environment without anything pointing Python at the repo or another venv."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "UV_PYTHON", "CONDA_PREFIX"}
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=TIMEOUT, **kwargs
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def uv(*args: str | Path) -> subprocess.CompletedProcess[str]:
    if not UV.is_file():
        pytest.fail(f"{UV} is missing: `make` installs it (the project's venvs need it too)")
    return run([UV, *args], env=uv_env(), cwd=REPO)


def runs_version(python: str, version: tuple[int, int]) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", f"import sys; sys.exit(sys.version_info[:2] != {version!r})"],
            capture_output=True,
            timeout=60,
        )
    except OSError:
        return False
    return result.returncode == 0


def python_311() -> str | None:
    candidates: list[str] = []
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        root = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, timeout=60, check=False
        )
        if root.returncode == 0:
            candidates += sorted(glob.glob(f"{root.stdout.strip()}/versions/3.11.*/bin/python3"))
    candidates += ["/usr/bin/python3.11", shutil.which("python3.11") or ""]
    return next((c for c in candidates if c and runs_version(c, (3, 11))), None)


def python_313() -> str:
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "python313.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"no Python 3.13 (the project's Python): {result.stderr.strip()}")
    return result.stdout.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client wheel, built once with the dev venv's hatchling (no build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    uv(
        "build",
        "--wheel",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "--out-dir",
        out,
        CLIENT,
    )
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_client_and_schemas_under_the_namespace_and_nothing_else(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    dist_info = metadata_name.removesuffix("METADATA")

    assert dist_info.startswith("event_capture_client-")
    strays = [n for n in names if not n.startswith((*PACKAGES, dist_info))]
    assert strays == [], "outside event_capture/client, event_capture/schemas and dist-info"
    assert "event_capture/__init__.py" not in names, "event_capture must stay a namespace"
    server_side = [
        n for n in names if n.startswith(tuple(f"event_capture/{p}/" for p in SERVER_SIDE))
    ]
    assert server_side == []
    # Every module of the client's source is in the wheel, and no byte-code or other files.
    sources = {
        path.relative_to(CLIENT / "src").as_posix()
        for package in PACKAGES
        for path in (CLIENT / "src" / package).rglob("*.py")
    }
    assert {n for n in names if not n.startswith(dist_info)} == sources

    assert metadata["Name"] == "event-capture-client"
    assert metadata["Requires-Python"] == ">=3.11"


@pytest.mark.parametrize("version", [(3, 11), (3, 13)], ids=["py3.11", "py3.13"])
def test_an_app_with_its_own_schemas_module_sends_an_event_with_the_installed_wheel(
    version: tuple[int, int], wheel: Path, function: Function, tmp_path: Path
) -> None:
    if version == (3, 13):
        python = python_313()
    else:
        found = python_311()
        if found is None:
            pytest.skip("no Python 3.11 here (pyenv's versions/3.11.*, /usr/bin/python3.11)")
        python = found
    venv = tmp_path / "venv"
    uv("venv", "--quiet", "--python", python, venv)
    venv_python = venv / "bin" / "python"
    uv("pip", "install", "--quiet", "--python", venv_python, wheel)

    app = tmp_path / "app"
    app.mkdir()
    (app / "schemas.py").write_text(f"RAISE = {APP_SCHEMAS!r}\n")
    (app / "app.py").write_text(APP_SCRIPT)
    # Not -I: the app's directory must be on sys.path, ahead of site-packages, as in a real app.
    # A clean environment: nothing (no PYTHONPATH, no .pth) leads to the repo's sources.
    result = run(
        [venv_python, "app.py", function.url],
        cwd=app,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert tuple(seen["python"]) == version
    assert seen["schemas_raise"] == APP_SCHEMAS
    assert Path(seen["schemas_file"]) == app / "schemas.py"
    purelib = Path(seen["purelib"]).resolve()
    assert purelib.is_relative_to(venv.resolve())
    assert seen["event_capture_file"] is None, "event_capture must be a namespace package"
    assert [Path(p).resolve() for p in seen["event_capture_path"]] == [purelib / "event_capture"]
    for module in ("client_file", "event_schemas_file"):
        assert Path(seen[module]).resolve().is_relative_to(purelib), seen[module]

    [post] = function.posts
    [event] = post["events"]
    assert (event["event_type"], event["user_id"], event["query"]) == (
        "search",
        "u_wheel",
        "oat milk",
    )
    assert seen["queued"] and seen["flushed"]
    stats = seen["stats"]
    assert (stats["tracked"], stats["delivered"], stats["requests"]) == (1, 1, 1), stats
    assert stats["queued"] == 0
    assert not any(count for name, count in stats.items() if name.startswith("dropped_")), stats
