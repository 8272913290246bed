"""Turn a training run into a model folder that the engine loads (``engine.model_folder``).

The encoder comes from a run checkpoint; key and tag heads come from a probe folder (``training.probes``)
or, for a finetuning run, from the run's own heads. ``config.json`` records a training summary and metrics, and for
a finetune from a model folder that folder's stages and what still holds of it (``training.lineage``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.keys import KEY_CLASS_NAMES
from engine.model_folder import ModelConfig, save_model
from engine.model_spec import CONFIG_FILE
from engine.networks import AudioModel, ClassifierHead, build_key_head
from engine.run_folder import read_labels, read_metrics
from training.checkpoints import load_encoder, load_weights, read_run_summary, run_files_of
from training.lineage import inherited, start_folder
from training.probes import load_probe_heads


class ExportError(ValueError):
    """The run cannot be exported (no heads, mismatching probe); the message says why."""


def _run_heads(checkpoint: Path, summary: dict[str, Any], encoder: torch.nn.Module) -> dict[str, tuple[torch.nn.Module, dict]]:
    """Heads trained inside a finetuning run, keyed by task."""
    weights = load_weights(checkpoint)
    hidden = int(summary["config"]["finetune"]["head_hidden_dim"])
    labels = read_labels(run_files_of(checkpoint))
    heads = {}
    for task, prefix, names in (("key", "key_head.", list(KEY_CLASS_NAMES)), ("tags", "tag_head.", labels["tags"])):
        state = {name[len(prefix) :]: tensor for name, tensor in weights.items() if name.startswith(prefix)}
        if state:
            head = (build_key_head(encoder, hidden) if task == "key"
                    else ClassifierHead(encoder.config.embedding_dim, len(names), hidden))
            head.load_state_dict(state)
            heads[task] = (head.eval(), {"labels": names, "hidden_dim": hidden})
    return heads


def _model_card(name: str, summary: dict[str, Any], metrics: dict[str, Any], architecture: dict[str, Any]) -> str:
    config = summary.get("config", {})
    data = config.get("data", {})
    lines = [
        f"# {name}",
        "",
        f"A SemiSupCon-trained `{architecture['type']}` encoder ({architecture['sample_rate']} Hz, "
        f"{architecture['window_samples'] / architecture['sample_rate']:.1f} s windows, "
        f"{architecture.get('embedding_dim', 512)}-d embeddings), exported from a `{summary.get('mode', 'pretrain')}` run.",
        "",
        "## Training",
        f"- steps: {config.get('run', {}).get('steps')}, batch {data.get('batch_size')} clips x {data.get('views')} views",
        f"- labeled share b_s {data.get('labeled_share')}, labeled fraction p_s {data.get('labeled_fraction')}",
        f"- unlabeled manifest: {data.get('unlabeled_manifest') or '-'}; labeled manifest: {data.get('labeled_manifest') or '-'}",
        "",
        "## Metrics",
    ]
    lines += [f"- {task}: {values}" for task, values in metrics.items()] or ["- none recorded"]
    return "\n".join(lines) + "\n"


def export_model(checkpoint: Path | str, out_dir: Path | str, probe_dir: Path | str | None = None, name: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write ``out_dir`` as a model folder; returns it. A folder that holds anything already is refused, but for a
    model folder when ``overwrite`` (so a mistyped ``--out`` never drops model files among someone's music, and a
    model a library uses is not replaced unasked)."""
    check_export_folder(Path(out_dir), overwrite)
    encoder, architecture, folder = load_encoder(checkpoint)
    summary = read_run_summary(folder)
    heads: dict[str, tuple[torch.nn.Module, dict]] = {}
    metrics: dict[str, Any] = {}
    if probe_dir is not None:
        report, probe_heads = load_probe_heads(probe_dir)
        if report["architecture"] != architecture:
            raise ExportError(f"probe {probe_dir} was made on another encoder architecture than {folder}")
        if "key" in probe_heads and not isinstance(build_key_head(encoder), ClassifierHead):
            raise ExportError(f"{folder} has a pitch-class key path: its key head is trained by finetuning "
                              "(finetune.key_path), not by a linear probe; export without --probe or probe tags only")
        for task, head in probe_heads.items():
            info = report["tasks"][task]
            heads[task] = (head, {"labels": info["labels"], "hidden_dim": info["hidden_dim"], "metrics": info["metrics"]})
            metrics[task] = info["metrics"]
    elif summary.get("mode") == "finetune":
        heads = _run_heads(folder, summary, encoder)
    key = heads.get("key")
    tags = heads.get("tags")
    network = AudioModel(encoder, key[0] if key else None, tags[0] if tags else None)
    history = read_metrics(run_files_of(folder))
    training = {
        "mode": summary.get("mode"),
        "checkpoint": folder.name,
        "steps": history[-1]["step"] if history else None,
        "final_loss": history[-1]["loss"] if history else None,
        "config": summary.get("config", {}),
    }
    tag_entry, search = tags[1] if tags else None, {}
    start = start_folder(summary) if summary.get("mode") == "finetune" else None
    if start is not None:  # the model folder this finetune began from: its stages, and what still holds of it
        earlier, start_tags, search = inherited(start, network)
        training.update(earlier)
        if start_tags and tag_entry and start_tags.get("labels") == tag_entry["labels"]:
            tag_entry = start_tags
    model_name = name or summary.get("config", {}).get("run", {}).get("name", "semisupcon")
    config = ModelConfig(
        name=model_name,
        architecture=architecture,
        key_head=key[1] if key else None,
        tag_head=tag_entry,
        training=training,
        metrics=metrics,
        search=search,
    )
    return save_model(out_dir, network, config, _model_card(model_name, summary, metrics, architecture))


def check_export_folder(out_dir: Path, overwrite: bool) -> None:
    """``ExportError`` unless ``out_dir`` is new, empty, or a model folder to be replaced (``overwrite``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file, not a folder")
    held = sorted(entry.name for entry in out_dir.iterdir()) if out_dir.is_dir() else []
    if not held:
        return
    if not (out_dir / CONFIG_FILE).is_file():
        raise ExportError(f"{out_dir} holds other files ({', '.join(held[:3])}{', …' if len(held) > 3 else ''}): "
                          "give a new or empty folder")
    if not overwrite:
        raise ExportError(f"{out_dir} holds a model already: --overwrite replaces it")


__all__ = ["ExportError", "check_export_folder", "export_model"]
