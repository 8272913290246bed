"""Process-wide effects belong to the app's start-up (``app.application``), never to a constructor: building
the main window on its own leaves the interpreter as it was, and the start-up path applies them once."""

from __future__ import annotations

import gc
import sys

import pytest

DEFAULT_SWITCH_INTERVAL_SECONDS = 0.005  # Python's own


@pytest.fixture
def default_switch_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT_SWITCH_INTERVAL_SECONDS)
    yield
    sys.setswitchinterval(before)


def test_building_the_main_window_changes_nothing_process_wide(default_switch_interval, indexed_copy, task_runner,
                                                               qtbot):
    from app.main_window import MainWindow

    frozen_before = gc.get_freeze_count()
    window = MainWindow(indexed_copy, task_runner)
    qtbot.addWidget(window)
    assert sys.getswitchinterval() == DEFAULT_SWITCH_INTERVAL_SECONDS
    assert gc.get_freeze_count() == frozen_before
    assert window.tasks is task_runner
    window.shutdown()


def test_the_start_up_path_shortens_the_gil_interval_and_freezes_what_lives_as_long_as_the_app(
        default_switch_interval, make_window, indexed_copy):
    from app.application import GIL_SWITCH_INTERVAL_SECONDS

    frozen_before = gc.get_freeze_count()
    window = make_window(indexed_copy)
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)
    assert gc.get_freeze_count() > frozen_before
    assert window.tasks.wait_for_all()


def test_an_installed_copy_starts_the_app_by_its_gui_command_and_a_checkout_by_main_py():
    """A wheel holds no main.py: pyproject's gui-script ``semisup-music`` names the same start (``app.launch``)."""
    import importlib
    import subprocess
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["gui-scripts"]
    module, function = scripts["semisup-music"].split(":")
    assert callable(getattr(importlib.import_module(module), function))
    shown = subprocess.run([sys.executable, "main.py", "--help"], cwd=root, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: main.py") and "--db" in shown.stdout
