"""The TestRunner adapter: pytest in a throw-away directory, as an unprivileged user, under resource limits.

Each run lives in `<root>/<run id>/` (work: the files and cwd, out: the reports, tmp: HOME and TMPDIR) next to
`<root>/<run id>.lock`, which the running worker holds locked (flock) and which names the run's process group.
A lock nobody holds means its worker died: `sweep` kills that group and removes the directory."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from domain.enums import TestType
from domain.errors import DomainError
from domain.ports import SourceFile, TestRunReport
from integrations import runner_python
from integrations.sandbox_reports import parse_coverage, parse_junit, read_untrusted

log = logging.getLogger("rdflow.tests")

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
# The machine's shared scratch directories: in the run's mount namespace each is its own tmp directory.
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
PR_SET_PDEATHSIG = 1
MAX_OUTPUT = 20_000
# Files by which pytest recognises a project's own configuration (then it is the run's rootdir and config).
PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
LOCK_SUFFIX = ".lock"

# Runs inside the sandbox: pytest under coverage.py, reports written to the out directory (argv[1]).
DRIVER = r"""
import sys

import coverage
import pytest

out = sys.argv[1]
cov = coverage.Coverage(
    data_file=out + "/.coverage",
    source=["."],
    omit=["*/tests/*", "tests/*", "*/test_*.py", "test_*.py", "*_test.py", "*/conftest.py", "conftest.py"],
)
cov.start()
try:
    code = pytest.main(sys.argv[2:])
finally:
    cov.stop()
    cov.save()
try:
    cov.json_report(outfile=out + "/coverage.json")
except coverage.exceptions.CoverageException:
    pass
sys.exit(int(code))
"""

# Which tests a run selects: unit runs leave out tests marked integration or e2e.
MARKERS = {
    TestType.UNIT: "not integration and not e2e",
    TestType.INTEGRATION: "not e2e",
    TestType.E2E: "",
}

PYTEST_EXIT = {
    2: "pytest was interrupted (a test module failed to import or collect)",
    3: "pytest failed with an internal error",
    4: "pytest was called wrongly",
    5: "no tests were collected",
}


class RunnerUnavailable(DomainError):
    """The runner itself cannot work (its interpreter, user or directory): a configuration problem, not a test."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 120.0
    cpu_s: int = 120
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 64
    max_file_bytes: int = 64 * 1024**2
    max_open_files: int = 256


@dataclass(frozen=True)
class SandboxConfig:
    root: Path
    python: str | None = None  # None: the server's own when the sandbox user can run it, else a runner venv
    limits: SandboxLimits = SandboxLimits()
    user: str | None = None  # as root: the user to run as (default nobody); ignored otherwise
    network: Literal["auto", "isolated", "shared"] = "auto"
    runner_home: Path | None = None  # where the runner venv is built (default: `runner/` beside `root`)


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    name: str


def sandbox_identity(user: str | None) -> Identity | None:
    """Who the tests run as: as root, `user` (default nobody), since root ignores RLIMIT_NPROC and writes anywhere;
    otherwise the current user (None: no change)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwuid(int(user)) if user and user.isdigit() else pwd.getpwnam(user or "nobody")
    if entry.pw_uid == 0:
        raise RunnerUnavailable("the test sandbox user must not be root")
    return Identity(entry.pw_uid, entry.pw_gid, entry.pw_name)


_libc = ctypes.CDLL(None, use_errno=True)


def private_scratch_dirs(keep: Sequence[str]) -> list[str]:
    """The shared scratch directories a run gets its own copy of: all but those holding a path it needs (`keep`: the
    sandbox and the interpreter, when the data directory is itself under /tmp)."""
    kept = {os.path.abspath(p) for p in keep} | {os.path.realpath(p) for p in keep}  # a venv's python is a link
    return [
        d
        for d in SHARED_SCRATCH
        if os.path.isdir(d)
        and not any(os.path.commonpath([os.path.realpath(d), k]) == os.path.realpath(d) for k in kept)
    ]


def _private_scratch(scratch: Path, targets: Sequence[str]) -> None:
    """In a new mount namespace (the child's alone), bind `scratch` over each target (/tmp, /var/tmp, /dev/shm): what
    the tests write there lands in the run's directory and goes with it; what others left there is not visible."""
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making / private in the new mount namespace failed")
    for target in targets:
        if _libc.mount(bytes(scratch), target.encode(), None, MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), f"binding the run's tmp over {target} failed")


