"""Real produced music from Debian game packages: fetch, unpack (including ``.pk3`` zips), describe.

Every file gets a manifest record: package, version, installed path, sha256, duration, license (the
governing ``debian/copyright`` stanza, or the package-wide statement where that file is free text),
soundtrack (package) and album (album / world sub-folder), title/artist/composer from tags, Warzone's
``album.json`` or SuperTuxKart's ``*.music`` XML, and a version-pair id for SuperTuxKart's ``x`` /
``x_fast`` re-renders. Whole soundtracks are held out as the test (and validation) split.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import mutagen

from engine.audio import AudioDecodeError, probe
from training.corpora.debian_copyright import license_for, read_copyright
from training.corpora.debian_packages import deb_version, download_deb, extract_deb
from training.corpora.manifest import read_manifest, sha256_of_file, write_manifest

MUSIC_EXTENSIONS = (".ogg", ".opus", ".mp3", ".flac", ".wav")
MIN_TRACK_SECONDS = 10.0  # shorter files are jingles and stingers, not tracks
MANIFEST_NAME = "manifest.jsonl"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GameMusicPackage:
    name: str
    music_folder: str  # inside the unpacked package
    containers: tuple[str, ...] = ()  # .pk3 zips (inside the package) whose audio members are the music
    album_from_subfolder: bool = False  # sub-folder under music_folder names an album / world
    fallback_license: str = ""  # package-wide statement where debian/copyright is not machine-readable


GAME_MUSIC_PACKAGES = (
    GameMusicPackage("warzone2100-music", "usr/share/games/warzone2100/music/albums", album_from_subfolder=True),
    GameMusicPackage("ufoai-music", "pk3/0music.pk3/music", containers=("usr/share/games/ufoai/base/0music.pk3",)),
    GameMusicPackage("wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music", fallback_license="GPL-2+"),
    GameMusicPackage("naev-data", "usr/share/naev/dat/snd/music"),
    GameMusicPackage("supertux-data", "usr/share/games/supertux2/music", album_from_subfolder=True),
    GameMusicPackage("widelands-data", "usr/share/games/widelands/data/music"),
    GameMusicPackage("hedgewars-data", "usr/share/games/hedgewars/Data/Music"),
    GameMusicPackage("nexuiz-music", "pk3/music.pk3/sound/cdtracks", containers=("usr/share/games/nexuiz/data/music.pk3",),
                     fallback_license="GPL-2+"),
    GameMusicPackage("singularity-music", "usr/share/games/singularity/music", fallback_license="CC-BY-SA-3.0"),
    GameMusicPackage("supertuxkart-data", "usr/share/games/supertuxkart/data/music"),
    GameMusicPackage("0ad-data", "pk3/public.zip/audio/music", containers=("usr/share/games/0ad/mods/public/public.zip",)),
    GameMusicPackage("pushover-data", "usr/share/pushover/themes"),
    GameMusicPackage("xmoto-data", "usr/share/games/xmoto/Textures/Musics"),
    GameMusicPackage("extremetuxracer-data", "usr/share/games/etr/music"),
    GameMusicPackage("frozen-bubble-data", "usr/share/games/frozen-bubble/snd"),
    GameMusicPackage("asc-music", "usr/share/games/asc/music"),
    GameMusicPackage("fretsonfire-songs-muldjord", "usr/share/games/fretsonfire/data/songs/muldjord", album_from_subfolder=True,
                     fallback_license="CC-BY-SA-3.0"),
    GameMusicPackage("fretsonfire-songs-sectoid", "usr/share/games/fretsonfire/data/songs/sectoid", album_from_subfolder=True,
                     fallback_license="MIT (Expat)"),
    GameMusicPackage("planetblupi-music-ogg", "usr/share/planetblupi/music"),
)
# Held out whole, chosen before any training run of the 2026-12 model and never used for model selection:
# seven soundtracks of unlike styles, 133 tracks (SuperTuxKart carries the version pairs). The validation
# soundtracks (about 95 tracks, 0 A.D.'s 61 among them) are for model selection; every other package trains.
DEFAULT_TEST_PACKAGES = ("supertuxkart-data", "hedgewars-data", "singularity-music", "widelands-data",
                         "pushover-data", "xmoto-data", "extremetuxracer-data")
DEFAULT_VAL_PACKAGES = ("nexuiz-music", "frozen-bubble-data", "asc-music", "0ad-data", "planetblupi-music-ogg")


def package_by_name(name: str) -> GameMusicPackage:
    for package in GAME_MUSIC_PACKAGES:
        if package.name == name:
            return package
    raise KeyError(f"unknown game music package {name!r}; known: {', '.join(p.name for p in GAME_MUSIC_PACKAGES)}")


def unpack_containers(package_root: Path, package: GameMusicPackage) -> None:
    """Extract the audio members of each ``.pk3`` to ``pk3/<zip name>/`` once."""
    for container in package.containers:
        target = package_root / "pk3" / Path(container).name
        marker = target / ".unpacked"
        if marker.exists():
            continue
        with zipfile.ZipFile(package_root / container) as archive:
            members = [name for name in archive.namelist() if name.lower().endswith(MUSIC_EXTENSIONS)]
            for member in members:
                archive.extract(member, target)
        marker.write_text("\n".join(members))


def _first_tag(tags: Any, *names: str) -> str:
    for name in names:
        values = tags.get(name) if tags else None
        if values:
            return str(values[0]).strip()
    return ""


def read_tags(path: Path) -> dict[str, str]:
    """title/artist/composer/album/genre from the file's own tags (empty strings when absent)."""
    try:
        audio = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError):
        return {}
    tags = audio.tags if audio is not None else None
    return {
        "title": _first_tag(tags, "title"),
        "artist": _first_tag(tags, "artist"),
        "composer": _first_tag(tags, "composer"),
        "album": _first_tag(tags, "album"),
        "genre": _first_tag(tags, "genre"),
    }


