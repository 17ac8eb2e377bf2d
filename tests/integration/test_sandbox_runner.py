"""The test sandbox runs real pytest subprocesses: passing and failing code, and code that misbehaves on purpose
(an endless loop, a secret hunt, a fork bomb, writes outside, a worker killed mid-run)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from domain.enums import TestType
from domain.ports import SourceFile
from integrations.sandbox import SandboxConfig, SandboxLimits, SandboxTestRunner, private_scratch_dirs
from tests.jobstack import ROOT
from tests.reachable import reachable_dir

AS_ROOT = os.geteuid() == 0
CALC = SourceFile("calc.py", b"def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
CANARY = "canary-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def runner_python():
    """The interpreter the product picks with RDFLOW_TEST_RUNNER_PYTHON unset, resolved once for the module."""
    with reachable_dir("rdflow-runner-") as data_dir:
        yield asyncio.run(SandboxTestRunner(SandboxConfig(root=data_dir / "sandboxes")).resolve_python())


@pytest.fixture
def sandbox_root():
    with reachable_dir("rdflow-sandboxes-") as root:
        yield root / "sandboxes"


def make_runner(root: Path, python: str, **limits) -> SandboxTestRunner:
    return SandboxTestRunner(SandboxConfig(root=root, python=python, limits=SandboxLimits(**limits)))


def suite(body: str, path: str = "tests/test_calc.py") -> SourceFile:
    return SourceFile(path, textwrap.dedent(body).encode())


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def assert_removed(root: Path, run_id: str) -> None:
    assert not (root / run_id).exists() and not (root / f"{run_id}.lock").exists(), list(root.iterdir())


async def test_a_passing_artifact_passes_with_its_coverage(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python)
    body = """
        from calc import add, sub

        def test_add():
            assert add(1, 2) == 3

        def test_sub():
            assert sub(3, 1) == 2
    """
    report = await runner.run("pass", [CALC, suite(body)], TestType.UNIT)
    assert report.error is None, report.output
    assert (report.total, report.passed, report.failed, report.skipped) == (2, 2, 0, 0)
    assert report.coverage is not None and report.coverage.percent == 100.0 and report.coverage.num_statements == 4
    assert report.details and report.details["coverageFiles"]["calc.py"]["percent"] == 100.0
    assert report.details["user"] == ("nobody" if AS_ROOT else "worker")
    assert_removed(sandbox_root, "pass")


async def test_failing_tests_are_stored_by_name_with_their_messages(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python)
    body = """
        import pytest
        from calc import add, sub

        def test_add_is_wrong():
            assert add(2, 2) == 5

        class TestSub:
            @pytest.mark.parametrize(("a", "b", "expected"), [(3, 1, 2), (3, 1, 5)])
            def test_sub(self, a, b, expected):
                assert sub(a, b) == expected, "subtraction is off"

        @pytest.mark.skip(reason="not yet")
        def test_later():
            pass
    """
    report = await runner.run("fail", [CALC, suite(body)], TestType.UNIT)
    assert report.error is None, report.output
    assert (report.total, report.passed, report.failed, report.skipped) == (4, 1, 2, 1)
    messages = {f.name: f.message for f in report.failures}
    assert set(messages) == {"tests/test_calc.py::test_add_is_wrong", "tests/test_calc.py::TestSub::test_sub[3-1-5]"}
    assert "assert 4 == 5" in messages["tests/test_calc.py::test_add_is_wrong"]
    assert "subtraction is off" in messages["tests/test_calc.py::TestSub::test_sub[3-1-5]"]
    assert_removed(sandbox_root, "fail")


async def test_an_endless_loop_is_killed_at_the_wall_clock_limit(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python, timeout_s=4)
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    body = f"""
        import subprocess

        def test_forever():
            subprocess.Popen(["sleep", "{marker}"])  # a child the kill must take too
            while True:
                pass
    """
    report = await runner.run("loop", [CALC, suite(body)], TestType.UNIT)
    assert report.error == "killed at the wall-clock limit of 4 s"
    assert report.exit_code == -signal.SIGKILL
    assert processes_with(marker) == []
    assert_removed(sandbox_root, "loop")


async def test_the_tests_find_none_of_the_servers_secrets_nor_its_network(sandbox_root, runner_python, monkeypatch):
    for name in ("JWT_SECRET", "RDFLOW_FERNET_KEY", "ANTHROPIC_API_KEY", "S3_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, CANARY)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rdflow:{CANARY}@db/rdflow")
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    runner = make_runner(sandbox_root, runner_python)
    body = f"""
        import os
        import socket

        import pytest

        def test_environment_holds_nothing_of_the_server():
            assert "{CANARY}" not in repr(dict(os.environ))
            pytest_own = {{"PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_CURRENT_TEST", "PYTEST_VERSION"}}
            allowed = {{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"}} | pytest_own
            assert set(os.environ) <= allowed, sorted(os.environ)

        def test_the_workers_environment_cannot_be_read():
            for pid in (os.getppid(), 1):
                try:
                    with open(f"/proc/{{pid}}/environ", "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                assert b"{CANARY}" not in data or not {AS_ROOT}

        def test_the_host_network_is_out_of_reach():
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    """
    try:
        report = await runner.run("secrets", [CALC, suite(body)], TestType.UNIT)
    finally:
        server.close()
    assert CANARY not in report.output
    assert report.details is not None
    if report.details["network"] == "isolated":
        assert report.error is None and report.failed == 0 and report.passed == 3, report.output
    else:  # no privilege to make a network namespace: the run says so, and only the network test fails
        assert [f.name for f in report.failures] == ["tests/test_calc.py::test_the_host_network_is_out_of_reach"]


async def test_a_fork_bomb_is_stopped_by_the_process_limit(sandbox_root, runner_python):
    if not AS_ROOT:
        pytest.skip("RLIMIT_NPROC counts every process of the worker's own user; shown here as root dropping to nobody")
    runner = make_runner(sandbox_root, runner_python, max_processes=24)
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    body = f"""
        import os

        def test_forks_without_end():
            while True:
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{marker}"])
    """
    report = await runner.run("bomb", [CALC, suite(body)], TestType.UNIT)
    assert report.error is None and report.failed == 1, report.output
    assert "Resource temporarily unavailable" in report.failures[0].message
    assert processes_with(marker) == []  # the children it left were killed with the run
    assert_removed(sandbox_root, "bomb")


async def test_writes_outside_the_sandbox_are_refused_and_sizes_capped(sandbox_root, runner_python, tmp_path):
    if not AS_ROOT:
        pytest.skip("confinement comes from dropping to the sandbox user, which needs root")
    outside = [tmp_path / "escape.txt", sandbox_root / "escape.txt", Path(runner_python).parent / "escape.txt"]
    body = f"""
        import errno
        import pytest

        @pytest.mark.parametrize("path", {[str(p) for p in outside]!r} + ["../escape.txt", "../../escape.txt"])
        def test_cannot_write_outside(path):
            with pytest.raises(PermissionError):
                with open(path, "w") as handle:
                    handle.write("escaped")

        def test_writes_inside_are_fine_but_bounded():
            with open("inside.txt", "w") as handle:
                handle.write("ok")
            with pytest.raises(OSError) as refused:
                with open("big.bin", "wb") as handle:
                    handle.write(b"x" * 2_000_000)
            assert refused.value.errno == errno.EFBIG

        def test_memory_is_capped():
            with pytest.raises(MemoryError):
                bytearray(1024**3)
    """
    runner = make_runner(sandbox_root, runner_python, max_file_bytes=1_000_000, memory_bytes=768 * 1024**2)
    report = await runner.run("escape", [CALC, suite(body)], TestType.UNIT)
    assert report.error is None and report.failed == 0 and report.passed == 7, report.output
    assert not any(p.exists() for p in outside)
    assert not (sandbox_root.parent / "escape.txt").exists()
    assert_removed(sandbox_root, "escape")


async def test_tmp_is_the_runs_own_when_the_machine_allows_namespaces():
    """With a mount namespace, /tmp, /var/tmp and /dev/shm are the run's tmp directory: writes there are confined to
    the run (and removed with it), and what other processes keep there is invisible."""
    # Neither the sandbox nor the interpreter under /tmp (a run keeps the directories holding them), as with the
    # default data directory, a checkout's var/.
    with reachable_dir("sandboxes-", ROOT / "var" / "test-sandboxes") as root:
        runner = SandboxTestRunner(SandboxConfig(root=root / "sandboxes"))
        if not await runner.isolated():
            pytest.skip("this machine refuses namespaces: /tmp stays shared (the sandbox user still owns nothing)")
        # A scratch directory holding the checkout or its interpreter stays shared (a checkout under /tmp keeps /tmp).
        isolated = private_scratch_dirs([str(root), sys.executable, str(ROOT)])
        if not isolated:
            pytest.skip("every scratch directory holds this checkout or its interpreter: none can be the run's own")
        token = uuid.uuid4().hex
        secret = Path(isolated[0]) / f"other-process-{token}"
        secret.write_text("not for the tests")
        escapes = [Path(d) / f"escape-{token}" for d in isolated]
        body = f"""
            import os

            def test_scratch_writes_stay_in_the_run():
                for path in {[str(p) for p in escapes]!r}:
                    with open(path, "w") as handle:
                        handle.write("confined")
                    assert open(path).read() == "confined"

            def test_what_others_keep_in_tmp_is_invisible():
                assert not os.path.exists({str(secret)!r})
        """
        try:
            report = await runner.run("scratch", [CALC, suite(body)], TestType.UNIT)
        finally:
            secret.unlink()
        assert report.error is None and (report.passed, report.failed) == (2, 0), report.output
        assert [p for p in escapes if p.exists()] == []
        assert_removed(root / "sandboxes", "scratch")


WORKER = """
import asyncio, sys
from pathlib import Path
from domain.enums import TestType
from domain.ports import SourceFile
from integrations.sandbox import SandboxConfig, SandboxLimits, SandboxTestRunner

root, python, body = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
runner = SandboxTestRunner(SandboxConfig(root=root, python=python, limits=SandboxLimits(timeout_s=200)))
asyncio.run(runner.run("killed", [SourceFile("tests/test_hang.py", body.encode())], TestType.UNIT))
"""


async def test_a_sandbox_is_removed_after_its_worker_was_killed(sandbox_root, runner_python):
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    body = textwrap.dedent(
        f"""
        import subprocess, time

        def test_hangs():
            subprocess.Popen(["sleep", "{marker}"])
            open("started", "w").close()
            time.sleep(600)
        """
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        str(sandbox_root),
        runner_python,
        body,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    started = sandbox_root / "killed" / "work" / "started"
    for _ in range(600):  # until the test is running (at most a minute)
        if started.exists() or worker.returncode is not None:
            break
        await asyncio.sleep(0.1)
    assert started.exists(), f"the worker exited with {worker.returncode}"
    pytest_pid = int((sandbox_root / "killed.lock").read_text())
    worker.send_signal(signal.SIGKILL)
    await worker.wait()

    for _ in range(100):  # PR_SET_PDEATHSIG: pytest dies with its worker
        if not Path(f"/proc/{pytest_pid}/cmdline").exists() or not Path(f"/proc/{pytest_pid}/cmdline").read_bytes():
            break
        await asyncio.sleep(0.1)
    assert not Path(f"/proc/{pytest_pid}/cmdline").exists() or not Path(f"/proc/{pytest_pid}/cmdline").read_bytes()
    assert processes_with(marker), "the grandchild outlives the worker until the sweep"
    assert (sandbox_root / "killed").exists()

    assert make_runner(sandbox_root, runner_python).sweep() == ["killed"]  # what a starting worker does
    assert processes_with(marker) == []
    assert_removed(sandbox_root, "killed")


async def test_a_live_run_is_not_swept_by_another_worker(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python)
    body = """
        import time
        from pathlib import Path

        def test_waits_for_the_sweep():
            open("started", "w").close()
            for _ in range(600):
                if Path("swept").exists():
                    return
                time.sleep(0.1)
    """
    run = asyncio.create_task(runner.run("live", [CALC, suite(body)], TestType.UNIT))
    started = sandbox_root / "live" / "work" / "started"
    for _ in range(600):
        if started.exists() or run.done():
            break
        await asyncio.sleep(0.1)
    assert make_runner(sandbox_root, runner_python).sweep() == []
    (sandbox_root / "live" / "work" / "swept").touch()
    report = await run
    assert report.error is None and report.passed == 1, report.output
    assert_removed(sandbox_root, "live")


async def test_a_cancelled_run_kills_its_processes_and_leaves_nothing(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python)
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    body = f"""
        import subprocess, time

        def test_hangs():
            subprocess.Popen(["sleep", "{marker}"])
            open("started", "w").close()
            time.sleep(600)
    """
    run = asyncio.create_task(runner.run("cancelled", [CALC, suite(body)], TestType.UNIT))
    started = sandbox_root / "cancelled" / "work" / "started"
    for _ in range(600):
        if started.exists() or run.done():
            break
        await asyncio.sleep(0.1)
    assert started.exists() and processes_with(marker)
    run.cancel()  # what cancelJob does to a running job
    with pytest.raises(asyncio.CancelledError):
        await run
    assert processes_with(marker) == []
    assert_removed(sandbox_root, "cancelled")


async def test_cpu_time_is_limited(sandbox_root, runner_python):
    runner = make_runner(sandbox_root, runner_python, cpu_s=1, timeout_s=100)
    body = """
        def test_spins():
            while True:
                pass
    """
    report = await runner.run("cpu", [CALC, suite(body)], TestType.UNIT)
    assert report.error == "stopped at the CPU time limit of 1 s", report.output
    assert report.exit_code == -signal.SIGXCPU
    assert_removed(sandbox_root, "cpu")