def _child_setup(
    limits: SandboxLimits, who: Identity | None, isolate: bool, scratch: Path, keep: Sequence[str]
) -> Callable[[], None]:
    """Runs in the forked child before exec (after setsid): namespaces (network, and mounts with a private /tmp),
    limits, then drop privileges, then ask to be killed with the worker (PR_SET_PDEATHSIG, which a uid change
    resets)."""
    parent = os.getpid()
    targets = private_scratch_dirs([str(scratch), *keep]) if isolate else []
    rlimits = [
        (resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1)),
        (resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)),
        (resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes)),
        (resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes)),
        (resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]

    def setup() -> None:
        if isolate:
            if _libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET | CLONE_NEWNS) failed")
            _private_scratch(scratch, targets)
        for which, value in rlimits:
            resource.setrlimit(which, value)
        if who is not None:
            os.setgroups([])
            os.setresgid(who.gid, who.gid, who.gid)
            os.setresuid(who.uid, who.uid, who.uid)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before the request took effect
            os._exit(1)

    return setup


def _group_members(pgid: int, uid: int | None) -> list[int]:
    """Live (not zombie) processes in process group `pgid`, owned by `uid` when given: a group id recorded by a
    dead worker is only trusted while processes of the sandbox user still carry it."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            owner = entry.stat().st_uid
        except OSError:
            continue
        state, _ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z" and (uid is None or owner == uid):
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, uid: int | None) -> None:
    """SIGKILL the run's whole process group (children the tests started, a fork bomb's copies): killpg reaches
    every member at once, so a fork racing the kill cannot leave a survivor in the group."""
    for _ in range(20):
        if not _group_members(pgid, uid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    log.warning("test sandbox process group %d still has members after SIGKILL", pgid)


def remove_tree(path: Path) -> None:
    """Delete a sandbox directory whatever the tests did to its permissions; never follows symlinks."""

    def unlock(func: Callable[..., object], target: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            func(target)

    for _ in range(3):  # a process still dying may add a file while we delete
        if not path.exists() and not path.is_symlink():
            return
        shutil.rmtree(path, onerror=unlock)


@contextlib.contextmanager
def _held(lock: Path, *, create: bool) -> Iterator[int | None]:
    """The lock file's fd while we hold its flock; None when another live process holds it (or it is gone)."""
    try:
        fd = os.open(lock, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        yield fd if same else None
    finally:
        os.close(fd)


def _recorded_group(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


class SandboxTestRunner:
    def __init__(self, config: SandboxConfig):
        self.config = config
        self.root = config.root
        self._identity_problem: str | None = None
        try:
            self.who = sandbox_identity(config.user)
        except (KeyError, RunnerUnavailable) as exc:  # reported by each run, not at start-up
            self.who, self._identity_problem = None, f"no usable test sandbox user {config.user or 'nobody'}: {exc}"
        self._network: bool | None = None  # isolated? decided by the first run's probe
        self._python: str | None = None  # the interpreter, decided by the first run's probe
        self._probe_lock = asyncio.Lock()

    @property
    def runner_home(self) -> Path:
        return self.config.runner_home or self.root.parent / "runner"

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)  # the sandbox user reaches its own directory, lists no one else's
        if self.who is not None and (blocked := self._untraversable(self.root)) is not None:
            raise RunnerUnavailable(
                f"the test sandbox user {self.who.name} cannot reach {self.root}: {blocked} is not traversable "
                "(make RDFLOW_DATA_DIR and its parents o+x)"
            )

    def _untraversable(self, path: Path) -> Path | None:
        """The first directory on the way to `path` that the sandbox user may not enter, if any."""
        assert self.who is not None
        for directory in [*reversed(path.resolve().parents), path.resolve()]:
            info = directory.stat()
            if info.st_uid == self.who.uid:
                allowed = info.st_mode & stat.S_IXUSR
            elif info.st_gid == self.who.gid:
                allowed = info.st_mode & stat.S_IXGRP
            else:
                allowed = info.st_mode & stat.S_IXOTH
            if not allowed:
                return directory
        return None

    def sweep(self) -> list[str]:
        """Remove every sandbox whose worker is gone (killing what it left running); returns their names."""
        if not self.root.is_dir():
            return []
        removed = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.endswith(LOCK_SUFFIX):
                continue
            lock = self.root / (entry.name + LOCK_SUFFIX)
            with _held(lock, create=True) as fd:
                if fd is None:
                    continue
                self._discard(entry, fd)
                lock.unlink(missing_ok=True)
            removed.append(entry.name)
        if removed:
            log.info("removed %d stale test sandbox(es): %s", len(removed), ", ".join(removed))
        return removed

    def _discard(self, sandbox: Path, fd: int) -> None:
        pgid = _recorded_group(fd)
        if pgid is not None:
            kill_group(pgid, self.who.uid if self.who else os.getuid())
        remove_tree(sandbox)

    async def run(self, run_id: str, files: Sequence[SourceFile], test_type: TestType) -> TestRunReport:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ValueError(f"bad run id {run_id!r}")
        if self._identity_problem:
            raise RunnerUnavailable(self._identity_problem)
        self._prepare_root()
        isolate = await self._probe()
        sandbox, lock = self.root / run_id, self.root / (run_id + LOCK_SUFFIX)
        with _held(lock, create=True) as fd:
            if fd is None:
                raise RunnerUnavailable(f"test run {run_id} is already running")
            # Files and processes are handled off the event loop; the spawn stays on it (PR_SET_PDEATHSIG watches
            # the thread that forked).
            try:
                await asyncio.to_thread(self._discard, sandbox, fd)  # what a killed earlier attempt left
                work = await asyncio.to_thread(self._materialise, sandbox, files)
                return await self._execute(sandbox, work, fd, test_type, isolate)
            finally:
                self._discard(sandbox, fd)  # synchronously: a second cancellation must not cut the clean-up short
                lock.unlink(missing_ok=True)

    def _materialise(self, sandbox: Path, files: Sequence[SourceFile]) -> Path:
        work = sandbox / "work"
        for sub in ("work", "out", "tmp"):
            (sandbox / sub).mkdir(parents=True, mode=0o700)
        for f in files:
            target = (work / f.path).resolve()
            if not target.is_relative_to(work.resolve()):
                raise RunnerUnavailable(f"file path {f.path!r} leaves the sandbox")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.content)
            except OSError as exc:  # a name too long, a file where a folder is needed (or the reverse)
                # Its strerror alone: the error's own text names the worker's directory.
                reason = exc.strerror or type(exc).__name__
                raise RunnerUnavailable(f"file path {f.path!r} cannot be written for the tests: {reason}") from exc
        if not any((work / name).is_file() for name in PYTEST_CONFIGS):
            (sandbox / "out" / "pytest.ini").write_text("[pytest]\n")
        # The run's own directory stays the worker's (the reports' parent cannot be swapped); its parts are the user's.
        os.chmod(sandbox, 0o711)
        if self.who is not None:
            for part in ("work", "out", "tmp"):
                for dirpath, dirnames, filenames in os.walk(sandbox / part):
                    for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                        os.lchown(name, self.who.uid, self.who.gid)
        return work

    def _command(self, out: Path, test_type: TestType) -> list[str]:
        assert self._python is not None  # set by the probe
        command = [self._python, "-E", "-s", "-B", "-c", DRIVER, str(out)]
        # Without a configuration of its own, pytest would search upwards from the work directory and take whatever
        # project holds the data directory (the server's own checkout, with `var/`) as the rootdir and config.
        if (out / "pytest.ini").is_file():
            command += ["-c", str(out / "pytest.ini"), "--rootdir", str(out.parent / "work")]
        command += ["-q", "-p", "no:cacheprovider", "-p", "anyio.pytest_plugin", "-o", "junit_family=xunit1"]
        command.append(f"--junitxml={out}/junit.xml")
        if MARKERS[test_type]:
            command += ["-m", MARKERS[test_type]]
        return command

    def _environment(self, sandbox: Path) -> dict[str, str]:
        """The tests' whole environment: nothing of the worker's (no secrets, no RDFLOW_* settings)."""
        home = str(sandbox / "tmp")
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": home,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            # Only the runner extra's plugins (anyio's, loaded by the command): the same tests wherever they run.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }

    async def _spawn(
        self, command: list[str], cwd: Path, env: dict[str, str], output: int, isolate: bool
    ) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_setup(self.config.limits, self.who, isolate, cwd.parent / "tmp", command[:1]),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RunnerUnavailable(self._cannot_start(command[0], exc)) from exc

    @property
    def _who_name(self) -> str:
        return self.who.name if self.who else "the worker's user"

    def _cannot_start(self, python: str, exc: BaseException) -> str:
        return (
            f"the test runner cannot start {python} as {self._who_name}: {exc} "
            "(set RDFLOW_TEST_RUNNER_PYTHON to an interpreter with the runner extra that this user may execute)"
        )

    async def _check(self, python: str, isolate: bool) -> tuple[int | None, str]:
        """Run `import coverage, pytest` with `python` as the sandbox user: (exit code, output); raises when the
        process cannot start."""
        proc = await asyncio.create_subprocess_exec(
            python,
            "-E",
            "-s",
            "-c",
            "import coverage, pytest",
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_child_setup(self.config.limits, self.who, isolate, self.root, [python]),
        )
        out, _ = await proc.communicate()
        return proc.returncode, out.decode(errors="replace")[-500:].strip()

    async def _usable(self, python: str, reasons: list[str]) -> bool:
        try:
            code, out = await self._check(python, isolate=False)
        except (OSError, subprocess.SubprocessError) as exc:
            reasons.append(f"{python} cannot start ({exc})")
            return False
        if code != 0:
            reasons.append(f"{python} cannot import pytest and coverage ({out})")
        return code == 0

    async def resolve_python(self) -> str:
        """The interpreter the tests run with: RDFLOW_TEST_RUNNER_PYTHON when set; else the server's own when the
        sandbox user can run it with pytest and coverage; else the runner venv (integrations/runner_python.py)."""
        if self.config.python:
            return self.config.python
        reasons: list[str] = []
        if await self._usable(sys.executable, reasons):
            return sys.executable
        bases = runner_python.base_interpreters()
        if not bases:
            reasons.append(f"no {runner_python.version_name()} in {', '.join(runner_python.BASE_DIRS)}")
        for base in bases:
            try:
                venv = await asyncio.to_thread(runner_python.runner_venv, self.runner_home, base)
            except (OSError, subprocess.SubprocessError) as exc:
                reasons.append(f"no runner venv of {base} under {self.runner_home} ({exc})")
                continue
            python = str(runner_python.venv_python(venv))
            if await self._usable(python, reasons):
                log.info(
                    "test sandbox: the server's interpreter is out of reach of %s; using %s", self._who_name, python
                )
                return python
        raise RunnerUnavailable(
            f"no interpreter that {self._who_name} may run with pytest and coverage: {'; '.join(reasons)}. "
            "Set RDFLOW_TEST_RUNNER_PYTHON to one with the runner extra that this user may execute"
        )

    async def isolated(self) -> bool:
        """Whether runs get their own network and scratch directories (namespaces), as the probe found."""
        self._prepare_root()
        return await self._probe()

    async def _probe(self) -> bool:
        """Once: which interpreter (it must run as the sandbox user with pytest and coverage), and may it run in
        a network namespace?"""
        async with self._probe_lock:
            if self._network is not None:
                return self._network
            python = await self.resolve_python()
            modes = {"auto": (True, False), "isolated": (True,), "shared": (False,)}[self.config.network]
            failure: BaseException | None = None
            for isolate in modes:
                try:
                    code, out = await self._check(python, isolate)
                except (OSError, subprocess.SubprocessError) as exc:
                    failure = exc
                    continue
                if code != 0:
                    raise RunnerUnavailable(f"{python} lacks pytest or coverage (install the runner extra): {out}")
                self._python, self._network = python, isolate
                log.info("test sandbox: network %s", "isolated" if isolate else "shared (no privilege to isolate)")
                return isolate
            assert failure is not None
            raise RunnerUnavailable(self._cannot_start(python, failure))

    async def _execute(
        self, sandbox: Path, work: Path, lock_fd: int, test_type: TestType, isolate: bool
    ) -> TestRunReport:
        out = sandbox / "out"
        limits = self.config.limits
        started = time.monotonic()
        output_path = sandbox / "output.txt"
        output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            command, env = self._command(out, test_type), self._environment(sandbox)
            proc = await self._spawn(command, work, env, output, isolate)
        finally:
            os.close(output)
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, str(proc.pid).encode(), 0)  # the group's id: start_new_session made it its leader
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), limits.timeout_s)
        except TimeoutError:
            timed_out = True
        finally:
            kill_group(proc.pid, self.who.uid if self.who else os.getuid())
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
        duration_ms = int((time.monotonic() - started) * 1000)
        return self._report(out, output_path, proc.returncode, timed_out, duration_ms, isolate)

    def _report(
        self, out: Path, output_path: Path, code: int | None, timed_out: bool, duration_ms: int, isolate: bool
    ) -> TestRunReport:
        # NUL is the one character a PostgreSQL JSON value cannot hold.
        raw_output = (read_untrusted(output_path, MAX_OUTPUT, tail=True) or b"").decode(errors="replace")
        raw_output = raw_output.replace("\x00", "\ufffd")
        junit = read_untrusted(out / "junit.xml")
        totals = None
        problems = []
        if junit:
            try:
                totals = parse_junit(junit)
            except Exception as exc:  # noqa: BLE001 - a report the tests corrupted is a broken run, not a crash
                problems.append(f"unreadable JUnit report: {exc}")
        coverage = files = None
        data = read_untrusted(out / "coverage.json")
        if data:
            try:
                coverage, files = parse_coverage(data)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"unreadable coverage report: {exc}")
        error = self._error(code, timed_out, totals is not None and totals.failed > 0)
        if error is None and totals is None:
            error = "pytest wrote no JUnit report"
        details = {
            "exitCode": code,
            "network": "isolated" if isolate else "shared",
            "user": self.who.name if self.who else "worker",
            "python": self._python,
            "limits": {
                "timeoutS": self.config.limits.timeout_s,
                "cpuS": self.config.limits.cpu_s,
                "memoryBytes": self.config.limits.memory_bytes,
                "maxProcesses": self.config.limits.max_processes,
            },
            "coverageFiles": files or {},
            "failureDetails": totals.details if totals else [],
            "problems": problems,
        }
        return TestRunReport(
            total=totals.total if totals else 0,
            passed=totals.passed if totals else 0,
            failed=totals.failed if totals else 0,
            skipped=totals.skipped if totals else 0,
            duration_ms=duration_ms,
            failures=tuple(totals.failures) if totals else (),
            coverage=coverage,
            exit_code=code,
            error=error,
            output=raw_output,
            details=details,
        )

    def _error(self, code: int | None, timed_out: bool, failures: bool) -> str | None:
        limits = self.config.limits
        if timed_out:
            return f"killed at the wall-clock limit of {limits.timeout_s:g} s"
        if code is None or code == 0:
            return None
        if code == 1:
            return None if failures else "pytest reported failures but no failing test"
        if code == -signal.SIGXCPU:
            return f"stopped at the CPU time limit of {limits.cpu_s} s"
        if code < 0:
            return f"the test process died of {signal.Signals(-code).name}"
        return PYTEST_EXIT.get(code, f"pytest exited with status {code}")
