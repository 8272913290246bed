"""Shared fixtures: a small random-initialised model folder and a generated music library (made once per session).

The model is for tests only (never shipped): a narrow LogFreqCNN with key and tag heads, saved with
``save_model`` so it is loaded exactly like a real one.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The tests run tiny models, where one intra-op thread does the work and more only wait on each other: on this
# 2-core machine beside a training job, torch's default (a thread per core) made a 4-step training run take
# 5.7-14 s instead of 1.4-1.8 s. Set before torch or FAISS is imported; inherited by the CLI processes tests start.
# An OMP_NUM_THREADS already in the environment wins.
TEST_THREADS = "1"
os.environ.setdefault("OMP_NUM_THREADS", TEST_THREADS)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audio_factory  # noqa: E402  (tests/ is not a package)

TEST_TAG_NAMES = ["rock", "jazz", "calm", "electronic"]
TEST_FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff", "wma")
TRACKS_PER_FORMAT = 4
ARTISTS = ("Alpha", "Beta", "Gamma", "Delta", "Epsilon")
TRACK_SECONDS = (6.0, 9.0, 12.0)


@dataclass(frozen=True)
class GeneratedLibrary:
    """A folder of valid tracks (``valid``) and broken files (``broken``: name → expected reason fragment)."""

    root: Path
    valid: list[Path]
    broken: dict[str, str]
    special_names: list[str]  # valid files with a non-UTF-8 or very long name (str paths)


def build_test_model(folder: Path, seed: int = 0, window_samples: int = 43200) -> Path:
    import torch

    from engine.model_folder import ModelConfig, build_network, save_model
    from engine.networks import LogFreqCNNConfig, encoder_config_to_dict

    torch.manual_seed(seed)
    encoder = LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64, window_samples=window_samples)
    architecture = encoder_config_to_dict(encoder)
    config = ModelConfig(name=f"test-random-{seed}", architecture=architecture,
                         key_head={"hidden_dim": 0}, tag_head={"labels": TEST_TAG_NAMES, "hidden_dim": 0})
    network = build_network(config)
    network.eval()
    return save_model(folder, network, config, model_card="Random weights, for tests only.\n")


@pytest.fixture(scope="session")
def test_model_builder():
    """``build_test_model``, for test folders whose own conftest shadows this one's imports (tests/training)."""
    return build_test_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("model") / "test-model")


@pytest.fixture(scope="session")
def second_model_dir(tmp_path_factory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("model2") / "other-model", seed=1)


