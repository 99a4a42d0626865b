"""User preferences kept with QSettings: weight store folder, default training device, theme, where the
run monitor opens (a tab beside the viewer or its own window).

The training engine reads the same values through these names when the GUI
starts a run (settings are copied into the run's config before the worker
thread starts; a worker never reads QSettings).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from medtl_gui.gui.theme import THEMES
from medtl_gui.gui.training.monitor_host import DEFAULT_MONITOR_PLACEMENT, MONITOR_PLACEMENTS

#: devices offered in the settings dialog (any "cuda:N" typed by the user is kept as well)
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def default_weight_store() -> str:
    """The core's default weight store folder (``$MEDTL_WEIGHTS_DIR`` or the per-user data folder)."""
    from medtl_gui.core.models.weights.store import default_weights_dir  # no torch import

    return str(default_weights_dir())


def app_settings_store() -> QSettings:
    """The QSettings object of MedTL (per user, native format)."""
    return QSettings("MedTL", "MedTL")


@dataclass
class AppSettings:
    """The preferences the settings dialog edits."""

    weight_store: str = ""  # empty: the core's default folder
    device: str = "auto"
    theme: str = "dark"
    monitor_placement: str = DEFAULT_MONITOR_PLACEMENT  # "tab" beside the viewer or its own "window"

    @classmethod
    def load(cls, store: QSettings | None = None) -> "AppSettings":
        """Read from QSettings, falling back to defaults for missing or invalid values."""
        store = store or app_settings_store()
        values = {}
        for f in fields(cls):
            raw = store.value(f"preferences/{f.name}", f.default)
            values[f.name] = "" if raw is None else str(raw)
        settings = cls(**values)
        if settings.theme not in THEMES:
            settings.theme = "dark"
        if not valid_device(settings.device):
            settings.device = "auto"
        if settings.monitor_placement not in MONITOR_PLACEMENTS:
            settings.monitor_placement = DEFAULT_MONITOR_PLACEMENT
        return settings

    def save(self, store: QSettings | None = None) -> None:
        """Write every value to QSettings (and sync to disk)."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        store = store or app_settings_store()
        for f in fields(self):
            store.setValue(f"preferences/{f.name}", getattr(self, f.name))
        store.sync()

    def problems(self) -> list[str]:
        """Why these settings cannot be saved (empty when they can)."""
        found = []
        if self.theme not in THEMES:
            found.append(f"theme must be one of {', '.join(THEMES)}, not {self.theme!r}")
        if not valid_device(self.device):
            found.append(f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        if self.monitor_placement not in MONITOR_PLACEMENTS:
            found.append(f"run monitor placement must be one of {', '.join(MONITOR_PLACEMENTS)}, "
                         f"not {self.monitor_placement!r}")
        if self.weight_store:
            folder = Path(self.weight_store).expanduser()
            if folder.exists() and not folder.is_dir():
                found.append(f"weight store {folder} is a file, not a folder")
        return found

    @property
    def effective_weight_store(self) -> str:
        """The folder the weight store uses: the chosen one or the default."""
        return self.weight_store or default_weight_store()


def valid_device(name: str) -> bool:
    """True for "auto", "cpu", "cuda", "cuda:N" and "mps"."""
    if name in DEVICE_CHOICES:
        return True
    prefix, _, index = name.partition(":")
    return prefix == "cuda" and index.isdigit()


#: QSettings key of the privacy toggle ("Show patient-identifying information"); hidden unless set
SHOW_IDENTIFYING_KEY = "privacy/show_identifying"


def show_identifying(store: QSettings | None = None) -> bool:
    """True when the user chose to see patient-identifying values (metadata panel and browser's Patient column)."""
    raw = (store or app_settings_store()).value(SHOW_IDENTIFYING_KEY, False)
    return str(raw).strip().lower() in ("1", "true", "yes")


def set_show_identifying(on: bool, store: QSettings | None = None) -> None:
    """Remember the privacy toggle (one setting for every panel that shows identifying values)."""
    store = store or app_settings_store()
    store.setValue(SHOW_IDENTIFYING_KEY, bool(on))
    store.sync()


#: QSettings group of the training panel's settings, one JSON entry per project (keyed by its folder)
TRAINING_PANEL_GROUP = "training-panel"


def _project_key(folder: str | Path) -> str:
    import hashlib

    return hashlib.sha1(str(Path(folder).expanduser().resolve()).encode("utf-8")).hexdigest()[:16]


def load_training_settings(folder: str | Path, store: QSettings | None = None) -> dict:
    """The training panel's remembered settings for the project in ``folder`` (empty when none or unreadable)."""
    import json

    raw = (store or app_settings_store()).value(f"{TRAINING_PANEL_GROUP}/{_project_key(folder)}", "")
    try:
        values = json.loads(str(raw)) if raw else {}
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def save_training_settings(folder: str | Path, values: dict, store: QSettings | None = None) -> None:
    """Remember the training panel's settings (preset, its overrides, time budget) for the project in ``folder``."""
    import json

    store = store or app_settings_store()
    store.setValue(f"{TRAINING_PANEL_GROUP}/{_project_key(folder)}", json.dumps(values, sort_keys=True))
    store.sync()
