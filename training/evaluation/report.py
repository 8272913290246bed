"""Write the evaluation as JSON (every figure) and Markdown (the tables a model card quotes)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _percent(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _with_interval(entry: dict[str, Any], name: str) -> str:
    interval = entry.get(f"{name}_ci95")
    suffix = f" [{_percent(interval[0])}, {_percent(interval[1])}]" if interval else ""
    return _percent(entry[name]) + suffix


def _difference(entry: dict[str, Any]) -> str:
    parts = []
    for name, label in (("r_precision", "R-precision"), ("map", "mAP")):
        gap = entry[name]
        parts.append(f"{label} {100 * gap['mean']:+.1f} points [{100 * gap['ci95'][0]:+.1f}, {100 * gap['ci95'][1]:+.1f}]")
    return "; ".join(parts)


KEY_WINDOWS_NOTE = ("The model's key is read from the windows `engine index` reads for a file that long: its 6 analysis "
                    "windows and the further windows of `engine.key_audio`, each also resampled a semitone down and up when "
                    "those reads are a close call (`engine.key_semitone_copies`), so it is the key a user gets.")


def markdown_report(results: dict[str, Any]) -> str:
    lines = [f"# Evaluation: {results.get('model', 'baselines only')}", ""]
    renders = results.get("renders")
    if renders:
        lines += [f"## Key on held-out renders ({renders['clips']} clips)", "", KEY_WINDOWS_NOTE, "",
                  "| method | condition | accuracy % | MIREX % | held-out sound font acc % | seen sound fonts acc % |",
                  "|---|---|---|---|---|---|"]
        for method, conditions in renders["key"].items():
            for condition, entry in conditions.items():
                lines.append(f"| {method} | {condition} | {_percent(entry['all']['accuracy'])} | {_percent(entry['all']['mirex'])} "
                             f"| {_percent(entry['held_out_soundfont']['accuracy'])} | {_percent(entry['seen_soundfonts']['accuracy'])} |")
        if renders.get("tags"):
            lines += ["", "## Tags on held-out renders", "", "| tag | AP % | positives | prevalence % |", "|---|---|---|---|"]
            for tag, entry in renders["tags"].items():
                lines.append(f"| {tag} | {_percent(entry['ap'])} | {entry['positives']} | {_percent(entry['prevalence'])} |")
    tracks = results.get("soundtracks")
    if tracks:
        lines += ["", f"## Held-out soundtracks ({tracks['tracks']} tracks, {tracks['hours']} h: {', '.join(tracks['soundtracks'])})", "",
                  "| embedding | same-soundtrack R-precision % [95 % CI] | mAP % [95 % CI] | 30 s excerpt @96 kbps top-1 % | version pairs top-1 % |",
                  "|---|---|---|---|---|"]
        for name, entry in tracks["similarity"].items():
            retrieval = entry["same_soundtrack"]
            lines.append(f"| {name} | {_with_interval(retrieval, 'r_precision')} | {_with_interval(retrieval, 'map')} "
                         f"| {_percent(entry['excerpt_96kbps']['top1'])} | {_percent(entry['version_pairs']['top1'])} |")
        for name, entry in tracks["similarity"].items():
            difference = entry["same_soundtrack"].get("minus_logmel_stats")
            if difference:
                lines += ["", f"{name} minus log-mel statistics (16 windows edge to edge vs the whole track), paired "
                          f"bootstrap over queries: {_difference(difference)}."]
        library = tracks["similarity"].get("model", {}).get("library_excerpt_96kbps")
        if library:
            lines += ["", "The model's excerpt column compares embeddings only. Through the product (`engine index` of the "
                      f"{library['indexed']} tracks, then `engine similar` on each excerpt written as a 96 kbps MP3), "
                      f"top-1 is {_percent(library['top1'])} %, {_percent(library['same_recording_top1'])} % of queries "
                      "as a same-recording (landmark) match. Another library track was called the same recording for "
                      f"{_percent(library['other_track_called_same_recording'])} % of them, and some track for "
                      f"{_percent(library['stranger_called_same_recording'])} % of {library['strangers']} excerpts of "
                      "tracks outside the library."]
            stored = library.get("same_soundtrack")
            if stored:
                lines += ["", "Same-soundtrack retrieval on the vectors `engine index` stored (the windows indexing "
                          f"reads): R-precision {_with_interval(stored, 'r_precision')} %, mAP {_with_interval(stored, 'map')} %."]
                if stored.get("minus_logmel_stats"):
                    lines += ["", f"Stored vectors minus log-mel statistics on the same tracks: {_difference(stored['minus_logmel_stats'])}."]
        lines += ["", "## Transposition consistency on held-out game music", "", "| method | consistent % | pairs |", "|---|---|---|"]
        for name, entry in tracks["transposition_consistency"].items():
            lines.append(f"| {name} | {_percent(entry['rate'])} | {entry['pairs']} |")
        firing = tracks.get("tags_on_real_music")
        if firing:
            lines += ["", f"## Tags on held-out real music ({firing['tracks']} tracks)", "",
                      "| tag | fires at 0.5 % | median probability | threshold | fires at threshold % | shown |", "|---|---|---|---|---|---|"]
            for tag, entry in firing["tags"].items():
                lines.append(f"| {tag} | {_percent(entry['fires_at_0.5'])} | {entry['median_probability']:.2f} "
                             f"| {entry.get('threshold', '')} | {_percent(entry['fires_at_threshold']) if 'fires_at_threshold' in entry else ''} "
                             f"| {entry.get('shown', '')} |")
    if results.get("tonal_test"):
        from training.evaluation.key_breakdown import tonal_test_markdown

        lines += tonal_test_markdown(results["tonal_test"])
    if results.get("tempo"):
        from training.evaluation.tempo_eval import tempo_markdown

        lines += ["", *tempo_markdown(results["tempo"])]
    lines += ["", "Command: `" + results.get("command", "") + "`", ""]
    lines += _floors_section(results)
    return "\n".join(lines)


def _floors_section(results: dict[str, Any]) -> list[str]:
    from training.evaluation.floors import Check, checks_markdown

    floors = results.get("floors")
    if not floors:
        return []
    return checks_markdown([Check(**check) for check in floors["checks"]], floors["incumbent"])


def write_report(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = out / "evaluation.json", out / "evaluation.md"
    json_path.write_text(json.dumps(results, indent=2, default=float))
    markdown_path.write_text(markdown_report(results))
    return json_path, markdown_path
