"""The package layers contract (pyproject.toml ``[tool.importlinter]``) holds, and can fail.

``make check`` runs lint-imports on the checkout; these run it on a copy, once as it is and once
with an import a capability must not make, so the contract is shown to be able to fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for root in ("src", "client/src"):
        shutil.copytree(
            REPO / root / "event_capture",
            tmp_path / root / "event_capture",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


_LINT = (
    "import sys\nfrom importlinter.cli import lint_imports\nsys.exit(lint_imports(no_cache=True))\n"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # -S: not the venv's .pth, which names the checkout's source roots; the copy's instead, and
    # the venv's packages (import-linter) after them.
    path = [tree / "src", tree / "client" / "src", Path(sysconfig.get_paths()["purelib"])]
    return subprocess.run(
        [sys.executable, "-S", "-c", _LINT],
        cwd=tree,
        env={"PYTHONPATH": ":".join(map(str, path))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layers_hold(tree: Path) -> None:
    result = lint(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("collector/handler.py", "event_capture.ingest.pipeline"),
        ("features/serve.py", "event_capture.ingest.config"),
        ("platform/config.py", "event_capture.contracts.capture_config"),
        ("contracts/capture.py", "event_capture.ingest.answer"),
    ],
    ids=["capability-to-capability", "features-to-ingest", "platform-up", "contracts-up"],
)
def test_an_import_across_the_layers_breaks_the_contract(
    tree: Path, module: str, imported: str
) -> None:
    path = tree / "src" / "event_capture" / module
    path.write_text(path.read_text() + f"\nimport {imported}  # noqa\n")

    result = lint(tree)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout and imported in result.stdout
