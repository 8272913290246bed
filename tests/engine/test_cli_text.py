"""Human (non-JSON) output: the library's text is shown, never obeyed. A title or file name with a newline, a
carriage return, an ANSI escape or a bell cannot split a row or drive the terminal."""

from __future__ import annotations

from engine.cli import _say


def test_control_characters_in_library_text_are_shown_as_escapes(capsys):
    _say("#3 Evil\nTitle\r\x1b[31mred\x07\x9b - café (/music/a\nb.mp3)")
    out = capsys.readouterr().out
    assert out == "#3 Evil\\x0aTitle\\x0d\\x1b[31mred\\x07\\x9b - café (/music/a\\x0ab.mp3)\n"
    assert out.count("\n") == 1 and "\x1b" not in out
