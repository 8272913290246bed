"""Which clips to render: a deterministic, prefix-stable plan from hour budgets per split.

Clip ``i`` of a split depends only on (seed, split, i), so re-running with a bigger budget keeps every
clip already rendered and adds new ones. Modes are drawn 50/50 and target tonics uniformly, so all 24
keys are balanced whatever the corpus's own key distribution.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field

from engine.keys import Key
from training.corpora.instrumentation import Instrumentation, choose_instrumentation
from training.corpora.score_sources import CHORALE_SOURCE, ScorePiece
from training.corpora.soundfonts import SOUNDFONTS


@dataclass(frozen=True)
class ScoreCorpusConfig:
    """Everything that shapes the rendered corpus; stored beside the manifest."""

    seed: int = 5
    sample_rate: int = 22050
    target_seconds: float = 30.0
    min_seconds: float = 20.0
    max_seconds: float = 40.0
    chorale_share: float = 0.5
    held_out_soundfont_share_in_test: float = 0.6
    reverb_share: float = 0.7
    tempo_bpm: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {CHORALE_SOURCE: (56.0, 96.0), "oneills1850": (80.0, 150.0), "ryans_mammoth": (80.0, 150.0)}
    )


@dataclass(frozen=True)
class ClipJob:
    clip_id: str
    split: str
    piece: ScorePiece
    transposition: int
    quarter_bpm: float
    instrumentation: Instrumentation
    soundfont: str
    reverb: bool
    variant_seed: int

    @property
    def key(self) -> Key:
        return self.piece.key.transposed(self.transposition)

    def to_json(self) -> dict:
        return asdict(self)


def _signed_shift(semitones: int) -> int:
    """Map 0..11 to -5..+6 so transpositions stay near the written register."""
    semitones %= 12
    return semitones - 12 if semitones > 6 else semitones


def clip_count(hours: float, config: ScoreCorpusConfig) -> int:
    return math.ceil(hours * 3600 / config.target_seconds)


def plan_clip(index: int, split: str, pieces_by_kind: dict[tuple[str, str], list[ScorePiece]], part_counts: dict[str, int],
              config: ScoreCorpusConfig) -> ClipJob | None:
    """Clip ``index`` of ``split``; None when the split has no piece of the drawn kind."""
    rng = random.Random(f"{config.seed}:{split}:{index}")
    mode = rng.choice(("major", "minor"))
    kind = "chorale" if rng.random() < config.chorale_share else "tune"
    pool = pieces_by_kind.get((kind, mode)) or pieces_by_kind.get(("tune" if kind == "chorale" else "chorale", mode))
    if not pool:
        return None
    piece = rng.choice(pool)
    target_pitch_class = rng.randrange(12)
    transposition = _signed_shift(target_pitch_class - piece.key.pitch_class)
    low, high = config.tempo_bpm[piece.source]
    quarter_bpm = round(rng.uniform(low, high), 1)
    instrumentation = choose_instrumentation(part_counts.get(piece.piece_id, 1), rng)
    train_fonts = [font.name for font in SOUNDFONTS if not font.held_out]
    held_out_fonts = [font.name for font in SOUNDFONTS if font.held_out]
    if split == "test" and rng.random() < config.held_out_soundfont_share_in_test:
        soundfont = rng.choice(held_out_fonts)
    else:
        soundfont = rng.choice(train_fonts)
    return ClipJob(
        clip_id=f"{split}-{index:06d}",
        split=split,
        piece=piece,
        transposition=transposition,
        quarter_bpm=quarter_bpm,
        instrumentation=instrumentation,
        soundfont=soundfont,
        reverb=rng.random() < config.reverb_share,
        variant_seed=rng.randrange(2**31),
    )


def plan_clips(pieces: list[ScorePiece], split_of_piece: dict[str, str], part_counts: dict[str, int],
               hours_by_split: dict[str, float], config: ScoreCorpusConfig) -> list[ClipJob]:
    jobs: list[ClipJob] = []
    for split, hours in hours_by_split.items():
        pieces_by_kind: dict[tuple[str, str], list[ScorePiece]] = {}
        for piece in pieces:
            if split_of_piece[piece.piece_id] == split:
                kind = "chorale" if piece.source == CHORALE_SOURCE else "tune"
                pieces_by_kind.setdefault((kind, piece.key.mode), []).append(piece)
        for index in range(clip_count(hours, config)):
            job = plan_clip(index, split, pieces_by_kind, part_counts, config)
            if job is not None:
                jobs.append(job)
    return jobs
