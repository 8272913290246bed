"""How much of a piece does the key need? The product's key is the mean of the key head over the 6 analysis windows
``engine index`` reads (``engine.track_analysis.DEFAULT_MAX_WINDOWS``, 2.7 s each, spread over the middle 90 %) and
the further windows of ``engine.key_audio``. This scores that layout (``product``) against any count of evenly
spread windows with the product's own reader and analyzer, per manifest and split:

    python -m benchmarks.experiments.key_windows --model resources/models/default \
        --manifest ../data/scores/manifest.jsonl --manifest ../data/generated/manifest.jsonl --split val \
        --windows 6 12 24
(from the repository root). Reports MIREX, accuracy and the share of major pieces called their relative minor.
``--windows product`` scores the key ``engine index`` stores (``Analyzer.analyze_file``: the 6 analysis windows and
the further windows of ``engine.key_audio``).

With ``--soundtracks DEBIAN_MANIFEST`` it measures instead, on that manifest's ``--split`` of game music, the
transposition consistency of each window count as ``engine eval`` defines it (the first 60 s of a track and two
seeded shifts of it, pitch-shifted by resampling; the key must move by the shift), with the windows cut where the
product's reader places them (``engine.audio.window_starts``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from benchmarks.experiments.key_fusion import reference_key
from benchmarks.experiments.stored_vector_retrieval import _located
from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, cut_windows, decode_mono, read_windows
from engine.key_audio import layout_from_samples
from engine.keys import Key, key_from_index, mirex_key_score
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from training.corpora.manifest import read_manifest
from training.evaluation.key_breakdown import key_relation


PRODUCT = "product"


def relative_minor_share(pairs: list) -> float:
    """Of the major references, the share estimated as their relative minor."""
    majors = [(e, r) for e, r in pairs if r.mode == "major"]
    return sum(key_relation(e, r) == "relative" for e, r in majors) / max(1, len(majors))


def array_key(analyzer: Analyzer, audio: np.ndarray, count: int | str):
    """The key of decoded ``audio`` from ``count`` windows where the reader puts them, or (``"product"``) from the
    windows ``engine index`` reads for a file that long (``engine.key_audio.layout_from_samples``)."""
    rate, size = analyzer.sample_rate, analyzer.window_samples
    if count == PRODUCT:
        windows, extras = layout_from_samples(audio, rate, size, DEFAULT_MAX_WINDOWS)
        probabilities = analyzer.analyze_windows(windows, extras).key_probs
    else:
        probabilities = analyzer.analyze_windows(cut_windows(audio, rate, size, count)[0]).key_probs
    return key_from_index(int(np.argmax(probabilities)))


def file_key_probabilities(analyzer: Analyzer, path: Path, count: int | str) -> np.ndarray:
    if count == PRODUCT:
        return analyzer.analyze_file(path).key_probs
    return analyzer.analyze_windows(read_windows(path, analyzer.sample_rate, analyzer.window_samples, count).windows).key_probs


def window_count(text: str) -> int | str:
    return text if text == PRODUCT else int(text)


def transposition_excerpts(manifest: Path, split: str, rate: int) -> Iterator[tuple[np.ndarray, list[int]]]:
    """Each decodable track of ``split`` as ``engine eval``'s transposition test takes it: its first
    ``KEY_EXCERPT_SECONDS`` at ``rate`` and the semitone shifts drawn for it (seeded: the same pairs every run)."""
    import random

    from training.evaluation.evaluate import KEY_EXCERPT_SECONDS, SHIFTS_PER_TRACK, TRANSPOSITION_SHIFTS

    draw = random.Random(0)
    for record in read_manifest(manifest):
        if record.get("split") != split:
            continue
        try:
            audio = decode_mono(_located(Path(record["path"]), manifest), rate, 0.0, KEY_EXCERPT_SECONDS)
        except AudioDecodeError:
            continue
        yield audio, draw.sample(TRANSPOSITION_SHIFTS, SHIFTS_PER_TRACK)


Read = TypeVar("Read")  # what an experiment reads from one excerpt (key probabilities, a chroma, ...)


def transposition_reads(manifest: Path, split: str, rate: int, read: Callable[[np.ndarray], Read],
                        moved_back: Callable[[Read, int], Read], max_tracks: int | None = None
                        ) -> list[tuple[Read, list[Read]]]:
    """Per track of ``transposition_excerpts`` (the first ``max_tracks``): (``read`` of its excerpt, [``read`` of each
    copy shifted by resampling, ``moved_back`` by its shift, ...]), so each read compares with the original's."""
    from training.evaluation.corruptions import pitch_shift_by_resampling

    tracks = []
    for track, (audio, shifts) in enumerate(transposition_excerpts(manifest, split, rate)):
        if max_tracks is not None and track >= max_tracks:
            break
        moved = [moved_back(read(pitch_shift_by_resampling(audio, rate, shift)), shift) for shift in shifts]
        tracks.append((read(audio), moved))
        print(f"transposition: {len(tracks)} tracks", flush=True)
    return tracks


