"""What the map draws, gathered in a worker: projected points plus each track's label, key and top tag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app import track_format
from app.projection import pca_2d
from app.tag_display import active_calibration
from engine.tag_calibration import informative_tags

ROWS_PER_QUERY = 5000


@dataclass
class MapData:
    """Parallel arrays over the analysed tracks: ``track_ids`` (N,), ``points`` (N, 2) and labels."""

    track_ids: np.ndarray
    points: np.ndarray
    labels: list[str]
    camelot: list[str | None]
    top_tags: list[str | None]
    titles: list[str]  # what a list made from a dot is called ("Sounds like <title>")

    def __len__(self) -> int:
        return int(self.track_ids.size)

    def position_of(self, track_id: int) -> int | None:
        hits = np.flatnonzero(self.track_ids == track_id)
        return int(hits[0]) if hits.size else None


def load_map_data(library: Any) -> MapData:
    """Read every embedding of the active model and every track row, then project. Runs off the GUI thread.

    The top tag is the most probable informative one (the model's tag calibration), so colours mean something."""
    track_ids, vectors = library.embeddings()
    track_ids = np.asarray(track_ids, dtype=np.int64)
    rows_by_id: dict[int, Any] = {}
    total = library.track_count()
    for offset in range(0, total, ROWS_PER_QUERY):
        for row in library.tracks(offset, ROWS_PER_QUERY, order_by="path"):
            rows_by_id[row.id] = row
    calibrations = active_calibration(library)
    labels, camelot, top_tags, titles = [], [], [], []
    for track_id in track_ids.tolist():
        row = rows_by_id.get(track_id)
        if row is None:
            labels.append(f"track {track_id}")
            titles.append(f"track {track_id}")
            camelot.append(None)
            top_tags.append(None)
            continue
        key = track_format.track_key_text(row)
        labels.append(track_format.artist_title(row.artist, row.title, row.path) + (f"  ·  {key}" if key else ""))
        titles.append(track_format.title_or_file_name(row.title, row.path))
        camelot.append(row.key.camelot if row.key is not None else None)
        informative = informative_tags(row.top_tags, calibrations)
        top_tags.append(informative[0][0] if informative else None)
    points = pca_2d(np.asarray(vectors, dtype=np.float32)) if track_ids.size else np.zeros((0, 2), np.float32)
    return MapData(track_ids, points, labels, camelot, top_tags, titles)
