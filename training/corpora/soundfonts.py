"""The General MIDI sound fonts scores are rendered with; one is held out for evaluation only.

Each sound font comes from a Debian package: the system copy is used when installed, otherwise the
package is fetched and unpacked under the data folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.corpora.debian_packages import download_deb, extract_deb


@dataclass(frozen=True)
class SoundFont:
    name: str
    package: str
    path_in_package: str  # absolute path once installed
    held_out: bool  # used only for the test split, never for training or validation
    license: str


SOUNDFONTS = (
    SoundFont("FluidR3_GM", "fluid-soundfont-gm", "/usr/share/sounds/sf2/FluidR3_GM.sf2", False, "MIT"),
    SoundFont("TimGM6mb", "timgm6mb-soundfont", "/usr/share/sounds/sf2/TimGM6mb.sf2", False, "GPL-2"),
    SoundFont("csound_GMbank", "csound-soundfont", "/usr/share/sounds/sf2/sf_GMbank.sf2", False, "LGPL-2.1+"),
    SoundFont(
        "MuseScore_General_Lite", "musescore-general-soundfont-small",
        "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3", True, "MIT",
    ),
)


def soundfont_by_name(name: str) -> SoundFont:
    for soundfont in SOUNDFONTS:
        if soundfont.name == name:
            return soundfont
    raise KeyError(f"unknown sound font {name!r}; known: {', '.join(s.name for s in SOUNDFONTS)}")


def locate_soundfont(soundfont: SoundFont, folder: Path) -> Path:
    """Installed copy, or the copy unpacked under ``folder/<package>/`` (fetched when missing)."""
    installed = Path(soundfont.path_in_package)
    if installed.exists():
        return installed
    unpacked = folder / soundfont.package / soundfont.path_in_package.lstrip("/")
    if not unpacked.exists():
        deb = download_deb(soundfont.package, folder / "debs")
        extract_deb(deb, folder / soundfont.package)
    if not unpacked.exists():
        raise FileNotFoundError(f"{soundfont.package} does not contain {soundfont.path_in_package}")
    return unpacked
