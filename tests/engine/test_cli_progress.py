"""The index progress display: a bar that fits an 80-column terminal, and plain lines now and then when stderr
goes to a log instead of a terminal (nohup, a service), where a live bar shows nothing."""

from __future__ import annotations

from engine import cli_progress
from engine.results import IndexProgress


def test_progress_goes_to_a_log_as_plain_lines_now_and_then(capsys, monkeypatch):
    monkeypatch.setattr(cli_progress, "LOG_EVERY_SECONDS", 0.0)
    with cli_progress.IndexProgressDisplay() as display:  # pytest's stderr is no terminal
        display.update(IndexProgress("analyse", 120, 480, 40.0, 1200.0, files_found=2400, scan_finished=False))
    err = capsys.readouterr().err
    assert err.startswith("engine: 2,400 found") and "120 / 480 analysed" in err and err.count("\n") == 1


def test_no_log_lines_before_the_interval(capsys):
    with cli_progress.IndexProgressDisplay() as display:
        display.update(IndexProgress("analyse", 1, 10, 1.0, 30.0, files_found=10))
    assert capsys.readouterr().err == ""


def test_a_narrow_terminal_leaves_out_the_real_time_factor(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cli_progress.IndexProgressDisplay()
    monkeypatch.setenv("COLUMNS", "160")
    wide = cli_progress.IndexProgressDisplay()
    assert len(wide.bar.columns) == len(narrow.bar.columns) + 1
