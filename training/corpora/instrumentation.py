"""General MIDI programs grouped into the instrument families the tag head learns, and how to pick them.

Families are the labels (``keyboard``, ``strings``, ...); a rendered clip records the families present and
whether one instrument plays (solo) or several (ensemble).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# family -> (programs for upper parts, programs for lower parts)
FAMILY_PROGRAMS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "keyboard": ((0, 1, 2, 4, 5, 6, 7), (0, 1, 2, 4, 5)),
    "organ": ((16, 17, 19, 20, 21), (16, 19, 20)),
    "guitar": ((24, 25, 26, 27), (24, 25, 26, 27, 32, 33)),
    "mallet": ((8, 9, 11, 12, 13, 14), (11, 12)),
    "strings": ((40, 41, 48, 49), (42, 43, 48)),
    "brass": ((56, 59, 60, 61), (57, 58, 60, 61)),
    "woodwind": ((68, 71, 72, 73, 74, 64, 65), (70, 71, 66, 67)),
    "choir": ((52, 53, 54), (52, 53)),
    "synth": ((80, 81, 82, 87, 88, 89, 90, 91), (38, 39, 88, 89, 90)),
}
FAMILIES = tuple(FAMILY_PROGRAMS)
# Families whose single instrument can play several voices at once (a solo rendering of a chorale).
POLYPHONIC_FAMILIES = ("keyboard", "organ", "guitar", "mallet", "synth")
SOLO_SHARE = 0.35
SAME_FAMILY_ENSEMBLE_SHARE = 0.5


@dataclass(frozen=True)
class Instrumentation:
    """Programs per score part (``programs[i]`` plays part ``i``), with the labels they imply."""

    programs: tuple[int, ...]
    families: tuple[str, ...]
    solo: bool
    doubling_octave: int = 0  # for a one-part tune played by two instruments: the second plays this many octaves off


def family_of_program(program: int) -> str:
    for family, (upper, lower) in FAMILY_PROGRAMS.items():
        if program in upper or program in lower:
            return family
    raise ValueError(f"GM program {program} is in no family")


def _program_for_part(family: str, part_index: int, part_count: int, rng: random.Random) -> int:
    upper, lower = FAMILY_PROGRAMS[family]
    is_lower_part = part_count > 1 and part_index >= part_count / 2
    return rng.choice(lower if is_lower_part else upper)


def choose_instrumentation(part_count: int, rng: random.Random) -> Instrumentation:
    """Solo (one instrument for all parts), a one-family ensemble, or a mixed ensemble; a one-part tune
    is played solo or doubled by a second instrument of another family."""
    if rng.random() < SOLO_SHARE:
        family = rng.choice(POLYPHONIC_FAMILIES if part_count > 1 else FAMILIES)
        program = rng.choice(FAMILY_PROGRAMS[family][0])
        return Instrumentation((program,) * part_count, (family,), solo=True)
    if part_count == 1:
        first, second = rng.sample(FAMILIES, 2)
        programs = (rng.choice(FAMILY_PROGRAMS[first][0]), rng.choice(FAMILY_PROGRAMS[second][1]))
        return Instrumentation(programs, tuple(sorted({first, second})), solo=False, doubling_octave=-1)
    if rng.random() < SAME_FAMILY_ENSEMBLE_SHARE:
        family = rng.choice(FAMILIES)
        programs = tuple(_program_for_part(family, index, part_count, rng) for index in range(part_count))
        return Instrumentation(programs, (family,), solo=False)
    families = [rng.choice(FAMILIES) for _ in range(part_count)]
    programs = tuple(_program_for_part(family, index, part_count, rng) for index, family in enumerate(families))
    return Instrumentation(programs, tuple(sorted(set(families))), solo=False)
