"""Search: a query is resolved once into one value, and every step of a search works from that value.

A query is a track id, the path of an indexed file, or a file from outside the library. ``Search.resolve`` turns it
into a ``ResolvedQuery``: a track id stays a track id (the vector index holds its embedding, the store its key and
tempo); a file is looked up in the store once (indexed, and unchanged since its scan?), and what the store cannot
give (its analysis, its landmark hashes) comes from one open of the file that decodes its windows and, when it is
short, all of it (``landmark_audio.read_query_audio``). Similar tracks (same recordings first, then the embedding's
neighbours that mix with the query) and radio walks take that value, so a caller that searches again (the app's
harmonic and tempo filters) or shows the analysis (the app's details of a dropped file) never decodes the file again.

``Library`` owns one ``Search`` and hands it its store, its active model and its two indexes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.keys import keys_mix_harmonically
from engine.library_errors import Query, QueryError
from engine.library_reads import SQLITE_MAX_INTEGER
from engine.playlist import radio_walk
from engine.results import FileAnalysis, KeyInfo, SimilarTrack, TrackRow
from engine.tempo_range import tempos_match
from engine.track_analysis import DEFAULT_MAX_WINDOWS, TrackAnalysis, key_estimate

if TYPE_CHECKING:  # imported where used: resolving a track id needs no PyAV, torch, FAISS, numpy, tempo estimator
    import numpy as np

    from engine.audio import AudioWindows
    from engine.landmark_index import LandmarkIndex, RecordingMatch
    from engine.landmarks import Landmarks
    from engine.model_folder import LoadedModel
    from engine.model_spec import ModelSpec
    from engine.store import Store
    from engine.tempo import TempoEstimate
    from engine.vector_index import VectorIndex

HARMONIC_OVERSAMPLE = 8  # neighbours fetched per wanted result before key filtering


@dataclass(frozen=True)
class IndexedFile:
    """What the store knows of a file: its track (None: not in the library), and whether the track's row still
    matches the file on disk (size and modification time), so that what is stored of it describes it."""

    track_id: int | None
    current: bool


@dataclass(frozen=True)
class ResolvedQuery:
    """A query, resolved once. A track id: ``track_id`` alone (``path`` is None). A file: its absolute ``path``,
    its library track when it is indexed (``track_id``, ``current`` when unchanged since its scan), its
    ``analysis`` and ``landmarks`` (stored when current, else from ``audio``, the one decode the file needed).
    ``key_read`` is False when the file was analysed without its key (``Search.resolve(..., with_key=False)``): its
    analysis' key is then None whatever the file's key, and ``spans`` keeps the landmark spans a long file's decode
    sought, which its key reads too when it is asked for."""

    query: Query  # as given, for messages
    track_id: int | None
    path: str | None = None
    analysis: FileAnalysis | None = None
    landmarks: Landmarks | None = None
    audio: AudioWindows | None = None
    current: bool = False
    key_read: bool = True
    spans: dict[float, np.ndarray] | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None


class Search:
    """Similar tracks and radio walks over one library, from queries resolved once."""

    def __init__(
        self,
        store: Store,
        model_spec: Callable[[], ModelSpec],
        model: Callable[[], LoadedModel],
        vector_index: Callable[[ModelSpec], VectorIndex],
        landmark_index: Callable[[], LandmarkIndex],
        rows_by_ids: Callable[[Sequence[int]], dict[int, TrackRow]],
    ) -> None:
        """The library's store, and what it makes on first use: the active model's identity (no torch) and its
        network, the model's vector index, the landmark index, and track rows with the model's key and tags."""
        self._store = store
        self._model_spec = model_spec
        self._model = model
        self._vector_index = vector_index
        self._landmark_index = landmark_index
        self._rows_by_ids = rows_by_ids

    # -- resolving --------------------------------------------------------------------------------------
    def resolve(self, query: Query | ResolvedQuery, with_key: bool = True) -> ResolvedQuery:
        """A track id as is; a file with what the store has of it and, for the rest, one decode. A file analysed
        now has its key read only ``with_key`` (the key's further windows and their semitone copies cost more than
        the embedding: a plain ``similar FILE`` does not need it); a resolved query without its key gets it here
        when ``with_key``. Raises ``QueryError`` (no such file, not a regular file, undecodable) and
        ``ModelUnavailableError``."""
        if isinstance(query, ResolvedQuery):
            return self._with_key(query) if with_key and not query.key_read else query
        track_id = as_track_id(query)
        if track_id is not None:
            return ResolvedQuery(query, track_id)
        path = require_regular_file(query)
        model = self._model_spec()
        indexed = indexed_file(self._store, path)
        analysis = landmarks = None
        key_read = True
        if indexed.current:
            stored = self._store.analysis_of(indexed.track_id, model.model_id)
            analysis = None if stored is None else file_analysis(path, stored, model)
            landmarks = self._store.landmarks_of(indexed.track_id)
        audio = spans = None
        if analysis is None or landmarks is None:
            from engine.landmark_audio import landmark_spans, track_landmarks

            audio = self._decode(query, path, model)
            spans = landmark_spans(path, audio) if audio.whole is None and audio.decoded is None else None
            if landmarks is None:
                landmarks = track_landmarks(path, audio, spans)
            if analysis is None:
                analysis = self._analyse(audio, path, model, spans, with_key)
                key_read = with_key
        return ResolvedQuery(query, indexed.track_id, path, analysis, landmarks, audio, indexed.current, key_read,
                             spans if not key_read else None)

    def _with_key(self, resolved: ResolvedQuery) -> ResolvedQuery:
        """``resolved`` (a file analysed without its key) with its key: only the key's reads, from the decode and
        spans it kept; its embedding and tags stay."""
        from engine.analyzer import Analyzer  # torch: only when a file is analysed
        from engine.key_audio import file_key_windows

        analyzer = Analyzer(self._model())
        probabilities = None
        if analyzer.reads_keys:  # a model without a key head gives no key, as a keyed resolve gives none
            key_windows = lambda: file_key_windows(resolved.path, resolved.audio, resolved.spans)  # noqa: E731
            probabilities = analyzer.key_probabilities(resolved.audio.windows, key_windows)
        analysis = replace(resolved.analysis, key=analysis_key(probabilities),
                           silent=probabilities is None and analyzer.reads_keys)
        return replace(resolved, analysis=analysis, key_read=True, spans=None)

    @staticmethod
    def _decode(query: Query, path: str, model: ModelSpec) -> AudioWindows:
        from engine.audio import AudioDecodeError
        from engine.landmark_audio import read_query_audio

        try:
            return read_query_audio(path, model.config.sample_rate, model.config.window_samples, DEFAULT_MAX_WINDOWS)
        except AudioDecodeError as error:
            raise QueryError(query, error.reason) from None

    def _analyse(self, audio: AudioWindows, path: str, model: ModelSpec, spans: dict | None,
                 with_key: bool) -> FileAnalysis:
        """``spans``: the landmark spans the query decoded, which its key reads too (``engine.key_audio``)."""
        from engine.analyzer import Analyzer  # torch: only when a file is analysed
        from engine.key_audio import file_key_windows

        key_windows = (lambda: file_key_windows(path, audio, spans)) if with_key else None  # decoded if read
        analysis = Analyzer(self._model()).analyze_windows(audio.windows, key_windows, with_key)
        return file_analysis(path, analysis, model, with_key)

    def tempo(self, resolved: ResolvedQuery) -> TempoEstimate:
        """A file query's tempo: the stored estimate when it is indexed and unchanged, else estimated now, from
        its decode when it has one at the tempo's sample rate. Raises ``QueryError`` when there is none."""
        return self._tempo(resolved.query, resolved.path, resolved.track_id if resolved.current else None,
                           resolved.audio)

    def _mixing_bpm(self, resolved: ResolvedQuery) -> float | None:
        """A file query's tempo to match on, as a library track's (``TrackRow.mixing_bpm``): the estimate, else
        the file's own BPM tag; None when it has neither."""
        try:
            return self.tempo(resolved).bpm
        except QueryError:
            from engine.metadata import read_metadata

            return read_metadata(resolved.path).bpm

    def tempo_of_file(self, path: str | os.PathLike) -> TempoEstimate:
        """Any file's tempo as ``tempo`` gives it, without its analysis or landmarks (``engine bpm``)."""
        absolute = require_regular_file(path, missing="file not found")  # a FIFO would block the decoder forever
        indexed = indexed_file(self._store, absolute)
        return self._tempo(path, absolute, indexed.track_id if indexed.current else None, None)

    def _tempo(self, query: Query, path: str, current_track_id: int | None, audio: AudioWindows | None) -> TempoEstimate:
        from engine.tempo import TEMPO_VERSION, TempoError, TempoEstimate

        if current_track_id is not None:  # the stored estimate, unless an older estimator made it
            row = self._rows_by_ids([current_track_id]).get(current_track_id)
            if row is not None and row.estimated_bpm is not None and row.tempo_version == TEMPO_VERSION:
                return TempoEstimate(row.estimated_bpm, row.bpm_confidence or 0.0)
        from engine.audio import AudioDecodeError
        from engine.tempo_audio import TEMPO_SAMPLE_RATE, decoded_tempo, file_tempo

        try:
            if audio is not None and audio.sample_rate == TEMPO_SAMPLE_RATE:
                return decoded_tempo(path, audio)
            return file_tempo(path)
        except (AudioDecodeError, TempoError) as error:
            raise QueryError(query, error.reason) from None

    # -- similar tracks ---------------------------------------------------------------------------------
    def similar(self, query: Query | ResolvedQuery, k: int = 10, harmonic: bool = False,
                bpm_range: float | None = None) -> list[SimilarTrack]:
        """The ``k`` most similar tracks, best first, never the query's own track: for a file, the same
        recordings first (score 1.0), then the embedding's neighbours; see ``Library.similar``."""
        resolved = self.resolve(query, with_key=harmonic)
        recordings = self._same_recordings(resolved)
        neighbours, mixes = self._embedding_neighbours(resolved, k + len(recordings), harmonic, bpm_range)
        if not recordings:
            return neighbours[:k]
        rows = self._rows_by_ids([match.track_id for match in recordings])
        first = [SimilarTrack(rows[m.track_id], 1.0, True, m.aligned_hashes) for m in recordings if m.track_id in rows]
        first = [result for result in first if mixes(result.track)]
        matched = {result.track.id for result in first}
        return (first + [result for result in neighbours if result.track.id not in matched])[:k]

    def _same_recordings(self, resolved: ResolvedQuery) -> list[RecordingMatch]:
        """The library tracks a file's landmarks say are the same recording. A track id is answered by the vector
        index alone (a lookup of its hashes would take a 100k-track query past its 2 ms; BENCHMARKS.md,
        "Same-recording matching")."""
        if not resolved.is_file:
            return []
        return self._landmark_index().same_recordings(resolved.landmarks, exclude_track_id=resolved.track_id)

    def _embedding_neighbours(
        self, resolved: ResolvedQuery, k: int, harmonic: bool, bpm_range: float | None,
    ) -> tuple[list[SimilarTrack], Callable[[TrackRow], bool]]:
        """The embedding's ``k`` nearest tracks to the query (never its own track) that mix with it (key and
        tempo filters), and that test of a track."""
        index = self._vector_index(self._model_spec())
        own_track_id = resolved.track_id
        if resolved.is_file:
            embedding = resolved.analysis.embedding
        else:
            embedding = self._searchable_vector(resolved.query, own_track_id, index)
        # A track id's own row comes with the first page of hits: one database round trip, not two (they are most
        # of a query's time at 100k tracks).
        own_row_pending = not resolved.is_file
        filtered = harmonic or bpm_range is not None
        mixes: Callable[[TrackRow], bool] = lambda _row: True  # noqa: E731 (replaced once the query is known)
        if resolved.is_file:
            query_bpm = self._mixing_bpm(resolved) if bpm_range is not None else None
            mixes = mix_test(resolved.query, harmonic, resolved.analysis.key, bpm_range, query_bpm)
        wanted = k * HARMONIC_OVERSAMPLE if filtered else k + 1
        while True:
            # A file outside the library has paid ~150 ms to decode and embed: it gets an exact scan.
            scores, track_ids = index.search(embedding[None, :], wanted, exact=own_track_id is None)
            hits = [(int(t), float(s)) for t, s in zip(track_ids[0], scores[0]) if t >= 0 and t != own_track_id]
            rows = self._rows_by_ids([track_id for track_id, _ in hits] + ([own_track_id] if own_row_pending else []))
            if own_row_pending:
                if own_track_id not in rows:
                    raise QueryError(resolved.query, "no such track")
                own = rows[own_track_id]
                mixes = mix_test(resolved.query, harmonic, own.key, bpm_range, own.mixing_bpm)
                own_row_pending = False
            results = [SimilarTrack(rows[t], score) for t, score in hits if t in rows]
            results = [result for result in results if mixes(result.track)]
            exhausted = len(track_ids[0]) < wanted or index.size <= wanted
            if len(results) >= k or exhausted or not filtered:
                return results[:k], mixes
            wanted *= HARMONIC_OVERSAMPLE

    def _searchable_vector(self, query: Query, track_id: int, index: VectorIndex) -> np.ndarray:
        """A track's embedding by the active model; ``QueryError`` when there is no such track or the model has
        not analysed it."""
        vector = index.vector_of(track_id)
        if vector is None:
            missing = track_id not in self._rows_by_ids([track_id])
            raise QueryError(query, "no such track" if missing else "track not analysed by the active model")
        return vector

    # -- radio ------------------------------------------------------------------------------------------
    def playlist(self, seed: Query | ResolvedQuery, n: int, bpm_range: float | None = None) -> list[TrackRow]:
        """A radio walk of up to ``n`` tracks from an indexed seed; see ``Library.playlist``."""
        index = self._vector_index(self._model_spec())
        own_track_id = self._seed_track_id(seed, index)
        artists: dict[int, str | None] = {}
        seed_query = seed.query if isinstance(seed, ResolvedQuery) else seed
        seed_bpm = self._track(own_track_id).mixing_bpm if bpm_range is not None else None
        if bpm_range is not None and seed_bpm is None:
            raise QueryError(seed_query, "tempo unknown (no estimate and no BPM tag)")

        def in_range(track_ids: list[int]) -> list[int]:
            rows = self._rows_by_ids(track_ids)
            return [t for t in track_ids if t in rows and rows[t].mixing_bpm is not None
                    and tempos_match(seed_bpm, rows[t].mixing_bpm, bpm_range)]

        def neighbours(track_id: int, count: int) -> list[int]:
            """``count`` nearest tracks (fewer only when the library has no more), in the tempo range if any."""
            vector = index.vector_of(track_id)
            if vector is None:
                return []
            wanted = count
            while True:
                _, found = index.search(vector[None, :], wanted + 1)
                found_ids = [int(t) for t in found[0] if t >= 0 and t != track_id]
                kept = found_ids if bpm_range is None else in_range(found_ids)
                if len(kept) >= count or len(found_ids) < wanted or index.size <= wanted:
                    return kept[:count]
                wanted *= HARMONIC_OVERSAMPLE

        def artist_of(track_id: int) -> str | None:
            if track_id not in artists:
                row = self._track(track_id)
                artists[track_id] = row.artist if row else None
            return artists[track_id]

        order = radio_walk(own_track_id, n, neighbours, artist_of)
        rows = self._rows_by_ids(order)
        return [rows[track_id] for track_id in order if track_id in rows]

    def _seed_track_id(self, seed: Query | ResolvedQuery, index: VectorIndex) -> int:
        """The library track a radio walk starts from: a track id the model has analysed, or an indexed file's
        track (looked up by its path: a file needs no decode to be found in the library)."""
        resolved = seed if isinstance(seed, ResolvedQuery) else None
        if resolved is None:
            track_id = as_track_id(seed)
            if track_id is not None:
                resolved = ResolvedQuery(seed, track_id)
            else:
                path = require_regular_file(seed)
                resolved = ResolvedQuery(seed, indexed_file(self._store, path).track_id, path)
        if resolved.track_id is None:
            raise QueryError(resolved.query, "the seed must be a track in the library (index it first)")
        if not resolved.is_file:
            self._searchable_vector(resolved.query, resolved.track_id, index)
        return resolved.track_id

    def _track(self, track_id: int) -> TrackRow | None:
        return self._rows_by_ids([track_id]).get(track_id)


