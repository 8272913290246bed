"""The Camelot and Open Key wheels as published (Mixed In Key; Beatunes / Traktor), written out by hand.

Test oracles, deliberately not derived from ``engine/keys.py``: a product that swaps two wheel positions
or loosens the mixing rule disagrees with these literals.
"""

# (class index, name as the product spells it, Camelot, Open Key); index = pitch class (+12 for minor).
KEY_WHEEL = (
    (0, "C major", "8B", "1d"), (1, "Db major", "3B", "8d"), (2, "D major", "10B", "3d"),
    (3, "Eb major", "5B", "10d"), (4, "E major", "12B", "5d"), (5, "F major", "7B", "12d"),
    (6, "F# major", "2B", "7d"), (7, "G major", "9B", "2d"), (8, "Ab major", "4B", "9d"),
    (9, "A major", "11B", "4d"), (10, "Bb major", "6B", "11d"), (11, "B major", "1B", "6d"),
    (12, "C minor", "5A", "10m"), (13, "Db minor", "12A", "5m"), (14, "D minor", "7A", "12m"),
    (15, "Eb minor", "2A", "7m"), (16, "E minor", "9A", "2m"), (17, "F minor", "4A", "9m"),
    (18, "F# minor", "11A", "4m"), (19, "G minor", "6A", "11m"), (20, "Ab minor", "1A", "6m"),
    (21, "A minor", "8A", "1m"), (22, "Bb minor", "3A", "8m"), (23, "B minor", "10A", "3m"),
)

# Which Camelot codes mix with each code: itself, one step either way around the wheel, and its relative
# (same number, other letter). Nothing else: not two steps, not the parallel key.
MIXES_WITH = {
    "1A": {"1A", "12A", "2A", "1B"}, "1B": {"1B", "12B", "2B", "1A"},
    "2A": {"2A", "1A", "3A", "2B"}, "2B": {"2B", "1B", "3B", "2A"},
    "3A": {"3A", "2A", "4A", "3B"}, "3B": {"3B", "2B", "4B", "3A"},
    "4A": {"4A", "3A", "5A", "4B"}, "4B": {"4B", "3B", "5B", "4A"},
    "5A": {"5A", "4A", "6A", "5B"}, "5B": {"5B", "4B", "6B", "5A"},
    "6A": {"6A", "5A", "7A", "6B"}, "6B": {"6B", "5B", "7B", "6A"},
    "7A": {"7A", "6A", "8A", "7B"}, "7B": {"7B", "6B", "8B", "7A"},
    "8A": {"8A", "7A", "9A", "8B"}, "8B": {"8B", "7B", "9B", "8A"},
    "9A": {"9A", "8A", "10A", "9B"}, "9B": {"9B", "8B", "10B", "9A"},
    "10A": {"10A", "9A", "11A", "10B"}, "10B": {"10B", "9B", "11B", "10A"},
    "11A": {"11A", "10A", "12A", "11B"}, "11B": {"11B", "10B", "12B", "11A"},
    "12A": {"12A", "11A", "1A", "12B"}, "12B": {"12B", "11B", "1B", "12A"},
}

CAMELOT_OF_INDEX = {index: camelot for index, _, camelot, _ in KEY_WHEEL}


def codes_mix(first_index: int, second_index: int) -> bool:
    """Whether two key classes mix, by the literal wheel."""
    return CAMELOT_OF_INDEX[second_index] in MIXES_WITH[CAMELOT_OF_INDEX[first_index]]
