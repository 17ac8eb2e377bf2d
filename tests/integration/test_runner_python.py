"""With RDFLOW_TEST_RUNNER_PYTHON unset the sandbox finds an interpreter its user can run: the server's own, else a
runner venv built once under data_dir/runner/ (by one of two processes building at once); else a clear refusal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from domain.enums import TestType
from domain.ports import SourceFile
from integrations import runner_python
from integrations.sandbox import RunnerUnavailable, SandboxConfig, SandboxTestRunner
from tests.jobstack import ROOT
from tests.reachable import reachable_dir

AS_ROOT = os.geteuid() == 0
CALC = SourceFile("calc.py", b"def add(a, b):\n    return a + b\n")
TEST = SourceFile("tests/test_calc.py", b"from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")


def private_to_root(path: str) -> bool:
    """Whether some directory on the way to `path` (links resolved) is closed to other users."""
    real = Path(os.path.realpath(path))
    return any(not (d.stat().st_mode & 0o001) for d in real.parents)


@pytest.fixture
def data_dir():
    with reachable_dir("rdflow-data-") as parent:
        yield parent / "var"


async def test_unset_runs_the_tests_with_an_interpreter_the_sandbox_user_can_run(data_dir):
    runner = SandboxTestRunner(SandboxConfig(root=data_dir / "sandboxes"))
    report = await runner.run("auto", [CALC, TEST], TestType.UNIT)
    assert report.error is None and (report.total, report.passed) == (1, 1), report.output
    python = report.details["python"]
    if AS_ROOT and private_to_root(sys.executable):
        assert Path(python).is_relative_to(data_dir / "runner"), python
        assert list((data_dir / "runner").iterdir()) == [Path(python).parent.parent]
        again = await SandboxTestRunner(SandboxConfig(root=data_dir / "sandboxes")).resolve_python()
        assert again == python  # built once: a second runner (a restart, another worker) reuses it
    else:
        assert python == sys.executable


@pytest.mark.skipif(not runner_python.base_interpreters(), reason="no system python of this version")
def test_processes_building_the_runner_venv_at_once_leave_one_that_works(data_dir):
    base = runner_python.base_interpreters()[0]
    # Each builder uses the venv it was handed at once: none may get one another builder is still changing.
    build = textwrap.dedent(f"""
        import subprocess
        from pathlib import Path
        from integrations.runner_python import runner_venv, venv_python
        venv = runner_venv(Path({str(data_dir / "runner")!r}), {base!r})
        subprocess.run([str(venv_python(venv)), "-E", "-s", "-c", "import coverage, pytest, starlette, httpx"],
                       check=True)
        print(venv)
    """)
    builders = [
        subprocess.Popen([sys.executable, "-c", build], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    paths = {proc.communicate(timeout=120)[0].strip() for proc in builders}
    assert [proc.returncode for proc in builders] == [0, 0, 0, 0]
    assert len(paths) == 1
    venv = Path(paths.pop())
    assert sorted(p.name for p in (data_dir / "runner").iterdir()) == [venv.name]  # no half-built leftovers


@pytest.mark.skipif(not AS_ROOT or not private_to_root(sys.executable), reason="the server's python is reachable")
async def test_without_a_usable_interpreter_the_run_names_the_setting(data_dir, monkeypatch):
    monkeypatch.setattr(runner_python, "BASE_DIRS", ())
    runner = SandboxTestRunner(SandboxConfig(root=data_dir / "sandboxes"))
    with pytest.raises(RunnerUnavailable) as refused:
        await runner.run("none", [CALC, TEST], TestType.UNIT)
    message = str(refused.value)
    assert "RDFLOW_TEST_RUNNER_PYTHON" in message and sys.executable in message, message


@pytest.mark.skipif(not AS_ROOT, reason="only a root worker changes user")
async def test_a_data_dir_the_sandbox_user_cannot_reach_is_named(data_dir):
    private = data_dir / "private"
    private.mkdir(parents=True)
    os.chmod(private, 0o700)
    runner = SandboxTestRunner(SandboxConfig(root=private / "var" / "sandboxes"))
    with pytest.raises(RunnerUnavailable) as refused:
        await runner.run("unreachable", [CALC, TEST], TestType.UNIT)
    assert f"{private} is not traversable" in str(refused.value) and "RDFLOW_DATA_DIR" in str(refused.value)


def test_the_runner_venv_reads_the_servers_packages_without_installing_any(data_dir):
    bases = runner_python.base_interpreters()
    if not bases:
        pytest.skip("no system python of this version")
    venv = runner_python.runner_venv(data_dir / "runner", bases[0])
    python = str(runner_python.venv_python(venv))
    show = "import sys, coverage; print(sys.prefix); print(coverage.__file__); print(sys.path)"
    prefix, coverage_file, path = subprocess.run(
        [python, "-E", "-s", "-c", show], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert prefix == str(venv)
    assert any(coverage_file.startswith(site) for site in runner_python.server_site_packages()), coverage_file
    assert all(site in path for site in runner_python.server_site_packages())
    assert not (venv / "bin" / "pip").exists()
