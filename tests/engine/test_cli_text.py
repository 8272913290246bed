"""Human (non-JSON) output: the library's text is shown, never obeyed. A title or file name with a newline, a
carriage return, an ANSI escape or a bell cannot split a row or drive the terminal."""

from __future__ import annotations

from engine.cli import _say


def test_control_characters_in_library_text_are_shown_as_escapes(capsys):
    _say("#3 Evil\nTitle\r\x1b[31mred\x07\x9b - café (/music/a\nb.mp3)")
    out = capsys.readouterr().out
    assert out == "#3 Evil\\x0aTitle\\x0d\\x1b[31mred\\x07\\x9b - café (/music/a\\x0ab.mp3)\n"
    assert out.count("\n") == 1 and "\x1b" not in out


def test_a_ctrl_c_an_import_turned_into_its_own_error_still_ends_as_interrupted(monkeypatch, capsys):
    """torch's start-up catches a KeyboardInterrupt arriving while it loads numpy and raises "ImportError: cannot
    load module more than once per process": the command ends as interrupted (130, one line), not as a bug."""
    import signal

    import pytest

    from engine import cli

    def importing(_options) -> int:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise ImportError("cannot load module more than once per process") from None
        return 0

    def failing(_options) -> int:
        raise ImportError("a real import error")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job may
    try:  # have started with SIGINT ignored)
        monkeypatch.setattr(cli, "run_info", importing)
        assert cli.main(["info"]) == cli.EXIT_INTERRUPTED
        assert capsys.readouterr().err == "engine: interrupted\n"
        monkeypatch.setattr(cli, "run_info", failing)
        with pytest.raises(ImportError):  # without a Ctrl-C it is a bug, and surfaces
            cli.main(["info"])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
