"""How the ``engine`` process ends (``engine.process_exit``): with torch loaded, Python's exit handlers run and the
output is whole, then the process leaves without unloading torch's CUDA libraries (whose teardown made the end of
an index run its peak of resident memory); without torch, or with another thread still at work, a normal exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from engine import process_exit

EXIT_SCRIPT = textwrap.dedent("""
    import atexit, sys, tempfile, threading
    {imports}
    from engine.process_exit import exit_process
    folder = tempfile.TemporaryDirectory(prefix="engine-exit-test-")  # its finalizer runs at exit
    print(folder.name)
    atexit.register(lambda: print("handler ran"))
    sys.stdout.write("x" * 200_000 + "\\n")  # more than a pipe holds: the buffer must be flushed, not dropped
    {thread}
    exit_process(5)
""")


def _run(imports: str = "import torch", thread: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    script = EXIT_SCRIPT.format(imports=imports, thread=thread)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    return result, result.stdout.splitlines()


@pytest.mark.parametrize("imports", ["import torch", ""])
def test_the_code_the_output_and_the_exit_handlers_survive(imports):
    from pathlib import Path

    result, lines = _run(imports)
    assert result.returncode == 5 and result.stderr == ""
    assert lines[1] == "x" * 200_000 and lines[2] == "handler ran"
    assert not Path(lines[0]).exists()  # the temporary folder's finalizer ran


def test_a_thread_still_at_work_is_waited_for():
    worker = 'threading.Thread(target=lambda: (__import__("time").sleep(0.5), print("thread done"))).start()'
    result, lines = _run(thread=worker)
    assert result.returncode == 5 and "thread done" in lines


def test_with_torch_loaded_the_process_skips_teardown(monkeypatch):
    import torch  # noqa: F401  (the condition)

    calls: list = []
    monkeypatch.setattr(process_exit.threading, "active_count", lambda: 1)
    monkeypatch.setattr(process_exit.atexit, "_run_exitfuncs", lambda: calls.append("exit handlers"))

    def leave(code: int) -> None:
        calls.append(("os._exit", code))
        raise SystemExit(code)

    monkeypatch.setattr(process_exit.os, "_exit", leave)
    with pytest.raises(SystemExit):
        process_exit.exit_process(3)
    assert calls == ["exit handlers", ("os._exit", 3)]

    calls.clear()
    monkeypatch.delitem(sys.modules, "torch")
    with pytest.raises(SystemExit) as ended:
        process_exit.exit_process(4)
    assert ended.value.code == 4 and calls == []  # a normal exit: nothing to skip


def test_the_console_command_leaves_training_and_evaluation_to_python(monkeypatch):
    """``engine train`` / ``engine eval`` write many files over long runs: they end as Python ends; the engine's own
    commands end through ``exit_process``."""
    from engine import cli

    ended: list = []
    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.setattr(process_exit, "exit_process", lambda code: ended.append(code))
    for arguments, through_exit_process in ((["--json", "train", "--help"], False), (["eval", "--help"], False),
                                            (["index", "folder"], True), (["--db", "x.db", "info"], True)):
        ended.clear()
        monkeypatch.setattr(sys, "argv", ["engine", *arguments])
        if through_exit_process:
            cli.run()
            assert ended == [0]
        else:
            with pytest.raises(SystemExit) as exited:
                cli.run()
            assert exited.value.code == 0 and ended == []
