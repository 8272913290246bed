"""Commands that run no network start fast: they never import torch, torchaudio, PyAV, the analyzer, nor mutagen;
the commands that read no arrays (``info``, ``problems``) neither numpy nor SQLAlchemy, and a search by track id
not SQLAlchemy (a current library is read with ``sqlite3``: ``engine.library_reader``).

Each command runs in a fresh interpreter (``sys.modules`` of the test process already holds torch), through the
same ``engine.cli.main`` as the console script, and reports which heavy modules it imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HEAVY_MODULES = ("torch", "torchaudio", "av", "engine.analyzer", "engine.networks", "engine.model_folder",
                 "mutagen")  # mutagen: only a command that reads or writes a file's tags
ARRAY_MODULES = ("numpy", "faiss", "engine.landmarks", "engine.tempo")  # numpy: 0.1-0.2 s of a start (BENCHMARKS.md)
DATABASE_LAYER = ("sqlalchemy", "engine.library", "engine.store")  # SQLAlchemy: 0.2-0.3 s of a start
PROBE = """
import contextlib, io, json, sys
from engine import cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = cli.main(sys.argv[1:])
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy, "stdout": out.getvalue()}}))
"""


def _run_fresh(*arguments: str, modules: tuple[str, ...] = HEAVY_MODULES) -> dict:
    completed = subprocess.run([sys.executable, "-c", PROBE.format(heavy=modules), *arguments],
                               capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_reading_commands_leave_torch_and_pyav_unimported(indexed_library, model_dir, tmp_path):
    database, report = indexed_library
    common = ("--db", str(database), "--model", str(model_dir), "--json")
    commands = {
        "info": ("info",),
        "problems": ("problems",),
        "similar by track id": ("similar", "3", "-k", "5"),
        "playlist": ("playlist", "3", "-n", "5", "-o", str(tmp_path / "radio.m3u8")),
        "tag suggestions": ("tag", "--suggest"),
    }
    for name, command in commands.items():
        outcome = _run_fresh(*command, *common)
        assert outcome["heavy"] == [], f"{name} imported {outcome['heavy']}"
        assert outcome["code"] in (0, 1), name
    info = json.loads(_run_fresh("info", *common)["stdout"])
    assert info["tracks"] == report.added and info["model"] is not None
    similar = json.loads(_run_fresh("similar", "3", "-k", "5", *common)["stdout"])
    assert len(similar[0]["results"]) == 5 and all(hit["track_id"] != 3 for hit in similar[0]["results"])


def test_info_and_problems_leave_numpy_and_sqlalchemy_unimported(indexed_library, model_dir):
    database, report = indexed_library
    for command in ("info", "problems"):
        outcome = _run_fresh(command, "--db", str(database), "--model", str(model_dir), "--json",
                             modules=HEAVY_MODULES + ARRAY_MODULES + DATABASE_LAYER)
        assert outcome["heavy"] == [], f"{command} imported {outcome['heavy']}"
        assert outcome["code"] == 0, command
    info = json.loads(_run_fresh("info", "--db", str(database), "--model", str(model_dir), "--json",
                                 modules=ARRAY_MODULES)["stdout"])
    assert info["tracks"] == report.added and info["analysed"] == report.added


def test_similar_by_track_id_leaves_sqlalchemy_unimported(indexed_library, model_dir):
    database, _ = indexed_library
    outcome = _run_fresh("similar", "3", "5", "-k", "4", "--harmonic", "--db", str(database), "--model", str(model_dir),
                         "--json", modules=HEAVY_MODULES + DATABASE_LAYER)
    assert outcome["heavy"] == [] and outcome["code"] == 0
    assert [len(query["results"]) > 0 for query in json.loads(outcome["stdout"])] == [True, True]


def test_reading_commands_with_the_default_model_leave_torch_unimported(indexed_library, model_dir, monkeypatch):
    """The model found by default (not named with --model) is read from its config alone, too."""
    database, _ = indexed_library
    monkeypatch.setenv("ENGINE_MODEL_DIR", str(model_dir))
    outcome = _run_fresh("similar", "3", "--db", str(database), "--json")
    assert outcome["heavy"] == [] and outcome["code"] == 0
    assert len(json.loads(outcome["stdout"])[0]["results"]) > 0


def test_a_rescan_that_finds_nothing_new_never_loads_torch(indexed_library, generated_library_source, model_dir,
                                                           tmp_path):
    database, report = indexed_library
    copy = tmp_path / "library.db"
    for suffix in ("", "-wal"):
        if Path(f"{database}{suffix}").exists():
            shutil.copyfile(f"{database}{suffix}", f"{copy}{suffix}")
    outcome = _run_fresh("index", str(generated_library_source.root), "--workers", "0", "--db", str(copy),
                         "--model", str(model_dir), "--json")
    assert outcome["code"] == 0
    assert not {"torch", "engine.analyzer", "engine.networks", "engine.model_folder"} & set(outcome["heavy"])
    rescan = json.loads(outcome["stdout"])
    assert rescan["unchanged"] == report.added and rescan["analysed"] == 0


def test_training_stack_loads_pyav_only_at_the_first_decode(tmp_path):
    """A trainer fed a pre-built audio cache (a GPU node without FFmpeg bindings) never needs PyAV: importing
    the training stack leaves it unloaded, and the first decode loads it."""
    import numpy as np
    import wave

    clip = tmp_path / "tone.wav"
    with wave.open(str(clip), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(16000)
        handle.writeframes((np.sin(np.arange(32000) * 0.1) * 8000).astype("<i2").tobytes())
    script = (
        "import sys\n"
        "import training.trainer, training.export, engine.decoding\n"
        "before = 'av' in sys.modules\n"
        "from engine.audio import decode_mono\n"
        f"samples = decode_mono({str(clip)!r}, 16000)\n"
        "print(before, 'av' in sys.modules, len(samples))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["False", "True", "32000"]
