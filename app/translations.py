"""The app's translations: Qt ``.qm`` files compiled from ``.ts`` sources that ``pyside6-lupdate`` extracts from the
``self.tr(...)`` / ``QCoreApplication.translate(...)`` calls in app/. None ship yet; a translator adds
``app/translations/semisup_music_<locale>.qm`` (e.g. ``semisup_music_de.qm``) and the app loads it for the user's
locale at start-up, falling back to the English source text for anything untranslated.

    pyside6-lupdate app/*.py -ts app/translations/semisup_music_de.ts
    pyside6-lrelease app/translations/semisup_music_de.ts
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
FILE_PREFIX = "semisup_music"


def install_translations(application: QCoreApplication, folder: Path = TRANSLATIONS_DIR,
                         locale: QLocale | None = None) -> QTranslator | None:
    """Install the translation for ``locale`` (default: the system's) from ``folder``; the installed translator,
    or None when there is none for that locale (the English source text is shown)."""
    translator = QTranslator(application)
    if not translator.load(locale or QLocale.system(), FILE_PREFIX, "_", str(folder)):
        return None
    application.installTranslator(translator)
    return translator
