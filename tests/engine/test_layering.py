"""The layers reach only where they should: the store opens a database without the network's stack (torch,
PyAV), the app reaches training only through the ``engine train`` command, and training uses engine modules
through their public names, never a private helper of another module."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
NETWORK_STACK = ("torch", "torchaudio", "av", "engine.analyzer", "engine.networks", "engine.model_folder")
OPEN_DATABASE = """
import json, sys
from pathlib import Path
from engine.store import Store
store = Store(Path(sys.argv[1]))
count = store.track_count()
print(json.dumps({{"tracks": count, "loaded": [name for name in {stack!r} if name in sys.modules]}}))
"""


def _imported_modules(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import statement in a Python file, wherever it sits (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_creating_and_opening_a_library_database_leaves_torch_and_pyav_unimported(tmp_path):
    database = tmp_path / "library.db"
    for _ in range(2):  # the first run creates the schema, the second opens what is there
        completed = subprocess.run([sys.executable, "-c", OPEN_DATABASE.format(stack=NETWORK_STACK), str(database)],
                                   capture_output=True, text=True, timeout=300, env=os.environ.copy())
        assert completed.returncode == 0, completed.stderr
        outcome = json.loads(completed.stdout)
        assert outcome == {"tracks": 0, "loaded": []}
    assert database.is_file()


def test_the_app_imports_no_training_module():
    reaching = [f"{path.name}: {module}" for path in sorted((REPOSITORY / "app").glob("*.py"))
                for module, _ in _imported_modules(path) if module == "training" or module.startswith("training.")]
    assert reaching == []


def test_training_imports_no_private_name_from_the_engine():
    private = [f"{path.relative_to(REPOSITORY)}: from {module} import {name}"
               for path in sorted((REPOSITORY / "training").rglob("*.py"))
               for module, names in _imported_modules(path) if module.startswith("engine")
               for name in names if name.startswith("_")]
    assert private == []
