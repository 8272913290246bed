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


# More training fonts for the procedural tonal corpus (``tonal_plan``). They are kept out of SOUNDFONTS,
# which the score corpus draws from, so an existing score corpus plan stays as it was built.
# fluid-soundfont-gs is not among them: FluidR3_GS.sf2 holds only GS variation banks, no bank-0 presets.
MORE_TRAINING_SOUNDFONTS = (
    SoundFont("OPL3_FM_128M", "opl3-soundfont", "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2", False, "CC-BY-SA-4.0"),
    SoundFont("FluidR3Mono_GM", "fluidr3mono-gm-soundfont", "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3", False, "MIT"),
)
GENERATOR_SOUNDFONTS = tuple(font for font in SOUNDFONTS if not font.held_out) + MORE_TRAINING_SOUNDFONTS
# Files that are the held-out evaluation font whatever they are called (Debian's MuseScore_General.sf3 and
# default-GM.sf3 are alternatives links to MuseScore_General_Lite.sf3).
HELD_OUT_FILE_NAMES = ("MuseScore_General_Lite.sf3", "MuseScore_General.sf3", "MuseScore_General.sf2")


class HeldOutSoundFontError(ValueError):
    """A held-out (evaluation-only) sound font was asked for where training material is made."""


def soundfont_by_name(name: str) -> SoundFont:
    for soundfont in SOUNDFONTS + MORE_TRAINING_SOUNDFONTS:
        if soundfont.name == name:
            return soundfont
    known = ", ".join(s.name for s in SOUNDFONTS + MORE_TRAINING_SOUNDFONTS)
    raise KeyError(f"unknown sound font {name!r}; known: {known}")


def ensure_training_soundfont(soundfont: SoundFont, path: Path | None = None) -> None:
    """Raise HeldOutSoundFontError when ``soundfont``, or the file ``path`` resolves to, is held out."""
    if soundfont.held_out:
        raise HeldOutSoundFontError(f"sound font {soundfont.name} is held out for evaluation; never train on it")
    if path is not None:
        names = {Path(path).name, Path(path).resolve().name}
        if names & set(HELD_OUT_FILE_NAMES):
            raise HeldOutSoundFontError(f"{path} is the held-out evaluation sound font; never train on it")


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