def mix_test(query: Query, harmonic: bool, query_key: KeyInfo | None, bpm_range: float | None,
             query_bpm: float | None) -> Callable[[TrackRow], bool]:
    """Whether a track mixes with the query: its key on the Camelot rule (``harmonic``) and its tempo within
    ``bpm_range`` % (half / double included). Raises ``QueryError`` when the query's key or tempo is unknown."""
    if harmonic and query_key is None:
        raise QueryError(query, "key unknown (no key tag, and the model has no key head or the audio is silent)")
    if bpm_range is not None and query_bpm is None:
        raise QueryError(query, "tempo unknown (no estimate and no BPM tag)")

    def mixes(row: TrackRow) -> bool:
        if harmonic and not (row.key and keys_mix_harmonically(query_key.to_key(), row.key.to_key())):
            return False
        return bpm_range is None or (row.mixing_bpm is not None and tempos_match(query_bpm, row.mixing_bpm, bpm_range))

    return mixes


def indexed_file(store: Store, path: str) -> IndexedFile:
    """The track at the absolute ``path`` and whether its row still matches the file (one stat)."""
    track_id = store.track_id_for_path(path)
    if track_id is None:
        return IndexedFile(None, False)
    row = store.track_rows_by_ids(None, [track_id]).get(track_id)
    try:
        info = os.stat(path)
    except OSError:
        return IndexedFile(track_id, False)
    return IndexedFile(track_id, row is not None and row.size == info.st_size and row.mtime_ns == info.st_mtime_ns)


