#!/usr/bin/env bash
# The paper's claim, reproduced here: SSL-only vs SemiSupCon with the same encoder, data, seed and budget.
# Each variant: pretrain (resumable) → frozen linear probes for key and tags on the rendered scores
# (train → test split) → model folder with the probe heads → `engine eval` (key clean + corrupted,
# tag AP, held-out soundtrack similarity, transposition consistency).
# Every held-out clip and track is evaluated (no sampling): the two runs differ by a few points at most.
# Data: engine train data scores|debian, then engine train data manifests (data/manifests/*.jsonl).
# Run from the folder that holds data/:  bash main/training/experiments/ssl_vs_semisupcon.sh
set -euo pipefail
ENGINE=${ENGINE:-main/.venv/bin/engine}
for variant in ssl_only semisupcon; do
  run=data/runs/compare_$variant
  $ENGINE train pretrain --config main/training/configs/compare_$variant.toml
  $ENGINE train probe --checkpoint "$run" --manifest data/manifests/scores_probe.jsonl \
    --cache-dir data/cache/audio16k --out "$run/probe" --tasks key,tags
  $ENGINE train export "$run" --probe "$run/probe" --out data/models/compare_$variant --name "compare-$variant"
  $ENGINE eval --model data/models/compare_$variant --scores data/scores/manifest.jsonl \
    --debian data/debian/manifest.jsonl --out data/eval/compare_$variant --no-essentia
done
