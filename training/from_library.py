"""``engine train from-library``: a custom model from the library's own tags (SemiSupCon on the user's vocabulary).

    tags in the store ─▶ plan (from_library_plan: LabelPlan via library_labels: normalise, drop rare, hold out
         albums; the settings kept with it; manifests)
      ─▶ run (from_library_run: finetune from the base model: tagged training tracks are the labeled part, the
         rest of the library the unlabeled part ─▶ model folder ─▶ registered, the library re-embedded into its
         own index)
      ─▶ evaluate (from_library_evaluation: held-out albums scored before vs after)
      ─▶ report (from_library_report: report.json in the run folder, the readable text)

Folders (``engine.run_folder.CustomModelFolders``): ``<database folder>/custom-models/<name>/model`` (the model
folder) and ``.../run`` (plan, manifests, checkpoints, audio cache, report); with the default database that is the
per-user data folder. The new model
is registered but not made active: ``engine similar --model NAME`` (or the app's picker) chooses it.

Resuming: the plan is written before training and read back by the next run with the same name, training
goes on from its latest checkpoint, and re-embedding skips tracks the new model has already analysed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.library import Library
from engine.results import IndexProgress, IndexReport
from engine.training_events import EventWriter
from training import from_library_run
from training.from_library_evaluation import evaluate
from training.from_library_plan import (  # noqa: F401 (re-exported: the command's names)
    DEFAULT_CONFIG, FromLibraryError, FromLibrarySettings, PlannedRun, check_name, default_name, plan_run,
)
from training.from_library_report import plan_text, result_text, write_report  # noqa: F401 (re-exported)

Say = Callable[[str], None]


class LibraryTraining:
    """One ``from-library`` run over an open library: the plan is made on open, then ``train`` → ``embed`` →
    ``evaluate`` → ``write_report``, each a stage module's function on the ``PlannedRun``.

    The CLI calls the stages in order so that each gets its own Ctrl-C handling; the app can do the same
    from a worker thread. Use as a context manager (closes the library).
    """

    def __init__(self, settings: FromLibrarySettings, database: Path | str | None = None, base: Path | str | None = None,
                 fresh: bool = False, say: Say = lambda message: None) -> None:
        check_name(settings)  # before the library is opened
        self.say = say
        self.fresh = fresh  # the earlier run is discarded when training starts (a dry run keeps it)
        if database is not None and not Path(database).exists():  # a typo must not become a new, empty library
            raise FromLibraryError(f"no library at {database}: index your music into it first "
                                   f"(engine index FOLDER --db {database})")
        self.library = Library(database, base)
        try:
            self.planned = plan_run(self.library, settings, fresh)
        except BaseException:
            self.library.close()
            raise

    @property
    def model_dir(self) -> Path:
        return self.planned.folders.model_dir

    def close(self) -> None:
        self.library.close()

    def __enter__(self) -> "LibraryTraining":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def report(self) -> dict[str, Any]:
        return self.planned.report()

    def train(self, events: EventWriter | None = None) -> dict[str, Any]:
        """``from_library_run.train``, after discarding an earlier run of the same name under ``fresh``."""
        if self.fresh:
            from_library_run.discard_earlier_run(self.library, self.planned)
            self.fresh = False
        return from_library_run.train(self.planned, events or EventWriter(), self.say)

    def embed(self, workers: int | None = None, progress: Callable[[IndexProgress], None] | None = None,
              cancel: threading.Event | None = None) -> IndexReport:
        return from_library_run.embed(self.library.db_path, self.planned, workers, progress, cancel)

    def evaluate(self) -> dict[str, Any]:
        return evaluate(self.library, self.planned)

    def write_report(self, report: dict[str, Any]) -> None:
        write_report(self.planned.folders.run_dir, report)


__all__ = [
    "DEFAULT_CONFIG", "FromLibraryError", "FromLibrarySettings", "LibraryTraining", "default_name", "plan_text",
    "result_text",
]
