"""Centre a statistics embedding on real music of the training split, folded into the model's weights.

Why: every track's mean block statistics share a large common part (what produced music has in common, measured
against the mixed renders and game music the moments were fitted on), and cosine between track vectors is dominated by
it. Subtracting the mean track vector of a reference library (the training split's game music, read on the windows
``engine index`` reads) before the engine L2-normalises lets the part that sets a track apart decide. On the
validation soundtracks this raised same-soundtrack R-precision of v1.3 from 0.661 (BENCHMARKS.md, "Which track
embedding generalises") to 0.737 (`engine train centre-embedding` on that split, 2026-12-03). A track's vector is the
mean of its window vectors, so subtracting the centre from every window is the same thing: ``BlockStatistics.mean``
moves by ``centre * std`` and the tag head's first bias by ``W @ centre``, so tags and keys are unchanged and the
engine needs no new code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, read_windows
from engine.model_folder import load_model, save_model
from engine.model_spec import MODEL_CARD_FILE
from engine.networks import BlockStatistics
from training.data import read_manifest

Progress = Callable[[int, int], None]
CENTRE_CONFIG_KEY = "embedding_centre"


class CentreError(ValueError):
    """The model cannot be centred on that material; the message says why."""


def reference_track_vectors(analyzer: Analyzer, paths: list[str], progress: Progress | None = None) -> np.ndarray:
    """(tracks, dim): each decodable track's mean window embedding before normalisation, on indexing's windows."""
    vectors, first_failure = [], None
    for done, path in enumerate(paths, 1):
        try:
            audio = read_windows(path, analyzer.sample_rate, analyzer.window_samples, analyzer.max_windows)
            vectors.append(analyzer.run_windows(audio.windows)["embeddings"].mean(axis=0))
        except AudioDecodeError as error:
            # an undecodable reference track is left out; the count in the summary says how many were used
            first_failure = first_failure or f"{path}: {error}"
        if progress:
            progress(done, len(paths))
    if not vectors:
        raise CentreError(f"none of the {len(paths)} reference tracks could be decoded (the first: {first_failure}; "
                          "a manifest's relative paths are read from its own folder)")
    return np.stack(vectors).astype(np.float64)


def fold_centre(network: torch.nn.Module, centre: torch.Tensor) -> None:
    """Make every window embedding ``centre`` smaller, keeping the tag head's outputs as they were."""
    statistics = getattr(network.encoder, "embedding", None)
    if not isinstance(statistics, BlockStatistics):
        raise CentreError("only a statistics embedding (embedding_pooling = \"statistics\") can be centred")
    with torch.no_grad():
        if network.tag_head is not None:
            first = network.tag_head.layers[0]
            first.bias += first.weight @ centre.to(first.weight.dtype)
        statistics.mean += centre.to(statistics.mean.dtype) * statistics.std


def centre_model(model_folder: Path, manifest: Path, out: Path, split: str = "train",
                 progress: Progress | None = None, strength: float = 1.0) -> dict[str, Any]:
    """Write ``out``: the model of ``model_folder`` centred on the ``split`` tracks of ``manifest``, taking away
    ``strength`` times their mean (a full centre can cost short noisy queries more than it gains tracks)."""
    if not 0.0 < strength <= 1.0:
        raise CentreError(f"the strength is a share of the mean, in (0, 1], not {strength}")
    if out.resolve() == model_folder.resolve():
        raise CentreError("write the centred model to a new folder (--out), the source stays as it was")
    loaded = load_model(model_folder)
    paths = [str(entry.path) for entry in read_manifest(manifest, split)]  # paths resolved from the manifest's folder
    if not paths:
        raise CentreError(f"no {split} tracks in {manifest}")
    vectors = reference_track_vectors(Analyzer(loaded), paths, progress)
    centre = torch.from_numpy(vectors.mean(axis=0)).float() * strength
    fold_centre(loaded.network, centre)
    summary = {"manifest": manifest.name, "split": split, "tracks": len(vectors), "strength": strength,
               "centre_norm": round(float(centre.norm()), 4),
               "earlier": loaded.config.training.get(CENTRE_CONFIG_KEY)}
    loaded.config.training[CENTRE_CONFIG_KEY] = summary
    card = model_folder / MODEL_CARD_FILE
    save_model(out, loaded.network, loaded.config, card.read_text(encoding="utf-8") if card.is_file() else None)
    return summary
