"""What the single-screen scripts share (make_no_model_screenshot.py, make_missing_folder_screenshot.py): the main
window on a library at 1280x720, and its grab before the app quits."""

from __future__ import annotations

from pathlib import Path

WINDOW_SIZE = (1280, 720)


def show_main_window(library):
    from app.application import create_main_window

    window = create_main_window(library)
    window.resize(*WINDOW_SIZE)
    window.show()
    return window


def grab_and_quit(window, application, output: Path, note: str = "") -> None:
    window.grab().save(str(output))
    print("saved", output, *([f"| {note}"] if note else []))
    window.shutdown()
    application.quit()
