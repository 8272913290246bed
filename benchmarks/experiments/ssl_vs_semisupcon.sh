#!/usr/bin/env bash
# The paper's claim, reproduced here: SSL-only vs SemiSupCon with the same encoder, data, seed and budget.
# Each variant: pretrain (resumable) → frozen linear probes for key and tags on the rendered scores
# (train → test split) → model folder with the probe heads → `engine eval` (key clean + corrupted,
# tag AP, held-out soundtrack similarity, transposition consistency).
# Every held-out clip and track is evaluated (no sampling): the two runs differ by a few points at most.
# Data: engine train data scores|debian, then engine train data manifests (data/manifests/*.jsonl).
# Run from the folder that holds data/ and main/ (the checkout):  bash main/benchmarks/experiments/ssl_vs_semisupcon.sh
# STEPS=600 bash ... trains both for 600 steps instead of the configs' 150, into folders named compare_*_600.
set -euo pipefail
ENGINE=${ENGINE:-main/.venv/bin/engine}
STEPS=${STEPS:-150}
suffix=$([ "$STEPS" = 150 ] && echo "" || echo "_$STEPS")
for variant in ssl_only semisupcon; do
  name=compare_$variant$suffix
  run=data/runs/$name
  $ENGINE train pretrain --config main/training/configs/compare_$variant.toml --steps "$STEPS" --output-dir "$run"
  $ENGINE train probe --checkpoint "$run" --manifest data/manifests/scores_probe.jsonl \
    --cache-dir data/cache/audio16k --out "$run/probe" --tasks key,tags
  $ENGINE train export "$run" --probe "$run/probe" --out "data/models/$name" --name "${name//_/-}"
  $ENGINE eval --model "data/models/$name" --scores data/scores/manifest.jsonl \
    --debian data/debian/manifest.jsonl --out "data/eval/$name" --no-essentia
done
