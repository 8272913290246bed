"""Whether two tempi mix: within a percentage of each other, counting half and double tempo as a match.

DJ software does the same (a 170 BPM drum-and-bass track mixes with an 85 BPM half-time one), and it also
makes the filter forgive the estimator's commonest error, a tempo off by a factor of two.
"""

from __future__ import annotations

import math

METRICAL_FACTORS = (1.0, 2.0, 0.5)  # the same tempo, double, half


def tempos_match(query_bpm: float, candidate_bpm: float, percent: float) -> bool:
    """True when ``candidate_bpm``, or its double or half, lies within ``percent`` % of ``query_bpm``."""
    if not (0 < query_bpm < math.inf and 0 < candidate_bpm < math.inf):  # none, or a stored tag of older code
        return False
    return any(abs(candidate_bpm * factor / query_bpm - 1.0) * 100.0 <= percent for factor in METRICAL_FACTORS)