def warzone_album_metadata(album_folder: Path) -> dict[str, dict[str, str]]:
    """file name → {title, artist, album} from Warzone 2100's ``album.json``."""
    path = album_folder / "album.json"
    if not path.exists():
        return {}
    album = json.loads(path.read_text(encoding="utf-8"))
    return {
        track["filename"]: {"title": track.get("title", ""), "artist": track.get("author", album.get("author", "")),
                            "album": album.get("title", "")}
        for track in album.get("tracks", [])
    }


def supertuxkart_metadata(music_folder: Path) -> dict[str, dict[str, str]]:
    """file name → {title, composer, version_pair} from SuperTuxKart's ``*.music`` XML files; the normal
    and ``fast-filename`` renders of one piece share a ``version_pair`` id."""
    metadata: dict[str, dict[str, str]] = {}
    for path in sorted(music_folder.glob("*.music")):
        try:
            attributes = ElementTree.parse(path).getroot().attrib
        except ElementTree.ParseError:
            continue
        normal, fast = attributes.get("file"), attributes.get("fast-filename")
        entry = {"title": attributes.get("title", ""), "composer": attributes.get("composer", "")}
        if normal:
            metadata[normal] = {**entry, **({"version_pair": Path(normal).stem} if fast else {})}
        if fast:
            metadata[fast] = {**entry, "version_pair": Path(normal or fast).stem, "version": "fast"}
    return metadata


def _split_for(package: str, test_packages: set[str], val_packages: set[str]) -> str:
    if package in test_packages:
        return "test"
    return "val" if package in val_packages else "train"


def describe_package(package: GameMusicPackage, package_root: Path, version: str, split: str) -> list[dict[str, Any]]:
    """One record per music file of an unpacked package."""
    music_folder = package_root / package.music_folder
    stanzas = read_copyright(package_root, package.name)
    stk = supertuxkart_metadata(music_folder) if package.name == "supertuxkart-data" else {}
    records = []
    for path in sorted(p for p in music_folder.rglob("*") if p.suffix.lower() in MUSIC_EXTENSIONS):
        try:
            info = probe(path)
        except AudioDecodeError:
            continue
        if info.duration_seconds < MIN_TRACK_SECONDS:
            continue
        relative = path.relative_to(package_root).as_posix()
        album = path.parent.name if package.album_from_subfolder and path.parent != music_folder else ""
        metadata = read_tags(path)
        if package.name == "warzone2100-music":
            metadata.update({k: v for k, v in warzone_album_metadata(path.parent).get(path.name, {}).items() if v})
        metadata.update({k: v for k, v in stk.get(path.name, {}).items() if v})
        stanza = license_for(stanzas, relative)
        records.append({
            "path": str(path),
            "package": package.name,
            "version": version,
            "package_path": relative,
            "sha256": sha256_of_file(path),
            "duration": round(info.duration_seconds, 3),
            "codec": info.codec,
            "license": stanza.license if stanza else package.fallback_license,
            "license_source": ("debian/copyright Files: " + " ".join(stanza.patterns)[:120]) if stanza
            else "debian/copyright (free text, package-wide)",
            "copyright": stanza.copyright if stanza else "",
            "soundtrack": package.name,
            "album": album or metadata.get("album", ""),
            "title": metadata.get("title", "") or path.stem,
            "artist": metadata.get("artist", ""),
            "composer": metadata.get("composer", ""),
            "genre": metadata.get("genre", ""),
            "version_pair": metadata.get("version_pair", ""),
            "version_kind": metadata.get("version", "normal" if metadata.get("version_pair") else ""),
            "split": split,
        })
    return records


def build_game_music_corpus(out: Path, package_names: list[str], test_packages: list[str],
                            progress: Progress | None = None,
                            val_packages: tuple[str, ...] = DEFAULT_VAL_PACKAGES) -> dict[str, Any]:
    """Fetch, unpack and describe each package; the manifest is rewritten whole (it is cheap to rebuild),
    keeping records of packages not named this time."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_NAME
    kept = [record for record in read_manifest(manifest_path) if record["package"] not in package_names]
    test_set, val_set = set(test_packages), set(val_packages) - set(test_packages)
    for done, name in enumerate(package_names, 1):
        package = package_by_name(name)
        deb = download_deb(name, out / "debs")
        package_root = extract_deb(deb, out / "extracted" / name)
        unpack_containers(package_root, package)
        kept += describe_package(package, package_root, deb_version(deb), _split_for(name, test_set, val_set))
        if progress:
            progress("packages", done, len(package_names))
    kept.sort(key=lambda record: (record["package"], record["package_path"]))
    write_manifest(manifest_path, kept)
    return summarise(kept)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_package: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = by_package.setdefault(record["package"], {"tracks": 0, "hours": 0.0, "split": record["split"], "licenses": {}})
        entry["tracks"] += 1
        entry["hours"] = round(entry["hours"] + record["duration"] / 3600, 3)
        entry["licenses"][record["license"]] = entry["licenses"].get(record["license"], 0) + 1
    hours_by_split: dict[str, float] = {}
    for entry in by_package.values():
        hours_by_split[entry["split"]] = round(hours_by_split.get(entry["split"], 0.0) + entry["hours"], 3)
    return {"tracks": len(records), "hours_by_split": hours_by_split, "packages": by_package}
