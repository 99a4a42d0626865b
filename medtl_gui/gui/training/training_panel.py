"""The training panel: what to train, from which weights, how, on which device; checked before it starts.

The panel never starts anything itself: ``start_requested`` asks the
controller, which calls :meth:`TrainingPanel.config` (a fresh
:class:`TrainConfig` copied from the widgets) and :meth:`problems`. Presets
fill every field, resolved against the weight store and the project's own
in-domain weights (``core.training.presets``), and say in one line which
weights they use and why; only the user's own edit of a preset field turns
the preset into "Custom" (device, seed and time budget are not preset
fields). The panel remembers its preset, the user's overrides and the time
budget per project (QSettings, see ``app_settings``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QStyle,
    QWidget,
)

from medtl_gui.core.data.augmentation import AUGMENTATION_PRESETS
from medtl_gui.core.data.contrast import COLOUR_CHANNELS
from medtl_gui.core.data.sampling import IMBALANCE_MODES
from medtl_gui.core.tasks import DEFAULT_TASK, registered_tasks, task_named
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.presets import NOT_PRESET_FIELDS, preset_choice, preset_overrides
from medtl_gui.core.training.recipe_choice import RecipeChoice
from medtl_gui.core.training.strategies import list_strategies
from medtl_gui.gui.training.augmentation_preview import AugmentationPreview
from medtl_gui.gui.training.form_fields import combo as _combo
from medtl_gui.gui.training.form_fields import dspin as _dspin
from medtl_gui.gui.training.form_fields import select as _select
from medtl_gui.gui.training.form_fields import spin as _spin
from medtl_gui.gui.training.domain_adaptation_box import DomainAdaptationBox
from medtl_gui.gui.training.panel_layout import lay_out
from medtl_gui.gui.training.panel_memory import CUSTOM, load_project_settings, remember_settings, restore_settings
from medtl_gui.core.training.setup_checks import (
    GUI_VALIDATION_SAMPLES,
    PRESETS,
    TASK_TITLES,
    DataSummary,
    NoWeightStore,
    WeightChoice,
    device_choices,
    model_choices,
    setup_problems,
    weight_choices,
)

RETENTION_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Strategy default", None), ("None", "none"), ("L2-SP", "l2sp"), ("LwF", "lwf"))


class TrainingPanel(QWidget):
    """Settings form; ``start_requested`` when Start is pressed, ``import_weights_requested`` for weights."""

    start_requested = Signal()
    import_weights_requested = Signal()
    preview_requested = Signal(str, int)  # augmentation preset, image size

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = DataSummary()
        self.store: Any = None
        self.weight_options: list[WeightChoice] = []
        self._base = TrainConfig()  # settings the panel does not show come from the preset or run shown last
        self._filling = False
        self._resolving = False
        self.runs_dir: Path | None = None  # the project's runs folder (its in-domain pretraining runs)
        self.project_folder: Path | None = None  # where the panel's settings are remembered for
        self.preset_name = "balanced"  # the preset applied last (what "Custom" started from)
        self.choice: RecipeChoice | None = None
        self.preset = _combo([("Custom", CUSTOM)] + [(p.title, p.name) for p in PRESETS],
                             "A complete starting recipe; every field can then be changed")
        for i, p in enumerate(PRESETS, start=1):
            self.preset.setItemData(i, p.description, Qt.ItemDataRole.ToolTipRole)
        self.task = _combo([(title, name) for name, title in TASK_TITLES.items()], "What the model learns")
        self.model = _combo()
        self.weights = _combo()
        self.weights.setToolTip("Pretrained starting weights from the offline weight store")
        self.weights_reason = QLabel("")
        self.weights_reason.setObjectName("weights-reason")
        self.weights_reason.setWordWrap(True)
        self.weights_reason.setStyleSheet("color: #9aa0a6; font-size: 8pt;")
        self.import_button = QPushButton("Import weights…")
        self.import_button.clicked.connect(self.import_weights_requested)
        self.strategy = _combo()
        self.stages = _spin(0, 8, "Fine-tune last N: how many backbone stages below the head train")
        self.unfreeze_every = _spin(1, 50, "Gradual unfreezing: epochs between unfreezing one more stage")
        self.retention = _combo(list(RETENTION_CHOICES), "Keep the network near its pretrained knowledge: "
                                "L_total = alpha * L_pre + beta * L_new")
        self.alpha = _dspin(-0.01, 1000.0, 4, 0.01, "alpha: weight of L_pre (retention)", "default")
        self.beta = _dspin(0.0, 1000.0, 3, 0.1, "beta: weight of L_new (the task loss)")
        self.lr = _dspin(1e-6, 1.0, 6, 1e-4, "Learning rate of the head")
        self.lr_decay = _dspin(0.0, 1.0, 2, 0.05, "Discriminative factor: each stage further from the head "
                               "trains at lr x factor", "strategy default")
        self.domain_adaptation = DomainAdaptationBox()
        self.epochs = _spin(1, 1000, "Passes over the training images")
        self.time_budget = _dspin(0.0, 1440.0, 1, 1.0, "Minutes the run may take: a short probe times the "
                                  "training and the run chooses its epochs (and maybe a larger image size) to "
                                  "finish within them. Off: the epochs above.", "off")
        self.time_budget.setSuffix(" min")
        self.batch_size = _spin(1, 4096, "Images (segmentation: patches) per optimisation step")
        self.image_size = _spin(0, 1024, "Network input size in pixels (segmentation: patch size)", "model default")
        self.image_size.setSingleStep(16)
        self.patches = _spin(1, 10_000, "Segmentation: random training patches cut from each image per epoch")
        self.foreground = _dspin(0.0, 1.0, 2, 0.05, "Segmentation: share of patches centred on a labelled pixel")
        self.colour_channel = _combo([(name, name) for name in COLOUR_CHANNELS],
                                     "Segmentation: which channel of colour images the network sees "
                                     "(green: fundus photographs)")
        self.contrast = _combo([("no contrast change", "none"), ("CLAHE", "clahe")],
                               "Segmentation: contrast-limited adaptive histogram equalisation of the input")
        self.input_scale = _dspin(0.25, 4.0, 2, 0.25, "Segmentation: resolution the network works at, as a "
                                  "factor of the image's; masks always come back at the image's size")
        self.augmentation = _combo([(name, name) for name in AUGMENTATION_PRESETS], "Augmentation preset")
        for i, text in enumerate(AUGMENTATION_PRESETS.values()):
            self.augmentation.setItemData(i, text, Qt.ItemDataRole.ToolTipRole)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setToolTip("Show the selected image augmented with this preset")
        self.preview = AugmentationPreview()
        self.preview.hide()
        self.imbalance = _combo([(name.replace("_", " "), name) for name in IMBALANCE_MODES], "Class balancing")
        for i, text in enumerate(IMBALANCE_MODES.values()):
            self.imbalance.setItemData(i, text, Qt.ItemDataRole.ToolTipRole)
        self.val_fraction = _dspin(0.05, 0.5, 2, 0.05, "Share of the training images held out for validation "
                                   "when the project has no validation split")
        self.device = _combo()
        self.device.setEditable(True)
        self.device.addItems(device_choices())
        self.device.setToolTip("auto: a GPU when there is one, else the CPU; or cpu, cuda:N")
        self.seed = _spin(0, 2**31 - 1, "Random seed (same seed, same data, same result)")
        self.data_line = QLabel("No project")
        self.data_line.setWordWrap(True)
        self.problems_label = QLabel("")
        self.problems_label.setWordWrap(True)
        self.problems_label.setObjectName("training-problems")
        self.problems_label.setStyleSheet("color: #ff8a65;")
        self.start_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                                        "Start training")
        self.start_button.clicked.connect(self.start_requested)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(150)
        self._check_timer.timeout.connect(self.refresh_problems)
        self._layout()
        self._connect()
        self.set_task(DEFAULT_TASK)
        self.apply_preset("balanced")

    def _layout(self) -> None:
        lay_out(self)  # panel_layout: forms that fit the dock column

    def _connect(self) -> None:
        self.preset.activated.connect(lambda _i: self.apply_preset(self.preset.currentData()))
        self.task.activated.connect(lambda _i: self._on_task_chosen())
        self.model.currentIndexChanged.connect(lambda _i: self._on_model_changed())
        self.weights.currentIndexChanged.connect(lambda _i: self._show_weight_reason())
        self.strategy.currentIndexChanged.connect(lambda _i: self._sync_enabled())
        self.retention.currentIndexChanged.connect(lambda _i: self._sync_enabled())
        self.preview_button.clicked.connect(self._on_preview)
        self.augmentation.currentIndexChanged.connect(lambda _i: self._on_augmentation_changed())
        for widget in (self.model, self.weights, self.strategy, self.retention, self.augmentation, self.imbalance,
                       self.colour_channel, self.contrast):
            widget.currentIndexChanged.connect(self._edited)
        for spin in (self.stages, self.unfreeze_every, self.alpha, self.beta, self.lr, self.lr_decay, self.epochs,
                     self.batch_size, self.image_size, self.val_fraction, self.patches, self.foreground,
                     self.input_scale):
            spin.valueChanged.connect(self._edited)
        self.device.currentTextChanged.connect(self._setting_edited)  # not preset fields: the preset stays
        self.seed.valueChanged.connect(self._setting_edited)
        self.time_budget.valueChanged.connect(self._setting_edited)
        self.domain_adaptation.changed.connect(self._edited)
        self._check_timer.timeout.connect(lambda: remember_settings(self))

    # -- choices ---------------------------------------------------------------------------
    def set_task(self, task: str) -> None:
        """Offer the models and strategies of ``task``."""
        self._filling = True
        _select(self.task, task)
        self.model.clear()
        for choice in model_choices(task):
            self.model.addItem(choice.text, choice.name)
            self.model.setItemData(self.model.count() - 1, choice.tip, Qt.ItemDataRole.ToolTipRole)
        self.strategy.clear()
        for strategy in list_strategies():
            offered = task_named(task).strategies
            if offered is None or strategy.name in offered:
                self.strategy.addItem(strategy.title, strategy.name)
                self.strategy.setItemData(self.strategy.count() - 1, strategy.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self._filling = False
        self.refresh_weights()

    def set_weight_store(self, store: Any) -> None:
        """Use this ``WeightStore`` for the pretrained choices (an active preset is resolved against it)."""
        self.store = store
        self.refresh_weights()
        self.refresh_preset()

    def refresh_weights(self) -> None:
        """Re-list the weights for the chosen model (after an import, a model change)."""
        current = self.weights.currentData()
        self._filling = True
        self.weights.clear()
        model = self.weights.model()
        assert isinstance(model, QStandardItemModel)
        choices = weight_choices(self.store if self.store is not None else NoWeightStore(),
                                 self.model.currentData() or "", self.task.currentData())
        for choice in choices:
            self.weights.addItem(choice.text, choice.value)
            item = model.item(self.weights.count() - 1)
            item.setToolTip(choice.reason)
            item.setEnabled(choice.enabled)
        self.weight_options = choices
        if not _select(self.weights, current) or not self._weight_enabled(current):
            self.weights.setCurrentIndex(0)
        self._filling = False
        self._show_weight_reason()

    def _weight_enabled(self, value: Any) -> bool:
        return any(c.value == value and c.enabled for c in self.weight_options)

    def set_summary(self, summary: DataSummary) -> None:
        """The project's label counts (shown, and used by the checks); an active preset adapts to them."""
        self.summary = summary
        if self.preset.currentData() != CUSTOM:
            self.refresh_preset()
        self._check_timer.start()

    def set_project_folder(self, folder: str | Path | None) -> None:
        """The open project: its runs folder (in-domain weights) and the panel settings remembered for it."""
        self.project_folder = Path(folder) if folder is not None else None
        self.runs_dir = self.project_folder / "runs" if self.project_folder is not None else None
        restore_settings(self, load_project_settings(self.project_folder))

    # -- presets and config ------------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        """Fill every preset field from preset ``name`` as this install runs it (``custom``: fields stay)."""
        if name == CUSTOM:
            return
        choice = self._resolve(name)
        kept = {key: value for key, value in self.config().to_dict().items() if key in NOT_PRESET_FIELDS}
        self._resolving = True
        try:
            self.set_config(TrainConfig.from_dict(choice.config.to_dict() | kept | {"task": choice.config.task}))
        finally:
            self._resolving = False
        self.preset_name, self.choice = name, choice
        _select(self.preset, name)
        self._show_weight_reason()
        self._check_timer.start()

    def _resolve(self, name: str) -> RecipeChoice:
        task = self.task.currentData()
        return preset_choice(name, task, self.summary.training_images(task) or None, store=self.store,
                             runs_dir=self.runs_dir)

    def refresh_preset(self) -> None:
        """Re-resolve the active preset (new counts, weights imported); fields change only if its choice did."""
        name = self.preset.currentData()
        if name == CUSTOM or self._resolving:
            return
        choice = self._resolve(name)
        if self.choice is not None and preset_overrides(self.config(), choice.config) == {} \
                and choice.reason == self.choice.reason:
            return
        self.apply_preset(name)

    def set_config(self, config: TrainConfig) -> None:
        """Show a config in the widgets: a preset's (from :meth:`apply_preset`) or, as "Custom", any other."""
        external, self._resolving = not self._resolving, True
        try:
            self._show_config(config)
        finally:
            self._resolving = not external
        if external:
            _select(self.preset, CUSTOM)  # a previous run's settings, say: not a preset, never re-resolved
            self._show_weight_reason()

    def _show_config(self, config: TrainConfig) -> None:
        self._filling = True
        if self.task.currentData() != config.task:
            self.set_task(config.task)
            self._filling = True
        _select(self.model, config.model)
        self._filling = False
        self.refresh_weights()
        self._filling = True
        pretrained = None if config.pretrained in (None, "none") else config.pretrained
        if not _select(self.weights, pretrained):
            self.weights.addItem(f"{pretrained} — not in the weight store", pretrained)
            self.weights.setCurrentIndex(self.weights.count() - 1)
        _select(self.strategy, config.strategy)
        self.stages.setValue(config.trainable_stages)
        self.unfreeze_every.setValue(config.unfreeze_every)
        _select(self.retention, config.retention)
        self.alpha.setValue(-0.01 if config.alpha is None else config.alpha)
        self.beta.setValue(config.beta)
        self.lr.setValue(config.lr)
        self.lr_decay.setValue(0.0 if config.lr_decay is None else config.lr_decay)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.image_size.setValue(config.image_size or 0)
        _select(self.augmentation, config.augmentation)
        _select(self.imbalance, config.imbalance)
        self.val_fraction.setValue(config.val_fraction)
        self.patches.setValue(config.patches_per_image)
        self.foreground.setValue(config.foreground_fraction)
        _select(self.colour_channel, config.colour_channel)
        _select(self.contrast, config.contrast)
        self.input_scale.setValue(config.input_scale)
        self.device.setCurrentText(config.device)
        self.seed.setValue(config.seed)
        if config.time_budget_minutes is not None:
            self.time_budget.setValue(config.time_budget_minutes)
        self.epochs.setEnabled(not self.time_budget.value())
        self.domain_adaptation.set_config(config)
        self._base = config
        self._filling = False
        self._sync_enabled()
        self._show_weight_reason()
        self.refresh_problems()
        self._on_augmentation_changed()  # an open preview follows the new config's preset

    def config(self) -> TrainConfig:
        """A new :class:`TrainConfig` copied from the widgets (not validated: see :meth:`problems`)."""
        base = self._base
        values = base.to_dict() | {
            "task": self.task.currentData(),
            "model": self.model.currentData(),
            "pretrained": self.weights.currentData(),
            "strategy": self.strategy.currentData(),
            "trainable_stages": self.stages.value(),
            "unfreeze_every": self.unfreeze_every.value(),
            "retention": self.retention.currentData(),
            "alpha": None if self.alpha.value() < 0 else self.alpha.value(),
            "beta": self.beta.value(),
            "lr": self.lr.value(),
            "lr_decay": None if self.lr_decay.value() <= 0 else self.lr_decay.value(),
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "image_size": self.image_size.value() or None,
            "augmentation": self.augmentation.currentData(),
            "imbalance": self.imbalance.currentData(),
            "val_fraction": self.val_fraction.value(),
            "patches_per_image": self.patches.value(),
            "foreground_fraction": self.foreground.value(),
            "colour_channel": self.colour_channel.currentData(),
            "contrast": self.contrast.currentData(),
            "input_scale": self.input_scale.value(),
            "device": self.device.currentText().strip() or "auto",
            "seed": self.seed.value(),
            "time_budget_minutes": self.time_budget.value() or None,
            "recipe": base.recipe if self.preset.currentData() != CUSTOM else None,
            **self.domain_adaptation.values(),
        }
        if values["task"] == "segmentation":
            values["validation_samples"] = 0
            if values["colour_channel"] != "all":
                values["in_channels"] = None
            if values["imbalance"] not in ("auto", "none"):
                values["imbalance"] = "auto"
        else:
            values["validation_samples"] = GUI_VALIDATION_SAMPLES
        for task in registered_tasks():  # another task's settings are hidden: they must stay at their defaults
            if values["task"] not in task.names:
                values |= task.config_section
        return TrainConfig(**values)

    def problems(self) -> list[str]:
        """What stops a run with the current settings (empty: it may start)."""
        return setup_problems(self.config(), self.summary, self.store)

    def refresh_problems(self) -> list[str]:
        """Re-check and show the problems; Start is enabled only without any."""
        problems = self.problems()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        task = self.task.currentData()
        self.data_line.setText(f"<b>Data:</b> {self.summary.describe(task)}")
        return problems

    # -- reactions ---------------------------------------------------------------------------
    def _edited(self, *_: Any) -> None:
        """The user changed a preset field: the settings are now their own ("Custom")."""
        if self._filling:
            return
        if self.preset.currentData() != CUSTOM:
            _select(self.preset, CUSTOM)
            self._show_weight_reason()
        self._check_timer.start()

    def _setting_edited(self, *_: Any) -> None:
        """Device, seed or time budget changed: the preset stays."""
        if self._filling:
            return
        self.epochs.setEnabled(not self.time_budget.value())
        self.epochs.setToolTip("Chosen by the time budget when the run starts" if self.time_budget.value()
                               else "Passes over the training images")
        self._check_timer.start()

    def _on_task_chosen(self) -> None:
        preset = self.preset.currentData()
        self.set_task(self.task.currentData())
        self.apply_preset(preset if preset != CUSTOM else "balanced")

    def _on_model_changed(self) -> None:
        if not self._filling:
            self.refresh_weights()

    def _show_weight_reason(self) -> None:
        index = self.weights.currentIndex()
        options = self.weight_options
        missing = [c for c in options if not c.enabled]
        text = options[index].reason if 0 <= index < len(options) else ""
        if self.choice is not None and self.preset.currentData() == self.preset_name:
            text = self.choice.reason  # the preset's weight choice and why
        if missing:
            text += f"\n{len(missing)} more listed but unavailable (hover them for why and how to import)."
        self.weights_reason.setText(text.strip())

    def _sync_enabled(self) -> None:
        strategy = self.strategy.currentData()
        self.stages.setEnabled(strategy == "finetune_last_n")
        self.unfreeze_every.setEnabled(strategy == "gradual_unfreezing")
        retention = self.retention.currentData()
        uses_retention = retention in ("l2sp", "lwf") or (retention is None and strategy in ("l2sp", "lwf"))
        self.alpha.setEnabled(uses_retention)
        task = self.task.currentData()
        self.imbalance.setEnabled(task == "classification")
        self.domain_adaptation.setEnabled(task == "classification")
        for widget in (self.patches, self.foreground):
            self._data_form.setRowVisible(widget, task == "segmentation")
        self._data_form.setRowVisible(self._seg_input, task == "segmentation")

    def _on_preview(self) -> None:
        self.preview.show()
        self.preview_requested.emit(self.augmentation.currentData(), self.image_size.value() or 64)

    def _on_augmentation_changed(self) -> None:
        if self.preview.isVisible() and not self._filling:
            self.preview_requested.emit(self.augmentation.currentData(), self.image_size.value() or 64)

