"""Held-out evaluation: baselines (chroma key finder, log-mel statistics), metrics, corruptions, reports."""
