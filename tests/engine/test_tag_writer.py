"""Tags are written into real files of every format only safely: read back by mutagen and by our reader,
decoded audio unchanged, existing key tags kept unless asked, and every refusal a problem, never a crash."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess

import mutagen
import pytest
from mutagen.id3 import ID3, TIT2

import audio_factory
from engine import tag_writer
from engine.audio import decoded_audio_digest
from engine.keys import KEY_NOTATIONS, Key, key_tag_text, parse_key
from engine.metadata import read_metadata
from engine.safe_replace import TEMPORARY_PREFIX
from engine.tag_writer import write_key, write_tags

WRITE_FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff", "wma")
SECONDS = 3.0
# Where each field must land, spelled out independently of engine.tag_fields: ID3, Vorbis, MP4, ASF.
ID3_KEYS = {"key": "TKEY", "genre": "TCON", "mood": "TMOO", "grouping": "GRP1"}
VORBIS_KEYS = {"key": "INITIALKEY", "genre": "GENRE", "mood": "MOOD", "grouping": "GROUPING"}
MP4_KEYS = {"key": "----:com.apple.iTunes:initialkey", "genre": "\xa9gen", "mood": "----:com.apple.iTunes:MOOD",
            "grouping": "\xa9grp"}
ASF_KEYS = {"key": "WM/InitialKey", "genre": "WM/Genre", "mood": "WM/Mood", "grouping": "WM/ContentGroupDescription"}
KEYS_BY_EXTENSION = {"mp3": ID3_KEYS, "wav": ID3_KEYS, "aiff": ID3_KEYS, "flac": VORBIS_KEYS, "ogg": VORBIS_KEYS,
                     "opus": VORBIS_KEYS, "m4a": MP4_KEYS, "wma": ASF_KEYS}
A_MINOR, B_MINOR = Key(9, "minor"), Key(11, "minor")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, str]:
    """One pristine short file per format (copy before changing it)."""
    folder = tmp_path_factory.mktemp("tag-writer-sources")
    samples = audio_factory.chord_progression(A_MINOR, SECONDS, seed=11)
    return {extension: str(audio_factory.write_audio(samples, folder / f"song.{extension}"))
            for extension in WRITE_FORMATS}


@pytest.fixture
def copy_of(sources, tmp_path):
    def copy(extension: str, name: str = "song") -> str:
        target = tmp_path / f"{name}.{extension}"
        shutil.copyfile(sources[extension], target)
        return str(target)

    return copy


def raw_values(path: str, field: str) -> list[str]:
    """A field's values as mutagen sees them, at the key our convention puts it."""
    extension = os.path.splitext(path)[1].lstrip(".")
    name = KEYS_BY_EXTENSION[extension][field]
    tags = mutagen.File(path).tags
    if isinstance(tags, ID3):
        return [str(text) for text in tags[name].text]
    values = tags[name]
    return [bytes(value).decode() if isinstance(value, bytes) else str(getattr(value, "value", value))
            for value in values]


