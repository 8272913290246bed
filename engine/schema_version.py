"""The library database's schema version, in a module of its own: ``engine.database_file`` reads it without importing
the SQLAlchemy tables of ``engine.schema``."""

SCHEMA_VERSION = 9  # 2: analyses.top_tag_index and the per-model sort indexes; 3: track_landmarks; 4: analyses' tempo
# (bpm, bpm_confidence, tempo_version); 5: crates and crate_tracks; 6: excluded_files; 7: analyses.key_version;
# 8: excluded_files' size and quick_hash; 9: tracks.search_text; see migrations.py
