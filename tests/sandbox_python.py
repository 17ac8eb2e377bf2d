"""An interpreter the test sandbox's user can run, with the runner extra, and directories that user can reach.

As root the sandbox drops to `nobody`, who may not be able to reach this venv's interpreter (pyenv keeps it under
/root, mode 0700). Then a venv of the system's python of the same version is made, reading the project venv's
site-packages through a .pth file: the same packages, no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHECK = "import coverage, pytest, starlette, httpx"


def _runs_as_sandbox_user(python: str) -> bool:
    user = "nobody" if os.geteuid() == 0 else None
    try:
        done = subprocess.run(
            [python, "-E", "-s", "-c", CHECK], user=user, cwd="/", capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@contextmanager
def reachable_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory under the system temp dir whose path the sandbox user may traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def sandbox_python() -> Iterator[str]:
    if _runs_as_sandbox_user(sys.executable):
        yield sys.executable
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}") if os.access(p, os.X_OK)), None)
    if base is None:
        pytest.skip(f"no {version} the sandbox user may run (set RDFLOW_TEST_RUNNER_PYTHON in production)")
    with reachable_dir("rdflow-runner-python-") as root:
        subprocess.run([base, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
        site = root / "venv" / "lib" / version / "site-packages"
        (site / "rdflow-project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        python = str(root / "venv" / "bin" / "python")
        if not _runs_as_sandbox_user(python):
            pytest.skip(f"{python} cannot import the runner extra as the sandbox user")
        yield python
