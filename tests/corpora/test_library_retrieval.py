"""``engine eval``'s excerpt retrieval through the product: real files indexed by the Library, excerpts asked
for as 96 kbps MP3s, and excerpts of tracks outside the library never called the same recording."""

from __future__ import annotations

import audio_factory
from training.evaluation.library_retrieval import library_excerpt_retrieval

RATE = audio_factory.SAMPLE_RATE


def test_excerpts_find_their_tracks_and_strangers_match_nothing(model_dir, tmp_path):
    tracks = [audio_factory.random_melody(seconds, seed=70 + number) for number, seconds in enumerate((45.0, 70.0, 52.0))]
    paths = [str(audio_factory.write_audio(samples, tmp_path / f"track{number}.flac")) for number, samples in enumerate(tracks)]
    excerpts = [samples[int(start * RATE): int((start + 30) * RATE)] for samples, start in zip(tracks, (3.0, 33.3, 20.0))]
    strangers = [audio_factory.random_melody(30.0, seed=90 + number) for number in range(2)]
    result = library_excerpt_retrieval(paths, excerpts, strangers, RATE, model_dir, soundtracks=["a", "a", "b"])
    assert (result["indexed"], result["queries"], result["strangers"]) == (3, 3, 2)
    assert result["top1"] == 1.0 and result["same_recording_top1"] == 1.0
    assert result["other_track_called_same_recording"] == 0.0 and result["stranger_called_same_recording"] == 0.0
    stored = result["same_soundtrack"]  # only "a" has a second track: two queries, each with one relevant item
    assert stored["queries"] == 2 and 0.0 <= stored["r_precision"] <= 1.0
