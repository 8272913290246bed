"""A rule over the shipped level scorer: take double the chosen tempo when its off-beats are nearly as strong as its
beats (the sign of a bare pulse heard at half speed). Acc1 per corpus and split for each threshold, and the unit
tests' synthesised signals. Validation and train splits only.

    PYTHONPATH=main python benchmarks/experiments/tempo_pulse_rule.py     (from /work, with the corpora and the cache
    of benchmarks/experiments/tempo_level_data.py in data/)
"""
import numpy as np
from pathlib import Path
from benchmarks.experiments.tempo_level_data import labelled_records, cached_correlations, file_correlation, strongest_relatives, correlation_of
from benchmarks.experiments.tempo_level_features import unit_signals
from engine import tempo
from benchmarks.experiments.tempo_level import shipped_scorer, FEATURE_NAMES
sc = shipped_scorer()
OFF = FEATURE_NAMES.index('offbeat_share')
clips = labelled_records(Path('data/generated/manifest.jsonl'), Path('data/scores/manifest.jsonl'), Path('data/generated_rhythm/manifest.jsonl'))
corr = cached_correlations([c['path'] for c in clips], file_correlation, Path('data/tempo_level_data.npz'))
def choose(correlation, T):
    cands, feats = strongest_relatives(correlation)
    if not cands.size: return 0.0, None
    s = sc.scores(feats); i = int(np.argmax(s)); c = cands[i]
    share = feats[i, OFF]
    dbl = np.where(np.abs(cands / (2 * c) - 1) < 0.02)[0]
    if T is not None and dbl.size and share >= T:
        c = cands[dbl[0]]
    return float(tempo.refined(correlation, c)), share
Ts = [None, 0.8, 0.85, 0.9, 0.95, 0.98]
for split in ('train', 'val'):
    for corpus in ('generated', 'chorales', 'rhythm'):
        sel = [c for c in clips if c['split'] == split and c['corpus'] == corpus and c['path'] in corr]
        row = []
        for T in Ts:
            hits = sum(abs(choose(corr[c['path']], T)[0] / c['bpm'] - 1) <= 0.04 for c in sel)
            row.append(f"{hits/max(1,len(sel))*100:.1f}")
        if not sel: continue
        print(split, corpus, len(sel), dict(zip([str(t) for t in Ts], row)))
for maker, bpm, audio in unit_signals():
    cr = correlation_of(audio)
    print(maker, bpm, [round(choose(cr, T)[0], 1) for T in Ts], 'share', round(choose(cr, None)[1], 3))