def generate_library(root: Path) -> GeneratedLibrary:
    from engine.keys import key_from_index

    root.mkdir(parents=True, exist_ok=True)
    valid: list[Path] = []
    number = 0
    for extension in TEST_FORMATS:
        folder = root / extension
        folder.mkdir(exist_ok=True)
        for _ in range(TRACKS_PER_FORMAT):
            key = key_from_index((number * 7) % 24)
            seconds = TRACK_SECONDS[number % len(TRACK_SECONDS)]
            samples = audio_factory.chord_progression(key, seconds, seed=number)
            path = audio_factory.write_audio(samples, folder / f"track{number:02d}.{extension}")
            audio_factory.write_tags(path, title=f"Song {number}", artist=ARTISTS[number % len(ARTISTS)],
                                     album=f"Album {extension}", genre="test", tracknumber=str(number + 1))
            valid.append(path)
            number += 1
    nested = root / "nested" / "deeper"
    nested.mkdir(parents=True)
    (nested / "loop").symlink_to(Path("../.."), target_is_directory=True)  # a symlink cycle (relative)
    (root / ".hidden.mp3").write_bytes(valid[0].read_bytes())  # hidden: skipped silently
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff not an audio file")  # non-audio: skipped silently
    (root / "notes.txt").write_text("liner notes", encoding="utf-8")

    special = []
    long_name = root / ("a-very-long-file-name-" * 10)[:230]
    long_path = audio_factory.write_audio(audio_factory.chord_progression(key_from_index(3), 6.0, seed=900),
                                          long_name.with_suffix(".flac"))
    valid.append(long_path)
    special.append(str(long_path))
    latin1 = audio_factory.non_utf8_name(root)
    audio_factory.write_audio(audio_factory.chord_progression(key_from_index(5), 6.0, seed=901), Path(latin1))
    valid.append(Path(latin1))
    special.append(latin1)

    bad = root / "broken"
    bad.mkdir()
    mp3_source = valid[TEST_FORMATS.index("mp3") * TRACKS_PER_FORMAT + 2]  # a 12 s MP3
    long_mp3 = audio_factory.write_audio(audio_factory.chord_progression(key_from_index(0), 40.0, seed=902),
                                         root / "source-40s.tmp.wav")
    broken = {
        "zero.mp3": "empty file (0 bytes)",
        "random.flac": "",
        "text.mp3": "not an audio file",
        "truncated.mp3": "truncated",
        "truncated.flac": "truncated",
        "header-only.wav": "no audio",
        "short.ogg": "too short",
        "video-only.mp4": "no audio stream",
        "dangling.mp3": "dangling symlink",
        "random.m4a": "",
        "zero.opus": "",
    }
    audio_factory.make_zero_byte(bad / "zero.mp3")
    audio_factory.make_random_bytes(bad / "random.flac")
    audio_factory.make_text_as_audio(bad / "text.mp3")
    audio_factory.make_truncated(audio_factory.reencode(long_mp3, bad / "full.mp3.tmp.mp3"), bad / "truncated.mp3")
    audio_factory.make_truncated(audio_factory.reencode(long_mp3, bad / "full.flac.tmp.flac"), bad / "truncated.flac")
    for temporary in (bad / "full.mp3.tmp.mp3", bad / "full.flac.tmp.flac", long_mp3):
        temporary.unlink()
    audio_factory.make_header_only_wav(bad / "header-only.wav")
    audio_factory.write_audio(audio_factory.tone(440.0, 0.4), bad / "short.ogg")
    audio_factory.make_video_only(bad / "video-only.mp4")
    audio_factory.make_dangling_symlink(bad / "dangling.mp3")
    audio_factory.make_random_bytes(bad / "random.m4a", seed=1)
    audio_factory.make_zero_byte(bad / "zero.opus")
    assert mp3_source.exists()
    return GeneratedLibrary(root, valid, broken, special)


@pytest.fixture(scope="session")
def generated_library_source(tmp_path_factory) -> GeneratedLibrary:
    """The pristine library; never modify it (copy it with ``library_copy``)."""
    return generate_library(tmp_path_factory.mktemp("library-source") / "music")


def copy_library(source: GeneratedLibrary, target: Path) -> GeneratedLibrary:
    shutil.copytree(source.root, target, symlinks=True)

    def moved(path: str | Path) -> str:
        return str(target / Path(path).relative_to(source.root))

    return GeneratedLibrary(target, [Path(moved(p)) for p in source.valid], dict(source.broken),
                            [moved(p) for p in source.special_names])


@pytest.fixture
def library_copy(generated_library_source, tmp_path) -> GeneratedLibrary:
    """A private copy of the generated library that a test may change."""
    return copy_library(generated_library_source, tmp_path / "music")


@pytest.fixture(scope="session")
def indexed_library(generated_library_source, model_dir, tmp_path_factory):
    """A database with the pristine library indexed once (read-only use: search, browse, CLI reads)."""
    from engine.library import Library

    database = tmp_path_factory.mktemp("indexed") / "library.db"
    with Library(database, model_dir) as library:
        report = library.index([generated_library_source.root], workers=0)
    return database, report


@pytest.fixture
def as_non_root():
    """For tests of file permissions, which root bypasses: skipped as root on a developer's machine, but a
    failure under CI, which runs the suite as an unprivileged user (.ci/run) so that they always run there."""
    if os.geteuid() == 0:
        if os.environ.get("CI") == "true":
            pytest.fail("permission tests cannot run as root; .ci/run runs pytest as an unprivileged user")
        pytest.skip("root reads and writes files whatever their mode")


@pytest.fixture(autouse=True)
def no_default_model(monkeypatch, tmp_path_factory):
    """Tests never pick up a real default model: the default points at an empty folder."""
    empty = tmp_path_factory.getbasetemp() / "no-default-model"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("ENGINE_MODEL_DIR", str(empty))