def labelled_clips(manifest: Path, split: str, rate: int) -> Iterator[tuple[np.ndarray, Key]]:
    """Each decodable key-labelled clip of ``split`` in ``manifest``: (its mono audio at ``rate``, its key)."""
    for record in read_manifest(manifest):
        reference = reference_key(record)
        if record.get("split") != split or reference is None:
            continue
        try:
            yield decode_mono(_located(Path(record["path"]), manifest), rate), reference
        except AudioDecodeError:
            continue


def transposition_consistency(analyzer: Analyzer, manifest: Path, split: str, counts: list) -> dict:
    from training.evaluation.corruptions import pitch_shift_by_resampling

    rate = analyzer.sample_rate
    hits: dict[int, list[bool]] = {count: [] for count in counts}
    for audio, shifts in transposition_excerpts(manifest, split, rate):
        for count in counts:
            base = array_key(analyzer, audio, count)
            for shift in shifts:
                moved = array_key(analyzer, pitch_shift_by_resampling(audio, rate, shift), count)
                hits[count].append(moved == base.transposed(shift))
    return {str(count): {"consistency": float(np.mean(values)), "pairs": len(values)} for count, values in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", default=[])
    parser.add_argument("--split", default="val")
    parser.add_argument("--windows", type=window_count, nargs="+", default=[6, 16], help="counts, or 'product'")
    parser.add_argument("--soundtracks", type=Path, help="game-music manifest: measure transposition consistency")
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    if arguments.soundtracks:
        result = transposition_consistency(analyzer, arguments.soundtracks, arguments.split, arguments.windows)
        print(json.dumps(result))
        if arguments.out:
            arguments.out.write_text(json.dumps(result, indent=1))
        return
    rows: dict[str, dict] = {}
    for count in arguments.windows:
        by_source: dict[str, list] = {}
        for manifest in arguments.manifest:
            for record in read_manifest(manifest):
                reference = reference_key(record)
                if record.get("split") != arguments.split or reference is None:
                    continue
                try:
                    probabilities = file_key_probabilities(analyzer, _located(Path(record["path"]), manifest), count)
                except AudioDecodeError:
                    continue
                by_source.setdefault(manifest.parent.name, []).append(
                    (key_from_index(int(np.argmax(probabilities))), reference))
        by_source["all"] = [pair for pairs in by_source.values() for pair in pairs]
        rows[str(count)] = {source: {"mirex": float(np.mean([mirex_key_score(e, r) for e, r in pairs])),
                                     "accuracy": float(np.mean([e == r for e, r in pairs])),
                                     "relative_minor_on_major": relative_minor_share(pairs), "count": len(pairs)}
                            for source, pairs in by_source.items()}
        print(count, json.dumps(rows[str(count)]), flush=True)
    if arguments.out:
        arguments.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