def file_sha(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def leftovers(path: str) -> list[str]:
    return [name for name in os.listdir(os.path.dirname(path)) if name.startswith(TEMPORARY_PREFIX)]


@pytest.mark.parametrize("notation", KEY_NOTATIONS)
@pytest.mark.parametrize("extension", WRITE_FORMATS)
def test_key_is_written_in_every_format_and_read_back_with_audio_unchanged(extension, notation, copy_of):
    path = copy_of(extension)
    os.chmod(path, 0o640)
    audio_before = decoded_audio_digest(path)
    expected = key_tag_text(B_MINOR, notation)

    result = write_key(path, B_MINOR, notation)

    assert result.problem is None and result.changed
    assert result.written == {"key": [expected]}
    assert raw_values(path, "key") == [expected]
    assert read_metadata(path).key == expected
    assert parse_key(expected) == B_MINOR
    assert decoded_audio_digest(path) == audio_before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert (result.after.size, result.after.mtime_ns) == (os.stat(path).st_size, os.stat(path).st_mtime_ns)
    assert leftovers(path) == []


@pytest.mark.parametrize("extension", WRITE_FORMATS)
def test_existing_key_tag_is_kept_unless_overwrite(extension, copy_of):
    path = copy_of(extension)
    audio_factory.write_tags(path, title="Kept", initialkey="Am")
    untouched = file_sha(path), os.stat(path).st_mtime_ns

    kept = write_key(path, B_MINOR, "camelot")

    assert kept.problem is None and not kept.changed
    assert kept.kept == {"key": ["Am"]}
    assert (file_sha(path), os.stat(path).st_mtime_ns) == untouched

    replaced = write_key(path, B_MINOR, "camelot", overwrite=True)

    assert replaced.changed and replaced.written == {"key": ["10A"]}
    metadata = read_metadata(path)
    assert (metadata.key, metadata.title) == ("10A", "Kept")


def test_an_id3_key_in_a_txxx_initialkey_frame_counts_as_an_existing_key(copy_of):
    """Some taggers write the Vorbis name as an ID3 TXXX frame: it is read as the file's key, kept without
    --overwrite (no second, conflicting TKEY beside it), and replaced by TKEY with it."""
    from mutagen.id3 import TXXX

    path = copy_of("mp3")
    tags = ID3(path)
    tags.add(TXXX(encoding=3, desc="initialkey", text=["Fm"]))
    tags.save(path)
    assert read_metadata(path).key == "Fm"
    kept = write_key(path, B_MINOR, "standard")
    assert kept.problem is None and not kept.changed and kept.kept == {"key": ["Fm"]}
    assert "TKEY" not in ID3(path)
    replaced = write_key(path, B_MINOR, "standard", overwrite=True)
    assert replaced.changed and read_metadata(path).key == "Bm"
    assert ID3(path).getall("TXXX:initialkey") == []


@pytest.mark.parametrize("extension", WRITE_FORMATS)
def test_multi_valued_genre_mood_grouping_round_trip(extension, copy_of):
    path = copy_of(extension)
    audio_before = decoded_audio_digest(path)
    fields = {"genre": ["Rock", "Jazz"], "mood": ["calm", "dark"], "grouping": ["Live", "B-Sides"]}

    result = write_tags(path, fields, "replace")

    assert result.problem is None and result.written == fields
    for name, values in fields.items():
        assert raw_values(path, name) == values
    metadata = read_metadata(path)
    # every value where the format's reader keeps several (joined with "; "), else the first
    for name, values in fields.items():
        assert getattr(metadata, name) in ("; ".join(values), values[0])

    added = write_tags(path, {"genre": ["jazz", "Blues", "blues"], "mood": ["calm"]}, "add")

    assert added.written == {"genre": ["Rock", "Jazz", "Blues"]} and added.kept == {"mood": ["calm", "dark"]}
    assert raw_values(path, "genre") == ["Rock", "Jazz", "Blues"]
    assert decoded_audio_digest(path) == audio_before


def test_id3v23_tag_stays_v23_and_is_read_back(copy_of):
    path = copy_of("mp3")
    tags = ID3(path)
    tags.add(TIT2(encoding=1, text=["Old player"]))
    tags.update_to_v23()
    tags.save(path, v2_version=3)

    result = write_tags(path, {"key": ["Am"], "genre": ["Rock", "Jazz"], "mood": ["calm"]})

    assert result.problem is None and result.changed
    tags = ID3(path)
    assert tags.version[:2] == (2, 3)
    assert (tags["TKEY"].text, tags["TCON"].text, tags["TXXX:MOOD"].text) == (["Am"], ["Rock/Jazz"], ["calm"])
    metadata = read_metadata(path)
    assert (metadata.title, metadata.key, metadata.genre, metadata.mood) == ("Old player", "Am", "Rock/Jazz", "calm")


def test_read_only_file_is_refused_as_a_problem_even_for_root(copy_of):
    path = copy_of("flac")
    os.chmod(path, 0o444)
    before = file_sha(path)

    result = write_key(path, B_MINOR)

    assert not result.changed and "read-only" in result.problem
    assert file_sha(path) == before and leftovers(path) == []


def test_read_only_folder_is_refused_as_a_problem_even_for_root(copy_of):
    path = copy_of("ogg")
    folder = os.path.dirname(path)
    os.chmod(folder, 0o555)
    try:
        result = write_key(path, B_MINOR)
    finally:
        os.chmod(folder, 0o755)
    assert not result.changed and "read-only" in result.problem


def test_vanished_file_is_refused_as_a_problem(tmp_path):
    result = write_key(tmp_path / "gone.mp3", B_MINOR)
    assert not result.changed and result.problem == "file not found"


def test_file_deleted_during_the_write_is_not_brought_back(copy_of, monkeypatch):
    path = copy_of("mp3")
    real_verify = tag_writer._verify

    def verify_after_the_user_deleted_it(copy, *checks):
        os.unlink(path)
        real_verify(copy, *checks)

    monkeypatch.setattr(tag_writer, "_verify", verify_after_the_user_deleted_it)
    result = write_key(path, B_MINOR)

    assert not result.changed and "vanished" in result.problem
    assert not os.path.exists(path) and leftovers(path) == []


def test_write_that_would_change_the_audio_is_refused_and_the_original_kept(copy_of, monkeypatch):
    path = copy_of("wav")
    before = file_sha(path)
    real_apply = tag_writer._apply

    def apply_and_damage_one_sample(copy, planned):
        real_apply(copy, planned)
        with open(copy, "r+b") as handle:  # the middle of a WAV file is PCM data
            handle.seek(os.path.getsize(copy) // 2)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0xFF]))

    monkeypatch.setattr(tag_writer, "_apply", apply_and_damage_one_sample)
    result = write_key(path, B_MINOR)

    assert not result.changed and "audio would change" in result.problem
    assert file_sha(path) == before and leftovers(path) == []


@pytest.mark.parametrize("maker", [audio_factory.make_text_as_audio, audio_factory.make_random_bytes,
                                   audio_factory.make_zero_byte])
def test_non_audio_file_is_refused_as_a_problem(maker, tmp_path):
    path = str(maker(tmp_path / "fake.mp3"))
    before = file_sha(path)

    result = write_tags(path, {"genre": ["Rock"]})

    assert not result.changed and result.problem
    assert file_sha(path) == before and leftovers(path) == []


def test_unsupported_tag_format_is_refused_as_a_problem(sources, tmp_path):
    path = str(tmp_path / "song.wv")  # WavPack: APEv2 tags, which we do not write
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", sources["wav"], "-c:a", "wavpack", path],
                   check=True)
    before = file_sha(path)

    result = write_key(path, B_MINOR)

    assert not result.changed and "not supported" in result.problem
    assert file_sha(path) == before


def test_symlink_target_is_written_and_the_link_kept(copy_of, tmp_path):
    target = copy_of("flac")
    link = tmp_path / "link.flac"
    link.symlink_to(target)

    result = write_key(link, B_MINOR, "openkey")

    assert result.changed and link.is_symlink()
    assert read_metadata(target).key == B_MINOR.open_key


def test_hard_linked_file_is_refused_so_the_links_stay_together(copy_of, tmp_path):
    path = copy_of("m4a")
    os.link(path, tmp_path / "second-name.m4a")

    result = write_key(path, B_MINOR)

    assert not result.changed and "hard links" in result.problem


def test_bad_requests_are_problems_not_exceptions(copy_of):
    path = copy_of("ogg")
    assert "notation" in write_key(path, B_MINOR, "solfege").problem
    assert "cannot write field" in write_tags(path, {"title": ["x"]}).problem
    assert "no tag values" in write_tags(path, {"genre": ["  "]}).problem
    assert "policy" in write_tags(path, {"genre": ["Rock"]}, "merge").problem


def test_file_changed_by_another_program_during_the_write_keeps_that_change(copy_of, monkeypatch):
    path = copy_of("flac")
    real_verify = tag_writer._verify

    def verify_while_another_tagger_saves(copy, *checks):
        audio_factory.write_tags(path, title="Saved elsewhere")
        real_verify(copy, *checks)

    monkeypatch.setattr(tag_writer, "_verify", verify_while_another_tagger_saves)
    result = write_key(path, B_MINOR)

    assert not result.changed and "changed while writing" in result.problem
    metadata = read_metadata(path)
    assert (metadata.title, metadata.key) == ("Saved elsewhere", None) and leftovers(path) == []


def test_file_changed_between_inspection_and_copy_is_refused_and_keeps_that_change(copy_of, monkeypatch):
    """Another tagger saves the file (same size: FLAC padding absorbs the tag) after the writer decided from the
    old tags that the key field was empty: the write must be refused, not overwrite the key just written."""
    import engine.audio

    path = copy_of("flac")
    real_digest = engine.audio.decoded_audio_digest
    saves = []

    def digest_while_another_tagger_saves(target):
        if not saves:  # once: the digest of the original, taken after the writer read its tags
            size = os.path.getsize(path)
            audio_factory.write_tags(path, initialkey="C")
            saves.append(os.path.getsize(path) == size)  # the same size: only the modification time tells
        return real_digest(target)

    monkeypatch.setattr(engine.audio, "decoded_audio_digest", digest_while_another_tagger_saves)
    result = write_key(path, B_MINOR)

    assert saves == [True]
    assert not result.changed and "changed while writing" in result.problem
    assert read_metadata(path).key == "C" and leftovers(path) == []
