"""Which generated clips to render: a deterministic, prefix-stable plan of ``TonalPieceSpec`` per clip index.

Clip ``i`` depends only on (seed, i), so a bigger ``--hours`` keeps every clip already rendered and adds
new ones. Keys, styles and sound fonts are dealt from shuffled decks (a fresh shuffle per block of 24
keys, of styles, of sound fonts), so every prefix of the corpus is balanced over all 24 keys to within one
block. The corpus has train and val splits only: its clips are never a test set.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from training.corpora.soundfonts import GENERATOR_SOUNDFONTS, ensure_training_soundfont, soundfont_by_name
from training.corpora.splits import split_of_group
from training.corpora.tonal_generator import TonalPieceSpec
from training.corpora.tonal_harmony import MINOR_COLOURS
from training.corpora.tonal_styles import CADENCES, STYLE_NAMES, Style, style_by_name

GENERATOR_NAME = "tonal_train_v1"
SPLIT_SHARES = {"train": 0.9, "val": 0.1}
KEY_COUNT = 24
# Registers (lowest MIDI note of each role) and dynamics drawn per clip.
MELODY_LOW = (55, 72)
COMPING_LOW = (46, 60)
BASS_LOW = (28, 40)
DYNAMIC_LEVEL = (48, 104)
# One polyphonic instrument playing melody, chords and bass: a "solo" clip.
SOLO_PROGRAMS = (0, 1, 2, 4, 5, 24, 25, 16, 19, 12)


@dataclass(frozen=True)
class TonalCorpusConfig:
    """Everything that shapes the generated corpus; stored beside the manifest."""

    seed: int = 11
    sample_rate: int = 22050
    target_seconds: float = 30.0
    reverb_share: float = 0.7
    solo_share: float = 0.12
    pad_share: float = 0.35
    soundfonts: tuple[str, ...] = field(default_factory=lambda: tuple(font.name for font in GENERATOR_SOUNDFONTS))
    styles: tuple[str, ...] = STYLE_NAMES  # the deck of styles clips are dealt from (tonal_styles.EXTRA_STYLES too)
    # None: each style's own tempo range. (low, high): every clip's tempo drawn log-uniformly in it, whatever its
    # style, so that a network trained on the corpus reads the beat from the music, not from a style's usual tempo.
    tempo_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.styles or len(set(self.styles)) != len(self.styles):
            raise ValueError("styles: name each style once, and at least one")
        for name in self.styles:  # an unknown name is refused here, before anything is rendered
            try:
                style_by_name(name)
            except KeyError as error:
                raise ValueError(error.args[0]) from None
        if self.tempo_range is not None:
            low, high = self.tempo_range
            if not 20 <= low <= high <= 400:
                raise ValueError(f"tempo range {low}-{high} BPM: give 20 <= low <= high <= 400")
        for name in self.soundfonts:
            ensure_training_soundfont(soundfont_by_name(name))


@dataclass(frozen=True)
class TonalClipJob:
    clip_id: str
    index: int
    split: str
    spec: TonalPieceSpec
    soundfont: str
    reverb: bool


def clip_count(hours: float, config: TonalCorpusConfig) -> int:
    return math.ceil(hours * 3600 / config.target_seconds)


def _dealt(deck: list, index: int, salt: str, seed: int):
    """Item ``index`` of an endless deal from ``deck``, reshuffled every ``len(deck)`` items."""
    block, position = divmod(index, len(deck))
    order = list(deck)
    random.Random(f"{seed}:{salt}:{block}").shuffle(order)
    return order[position]


def _roles(style: Style, solo: bool, config: TonalCorpusConfig, rng: random.Random) -> tuple[int, int, int, int | None]:
    if solo:
        program = rng.choice(SOLO_PROGRAMS)
        return program, program, program, None
    pad = rng.choice(style.pad_programs) if style.pad_programs and rng.random() < config.pad_share else None
    return rng.choice(style.melody_programs), rng.choice(style.comping_programs), rng.choice(style.bass_programs), pad


def _tempo(style: Style, index: int, config: TonalCorpusConfig, rng: random.Random) -> int:
    """The clip's quarter-note tempo. The style's draw is always made, so a tempo range changes the tempo alone and
    leaves every other field of the clip as the same seed deals it."""
    style_tempo = rng.randint(*style.tempo_bpm)
    if config.tempo_range is None:
        return style_tempo
    low, high = config.tempo_range
    fraction = random.Random(f"{config.seed}:tempo:{index}").random()
    return min(high, max(low, round(low * (high / low) ** fraction)))


def plan_clip(index: int, config: TonalCorpusConfig) -> TonalClipJob:
    """Clip ``index``: depends on (config.seed, index) only."""
    key_index = _dealt(list(range(KEY_COUNT)), index, "key", config.seed)
    style = style_by_name(_dealt(list(config.styles), index, "style", config.seed))
    soundfont = _dealt(list(config.soundfonts), index, "soundfont", config.seed)
    rng = random.Random(f"{config.seed}:clip:{index}")
    mode = "minor" if key_index >= 12 else "major"
    colour = rng.choice(MINOR_COLOURS) if mode == "minor" else "major"
    solo = rng.random() < config.solo_share
    melody, comping, bass, pad = _roles(style, solo, config, rng)
    spec = TonalPieceSpec(
        style=style.name,
        pitch_class=key_index % 12,
        mode=mode,
        colour=colour,
        tempo_bpm=_tempo(style, index, config, rng),
        drums=not solo and rng.random() < style.drum_share,
        solo=solo,
        melody_program=melody,
        comping_program=comping,
        bass_program=bass,
        pad_program=pad,
        progression=rng.choice(style.major_progressions if mode == "major" else style.minor_progressions),
        cadence=rng.choice(CADENCES[colour]),
        bass_pattern=rng.choice(style.bass_patterns),
        comping_pattern=rng.choice(style.comping_patterns),
        melody_low=rng.randint(*MELODY_LOW),
        comping_low=rng.randint(*COMPING_LOW),
        bass_low=rng.randint(*BASS_LOW),
        dynamic_level=rng.randint(*DYNAMIC_LEVEL),
        target_seconds=config.target_seconds,
        variant_seed=rng.randrange(2**31),
    )
    split = split_of_group(f"{GENERATOR_NAME}:{config.seed}:{index}", SPLIT_SHARES)
    return TonalClipJob(f"tonal-{index:06d}", index, split, spec, soundfont, rng.random() < config.reverb_share)


def plan_clips(hours: float, config: TonalCorpusConfig) -> list[TonalClipJob]:
    return [plan_clip(index, config) for index in range(clip_count(hours, config))]
