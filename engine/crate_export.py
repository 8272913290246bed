"""A crate as files DJ software reads: rekordbox's XML collection (with keys and tempi) and M3U8.

rekordbox imports ``DJ_PLAYLISTS`` XML (File → Import → rekordbox xml): a ``COLLECTION`` of ``TRACK`` entries
(``Location`` a file:// URI, ``Name``, ``Artist``, ``AverageBpm``, ``Tonality``, ``TotalTime`` in seconds …) and a
``PLAYLISTS`` tree of ``NODE``s whose ``TRACK Key`` attributes name collection entries. Mixxx imports M3U / M3U8
playlists (``engine.playlist.write_m3u8``) and reads keys and tempi from the files' tags itself. Both writers
refuse the same targets and write through a temporary file and a rename (``playlist.check_target``).
"""

from __future__ import annotations

import os
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

from engine.atomic_write import write_bytes_atomically
from engine.playlist import check_target, control_free
from engine.results import TrackRow

PRODUCT_NAME = "semisup-music"
REKORDBOX_XML_VERSION = "1.0.0"  # the DJ_PLAYLISTS format version rekordbox 5-7 write and read
FOLDER_NODE, PLAYLIST_NODE = "0", "1"  # NODE Type
KEY_TYPE_TRACK_ID = "0"  # a playlist's TRACK Key holds the collection's TrackID
LOCATION_PREFIX = "file://localhost/"  # as rekordbox writes Location
URI_SAFE = "/:"  # every other byte outside unreserved ASCII is percent-encoded, so any file name round-trips


def file_uri(path: str, path_module=os.path) -> str:
    """``file://localhost/…`` of an absolute path, its bytes percent-encoded (UTF-8 names and raw bytes alike), as
    rekordbox writes it on either system: ``/Users/dj/a b.mp3`` → ``file://localhost/Users/dj/a%20b.mp3``,
    ``C:\\Music\\a b.mp3`` → ``file://localhost/C:/Music/a%20b.mp3`` (the drive after a slash, forward slashes).
    ``path_module``: ``ntpath`` or ``posixpath`` (this system's by default)."""
    absolute = path_module.abspath(path)
    if path_module.sep != "/":
        absolute = absolute.replace(path_module.sep, "/")
    return LOCATION_PREFIX + urllib.parse.quote(os.fsencode(absolute).lstrip(b"/"), safe=URI_SAFE)


def path_from_uri(uri: str) -> str:
    """The path a ``file_uri`` names on this system (surrogate escapes for bytes that are not UTF-8)."""
    if not uri.startswith(LOCATION_PREFIX):
        raise ValueError(f"not a {LOCATION_PREFIX} URI: {uri!r}")
    named = os.fsdecode(urllib.parse.unquote_to_bytes(uri[len(LOCATION_PREFIX):]))
    return named.replace("/", os.sep) if os.sep != "/" else "/" + named


def rekordbox_xml(tracks: Sequence[TrackRow], playlist_name: str) -> bytes:
    """The ``DJ_PLAYLISTS`` document: every track in the collection, once, and one playlist of them in order."""
    root = ElementTree.Element("DJ_PLAYLISTS", Version=REKORDBOX_XML_VERSION)
    ElementTree.SubElement(root, "PRODUCT", Name=PRODUCT_NAME, Version="", Company="")
    unique = list({track.id: track for track in tracks}.values())
    collection = ElementTree.SubElement(root, "COLLECTION", Entries=str(len(unique)))
    for track in unique:
        ElementTree.SubElement(collection, "TRACK", _track_attributes(track))
    playlists = ElementTree.SubElement(root, "PLAYLISTS")
    folder = ElementTree.SubElement(playlists, "NODE", Type=FOLDER_NODE, Name="ROOT", Count="1")
    playlist = ElementTree.SubElement(folder, "NODE", Name=control_free(playlist_name), Type=PLAYLIST_NODE,
                                      KeyType=KEY_TYPE_TRACK_ID, Entries=str(len(tracks)))
    for track in tracks:
        ElementTree.SubElement(playlist, "TRACK", Key=str(track.id))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _track_attributes(track: TrackRow) -> dict[str, str]:
    """A collection entry; attributes with no value are left out (rekordbox reads a missing one as unknown)."""
    values = {
        "TrackID": str(track.id),
        "Name": track.title or Path(track.display_path or track.path).stem,
        "Artist": track.artist,
        "Album": track.album,
        "Genre": track.genre,
        "Year": None if track.year is None else str(track.year),
        "TotalTime": None if not track.duration else str(int(round(track.duration))),
        "BitRate": None if not track.bitrate else str(int(round(track.bitrate / 1000))),
        "AverageBpm": None if track.mixing_bpm is None else f"{track.mixing_bpm:.2f}",
        "Tonality": None if track.key is None else track.key.to_key().short_name,
        "Location": file_uri(track.path),
    }
    return {name: control_free(value) for name, value in values.items() if value}


def write_rekordbox_xml(tracks: Sequence[TrackRow], playlist_name: str, path: Path | str, overwrite: bool = False,
                        protected: Sequence[Path] = ()) -> Path:
    """Save ``rekordbox_xml``; the target is refused as ``playlist.check_target`` says (``PlaylistWriteError``)."""
    path = Path(path)
    check_target(path, overwrite, protected)
    return write_bytes_atomically(path, rekordbox_xml(tracks, playlist_name))
