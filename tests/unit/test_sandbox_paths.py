"""The sandbox's backstop: a task file it cannot write (a name too long, a path that is a file and a folder at once)
fails the run with RunnerUnavailable naming the file, not with an OSError naming the worker's directory."""

from __future__ import annotations

import pytest

from domain.ports import SourceFile
from integrations.sandbox import RunnerUnavailable, SandboxConfig, SandboxTestRunner


@pytest.mark.parametrize(
    "paths",
    [
        ["a" * 300 + "/test_a.py"],
        ["\u00e9" * 130 + ".py"],
        ["pkg", "pkg/test_x.py"],
        ["pkg/test_x.py", "pkg"],
    ],
    ids=["folder-300-bytes", "file-263-bytes", "file-then-under-it", "under-it-then-file"],
)
def test_a_file_the_sandbox_cannot_write_is_a_clear_runner_error(tmp_path, paths: list[str]):
    runner = SandboxTestRunner(SandboxConfig(root=tmp_path / "sandboxes"))
    sandbox = tmp_path / "sandboxes" / "run-1"
    with pytest.raises(RunnerUnavailable) as raised:
        runner._materialise(sandbox, [SourceFile(p, b"x = 1\n") for p in paths])
    message = raised.value.message
    assert repr(paths[-1]) in message and "cannot be written for the tests" in message, message
    assert str(tmp_path) not in message and "sandboxes" not in message, message
