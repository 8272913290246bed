"""Training and evaluation corpora built offline: rendered scores with exact labels, and game music from Debian."""
