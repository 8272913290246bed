"""A model folder from anywhere is checked before it is used: every config field has a type and limits, the
weights must be finite, the name must be safe, and ``--json`` stays strict JSON (issue 13, case 8)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from reliability_checks import assert_one_line_exit_1


def _model_copy(model_dir: Path, folder: Path) -> Path:
    shutil.copytree(model_dir, folder)
    return folder


def _edit_config(folder: Path, edit) -> None:
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    edit(config)
    config_path.write_text(json.dumps(config), encoding="utf-8")


def _edit_weights(folder: Path, edit) -> None:
    state = load_file(str(folder / "weights.safetensors"))
    edit(state)
    save_file(state, str(folder / "weights.safetensors"))


def _key(engine, model: Path, audio: Path, tmp_path: Path, *extra: str):
    return engine("key", str(audio), "--db", str(tmp_path / "library.db"), "--model", str(model), *extra)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_with_nan_or_infinity_are_refused_on_load(engine, model_dir, generated_library_source, tmp_path, value):
    model = _model_copy(model_dir, tmp_path / "model")
    _edit_weights(model, lambda state: next(t for t in state.values() if t.is_floating_point()).view(-1).__setitem__(0, value))
    assert_one_line_exit_1(_key(engine, model, generated_library_source.valid[0], tmp_path), "NaN or infinite")


@pytest.mark.parametrize("field, value", [
    ("channels", []), ("channels", [0, 16, 32, 32]), ("channels", [-8, 16, 32, 32]), ("channels", [10**9, 16, 32, 32]),
    ("channels", [4096] * 32), ("channels", 5), ("channels", "wide"), ("embedding_dim", 0), ("embedding_dim", -5), ("sample_rate", "fast"),
    ("n_fft", 10**9), ("octaves", 10**6), ("min_frequency", float("inf")), ("window_samples", True),
])
def test_config_fields_out_of_limits_are_refused_before_building(engine, model_dir, generated_library_source,
                                                                tmp_path, field, value):
    model = _model_copy(model_dir, tmp_path / "model")
    _edit_config(model, lambda config: config["architecture"].__setitem__(field, value))
    completed = _key(engine, model, generated_library_source.valid[0], tmp_path)
    assert_one_line_exit_1(completed, "config.json")


@pytest.mark.parametrize("edit", [
    lambda config: config.__setitem__("architecture", []),
    lambda config: config.__setitem__("heads", {"tags": {"labels": "rock", "hidden_dim": 0}}),
    lambda config: config.__setitem__("heads", {"tags": {"labels": ["rock"], "hidden_dim": 10**9}}),
    lambda config: config.__setitem__("name", "evil\nname"),
    lambda config: config.__setitem__("name", "../escape"),
])
def test_config_of_the_wrong_shape_is_one_line(engine, model_dir, generated_library_source, tmp_path, edit):
    model = _model_copy(model_dir, tmp_path / "model")
    _edit_config(model, edit)
    assert_one_line_exit_1(_key(engine, model, generated_library_source.valid[0], tmp_path), "config.json")


def test_json_output_is_strict_even_when_a_model_overflows(engine, model_dir, generated_library_source, tmp_path):
    model = _model_copy(model_dir, tmp_path / "model")

    def overflow(state: dict[str, torch.Tensor]) -> None:
        for name, tensor in state.items():
            if name.startswith("key_head") and tensor.is_floating_point():
                tensor.fill_(3e38)  # finite weights whose outputs overflow to inf and NaN

    _edit_weights(model, overflow)
    completed = _key(engine, model, generated_library_source.valid[0], tmp_path, "--json")
    assert "NaN" not in completed.stdout and "Infinity" not in completed.stdout

    def refuse(constant: str):
        raise AssertionError(f"non-standard JSON constant {constant}")

    json.loads(completed.stdout, parse_constant=refuse)


@pytest.mark.parametrize("name", ["evil\nname", "../escape", "a/b", "/tmp/absolute", ".hidden"])
def test_an_unsafe_model_name_is_refused_with_global_options_before_train(engine, indexed_copy, name):
    completed = engine("--db", str(indexed_copy), "train", "from-library", "--labels", "genre", "--name", name,
                       "--dry-run")
    assert_one_line_exit_1(completed, "model name")
    assert not (indexed_copy.parent / "custom-models").exists()


class _WritesAMarkerWhenUnpickled:
    """A pickle whose loading opens (creates) ``marker``: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("pickle_name", ["weights.safetensors", "weights.pt", "pytorch_model.bin", "model.pkl"])
def test_pickles_in_a_model_folder_are_never_unpickled(engine, model_dir, generated_library_source, tmp_path,
                                                       pickle_name):
    model = _model_copy(model_dir, tmp_path / "model")
    marker = tmp_path / "unpickled"
    (model / pickle_name).write_bytes(pickle.dumps(_WritesAMarkerWhenUnpickled(marker)))
    completed = _key(engine, model, generated_library_source.valid[0], tmp_path)
    if pickle_name == "weights.safetensors":  # the weights themselves: refused as not safetensors
        assert_one_line_exit_1(completed, "weights.safetensors")
    else:  # a stray file beside the weights: ignored
        assert completed.returncode == 0, completed.stderr
    assert not marker.exists()
