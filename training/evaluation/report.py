"""Write the evaluation as JSON (every figure) and Markdown (the tables a model card quotes)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _percent(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def markdown_report(results: dict[str, Any]) -> str:
    lines = [f"# Evaluation: {results.get('model', 'baselines only')}", ""]
    renders = results.get("renders")
    if renders:
        lines += [f"## Key on held-out renders ({renders['clips']} clips)", "",
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
                  "| embedding | same-soundtrack R-precision % | mAP % | 30 s excerpt @96 kbps top-1 % | version pairs top-1 % |",
                  "|---|---|---|---|---|"]
        for name, entry in tracks["similarity"].items():
            lines.append(f"| {name} | {_percent(entry['same_soundtrack']['r_precision'])} | {_percent(entry['same_soundtrack']['map'])} "
                         f"| {_percent(entry['excerpt_96kbps']['top1'])} | {_percent(entry['version_pairs']['top1'])} |")
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
                lines += ["", "Same-soundtrack retrieval on the vectors `engine index` stored (its 6 windows, inside the "
                          f"first and last 5 % of each track): R-precision {_percent(stored['r_precision'])} %, "
                          f"mAP {_percent(stored['map'])} %."]
        lines += ["", "## Transposition consistency on held-out game music", "", "| method | consistent % | pairs |", "|---|---|---|"]
        for name, entry in tracks["transposition_consistency"].items():
            lines.append(f"| {name} | {_percent(entry['rate'])} | {entry['pairs']} |")
    lines += ["", "Command: `" + results.get("command", "") + "`", ""]
    return "\n".join(lines)


def write_report(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = out / "evaluation.json", out / "evaluation.md"
    json_path.write_text(json.dumps(results, indent=2, default=float))
    markdown_path.write_text(markdown_report(results))
    return json_path, markdown_path