def file_analysis(path: str, analysis: TrackAnalysis, model: ModelSpec, key_read: bool = True) -> FileAnalysis:
    """A file's analysis as the library reports it: the key estimate and every tag by the model's tag names.
    ``key_read``: the analysis read the key (False: a query analysed without it, whose missing key says nothing)."""
    tags = {}
    if analysis.tag_probs is not None:
        tags = {name: float(p) for name, p in zip(model.config.tag_names, analysis.tag_probs)}
    silent = key_read and analysis.key_probs is None and bool(model.config.key_head)  # no key read from silence
    return FileAnalysis(path, analysis.embedding, analysis_key(analysis.key_probs), tags, analysis.window_count,
                        model.model_id, silent)


def analysis_key(key_probs: np.ndarray | None) -> KeyInfo | None:
    """The key the analysis' probabilities give (None without them)."""
    estimate = key_estimate(key_probs)
    return KeyInfo.from_key(estimate.key, estimate.confidence, "analysis") if estimate else None


def require_regular_file(query: Query, missing: str = "no such file or track id") -> str:
    """The absolute path of a query file; ``QueryError`` for a missing one (reason ``missing``) and for a FIFO,
    device or folder, which decoding would block on forever or misread."""
    path = os.path.abspath(os.fspath(query))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise QueryError(query, missing) from None
    except OSError as error:
        raise QueryError(query, f"cannot stat ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise QueryError(query, "not a regular file")
    return path


MAX_ID_DIGITS = len(str(SQLITE_MAX_INTEGER))  # 19


def as_track_id(query: Query) -> int | None:
    """An int, or a string of ASCII digits that is not an existing file and fits SQLite's integers, is a track id
    (other strings are files: "²" is a digit to ``str.isdigit`` but no number, and an id past 2⁶³ - 1 none SQLite
    can hold)."""
    if isinstance(query, bool):
        return None
    if isinstance(query, int):
        return query
    if (isinstance(query, str) and query.isascii() and query.isdigit() and len(query) <= MAX_ID_DIGITS
            and not os.path.exists(query)):  # past 19 digits no id fits (and int() refuses 4,301 digits and more)
        track_id = int(query)
        return track_id if track_id <= SQLITE_MAX_INTEGER else None
    return None
