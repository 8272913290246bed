"""Issue 17: the app's words go through Qt's translation. ``pyside6-lupdate`` finds them in app/ (so a translator's
.ts file has them), and a German translation compiled from what it found changes the main window's menus and
panels, the map, the player, the similar list, the library's headers and the training messages; without it the
same widgets read in English."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from PySide6.QtCore import QLocale, Qt

REPO_ROOT = Path(__file__).resolve().parents[2]
# (context, English source text): German. Each must be found by pyside6-lupdate in app/.
GERMAN = {
    ("MainWindow", "&Library"): "&Bibliothek",
    ("MainWindow", "Add folder…"): "Ordner hinzufügen…",
    ("MainWindow", "Similar tracks"): "Ähnliche Titel",
    ("MapView", "Recompute"): "Neu berechnen",
    ("MapView", "Top tag"): "Häufigstes Tag",
    ("PlayerBar", "Nothing playing — double-click a track, or select it and press Space"):
        "Nichts läuft — Titel doppelklicken oder auswählen und Leertaste drücken",
    ("SimilarityPanel", "Harmonic only"): "Nur harmonisch",
    ("LibraryTableModel", "Title"): "Titel",
    ("TrainingView", "Start training"): "Training starten",
    ("TrainingMessages", "Nothing was trained"): "Nichts wurde trainiert",
    ("TrainingMessages", "“Min. tracks per value”"): "„Min. Titel pro Wert“",
}
ENGINE_REASON = "Too little to learn from: lower --min-tracks"  # the engine's words stay; its option is named


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def compiled_german_translation(folder: Path) -> Path:
    """Extract app/'s strings with pyside6-lupdate, translate the GERMAN ones, compile with pyside6-lrelease; the
    folder that holds ``semisup_music_de.qm``. Fails when lupdate does not find one of them."""
    from app.translations import FILE_PREFIX

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{FILE_PREFIX}_de.ts"
    subprocess.run([tool("pyside6-lupdate"), *sorted(str(path) for path in (REPO_ROOT / "app").glob("*.py")),
                    "-locations", "none", "-ts", str(source)], check=True, capture_output=True)
    tree = ElementTree.parse(source)
    tree.getroot().set("language", "de_DE")
    found = set()
    for context in tree.getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            key = (name, message.findtext("source"))
            if key in GERMAN:
                translation = message.find("translation")
                translation.text = GERMAN[key]
                translation.attrib.pop("type", None)
                found.add(key)
    assert found == set(GERMAN), f"pyside6-lupdate did not find {sorted(set(GERMAN) - found)}"
    tree.write(source, encoding="utf-8", xml_declaration=True)
    subprocess.run([tool("pyside6-lrelease"), str(source)], check=True, capture_output=True)
    return folder


def shown_words(window) -> dict[str, object]:
    """What the window shows where GERMAN applies, built now (widgets take their words when they are made)."""
    from app.training_messages import failure_message
    from engine.training_events import PLANNING

    map_view = window.map_view
    return {
        "menus": [action.text() for action in window.menuBar().actions()],
        "add": window.add_action.text(),
        "similar dock": window.docks["similar"].windowTitle(),
        "similar dock name": window.docks["similar"].objectName(),
        "recompute": map_view.refresh_button.text(),
        "colour choices": [map_view.colour_box.itemText(position) for position in range(map_view.colour_box.count())],
        "player": window.player.now_playing.text(),
        "harmonic": window.similarity_panel.harmonic_box.text(),
        "title header": window.library_view.model.headerData(0, Qt.Orientation.Horizontal),
        "start training": window.training_view.start_button.text(),
        "training failure": failure_message(PLANNING, ENGINE_REASON, 1),
    }


def test_a_german_translation_changes_menus_map_player_similar_list_and_training_messages(
        make_window, open_library, qapp, tmp_path):
    from app.translations import install_translations

    folder = compiled_german_translation(tmp_path / "translations")
    translator = install_translations(qapp, folder, QLocale("de_DE"))
    assert translator is not None
    try:
        window = make_window(open_library(tmp_path / "german.db"))
        german = shown_words(window)
        window.map_view.set_colour_mode("Top tag")  # as the saved setting restores it, by its English name
        chosen_colouring = window.map_view.colour_box.currentText(), window.map_view.colour_mode()
    finally:
        qapp.removeTranslator(translator)
    english = shown_words(make_window(open_library(tmp_path / "english.db")))

    assert "&Bibliothek" in german["menus"] and "&Library" in english["menus"]
    assert (german["add"], english["add"]) == ("Ordner hinzufügen…", "Add folder…")
    assert (german["similar dock"], english["similar dock"]) == ("Ähnliche Titel", "Similar tracks")
    assert german["similar dock name"] == english["similar dock name"]  # the saved layout finds its docks in any language
    assert (german["recompute"], english["recompute"]) == ("Neu berechnen", "Recompute")
    assert (german["colour choices"], english["colour choices"]) == (["Key (Camelot)", "Häufigstes Tag"],
                                                                     ["Key (Camelot)", "Top tag"])
    assert chosen_colouring == ("Häufigstes Tag", "Top tag")
    assert german["player"].startswith("Nichts läuft") and english["player"].startswith("Nothing playing")
    assert (german["harmonic"], english["harmonic"]) == ("Nur harmonisch", "Harmonic only")
    assert (german["title header"], english["title header"]) == ("Titel", "Title")
    assert (german["start training"], english["start training"]) == ("Training starten", "Start training")
    assert german["training failure"] == "Nichts wurde trainiert: Too little to learn from: lower „Min. Titel pro Wert“."
    assert english["training failure"] == "Nothing was trained: Too little to learn from: lower “Min. tracks per value”."

