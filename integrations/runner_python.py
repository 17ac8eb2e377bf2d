"""The interpreter the test sandbox falls back to: a venv, built once under `data_dir/runner/`, of a system python of
the server's version that reads the server's installed packages through a .pth file (no network, nothing installed).

It exists for servers whose own interpreter the sandbox user cannot execute (a pyenv python under /root, mode 0700)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Where a system python of the server's version is looked for (the sandbox user must be able to execute it).
BASE_DIRS: Sequence[str] = ("/usr/bin", "/usr/local/bin", "/opt/python/bin")
VENV_TIMEOUT_S = 120
PTH = "rdflow-server.pth"


def version_name() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def base_interpreters() -> list[str]:
    """System interpreters of the server's major.minor version, in preference order."""
    found: list[str] = []
    for directory in BASE_DIRS:
        path = os.path.join(directory, version_name())
        if os.access(path, os.X_OK) and os.path.realpath(path) not in map(os.path.realpath, found):
            found.append(path)
    return found


def server_site_packages() -> list[str]:
    """The server's installed packages (its venv's site-packages), which the runner venv reads."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def pth_line(site: Sequence[str]) -> str:
    """Adds the server's site-packages as site directories: their own .pth files apply too, as in the server."""
    return "import site; " + "; ".join(f"site.addsitedir({path!r})" for path in site) + "\n"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def runner_venv(home: Path, base: str) -> Path:
    """The venv of `base` under `home` that reads the server's packages, built now unless an earlier call (in any
    process) built it: each build happens in a private temporary directory renamed into place, so a venv at the
    final path is complete and two builders at once leave one of them."""
    site = server_site_packages()
    key = hashlib.sha256(f"{os.path.realpath(base)}\n{pth_line(site)}".encode()).hexdigest()[:12]
    target = home / f"{version_name()}-{key}"
    if venv_python(target).exists():
        return target
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)
    building = Path(tempfile.mkdtemp(prefix=".build-", dir=home))
    try:
        venv = building / "venv"
        subprocess.run(
            [base, "-m", "venv", "--without-pip", str(venv)],
            check=True,
            capture_output=True,
            timeout=VENV_TIMEOUT_S,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        (venv / "lib" / version_name() / "site-packages" / PTH).write_text(pth_line(site))
        _make_readable(venv)
        with contextlib.suppress(OSError):  # another builder's venv already there: keep it
            os.rename(venv, target)
        if not venv_python(target).exists():
            raise OSError(f"could not put the runner venv in place at {target}")
        return target
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _make_readable(root: Path) -> None:
    """Everyone may read the venv and run its interpreter, whatever the server's umask."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444 | (0o111 if os.access(path, os.X_OK) else 0))
