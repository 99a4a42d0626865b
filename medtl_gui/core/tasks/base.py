"""The ``Task`` interface: what a kind of training run (classification, segmentation, ...) provides.

One run loop (:mod:`medtl_gui.core.training.run_loop`) trains every task;
the CLI, the GUI and the reports ask the registry (:mod:`registry`) for the
task of a config, of a data location or of a run folder, and call it
through this interface. A new task is one subclass registered with
:func:`~medtl_gui.core.tasks.registry.register_task`; nothing else changes.

The hooks fall in four groups:

- **config and recipes**: ``names`` (the ``TrainConfig.task`` values it
  serves), ``config_section`` (settings only this task uses: every other
  task must leave them at their defaults), :meth:`config_problems`,
  :meth:`default_config`;
- **data**: :meth:`claims_data` (for ``medtl train DATA`` without
  ``--task``), :meth:`open_data` (a project folder or an ``.npz``),
  :meth:`project_data` (the GUI's frozen labels), :meth:`setup_problems`
  (pre-flight checks before a run starts, shared by the GUI and the CLI);
- **training**, called by the run loop in this order:
  :meth:`prepare` (settings resolved against the data, the model with its
  starting weights), :meth:`config_sections` (the task's parts of
  config.json), :meth:`scope_images`, :meth:`messages`, :meth:`batches`,
  :meth:`loss`, then per epoch :meth:`validate` and
  :meth:`validation_event`, and at the end :meth:`report_fields` and
  :meth:`evaluate_best`;
- **after training**: :meth:`evaluate_run` (a run on a split of a data
  location, with :meth:`evaluation_lines` to print it), :meth:`summary`
  (one line of figures), :meth:`predict_project` (proposals stored in a
  project).

Everything heavy (torch, models) is imported inside the hooks, so that the
registry is cheap to import (the CLI's parser, the GUI's panel).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass
class Prepared:
    """What :meth:`Task.prepare` made of a config and its data before the run folder exists.

    ``settings`` has at least ``strategy, image_size, in_channels, retention,
    alpha, lr_decay, imbalance, monitor, monitor_mode, train, val, test,
    val_held_out_of_train`` and ``to_json()``; ``bundle`` has ``model``,
    ``weights``, ``in_channels``, ``weights_id``; ``extra`` holds what else the
    task's hooks need later (e.g. segmentation's input spec).
    """

    data: Any
    settings: Any
    bundle: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpochValidation:
    """One epoch's validation: the metrics for metrics.jsonl (``val_*`` keys), an optional confusion matrix,
    and the raw predictions (for the task's per-image validation event)."""

    metrics: dict[str, Any]
    confusion: Any = None
    predictions: Any = None


class Task:
    """Base class of a task (see the module docstring); subclasses override the hooks they need."""

    #: the registry key (and the first of ``names``)
    name: str = ""
    #: every ``TrainConfig.task`` value this task serves (e.g. classification serves regression too)
    names: tuple[str, ...] = ()
    #: shown in the GUI
    title: str = ""
    #: settings only this task uses, with their defaults: other tasks must leave them so
    config_section: dict[str, Any] = {}
    #: the key of the training throughput in metrics.jsonl (items per second)
    throughput_key: str = "train_images_per_s"
    #: whether the run's progress counts items per batch as ``batch_size`` (patches) rather than images
    counts_patches: bool = False
    #: the figures :meth:`summary` shows, in order
    summary_keys: tuple[str, ...] = ()
    #: retention losses the task's models support (others resolve to none)
    retentions: tuple[str, ...] = ("l2sp",)
    #: whether the task trains on a project's images (the training panel offers only such tasks)
    trains_on_projects: bool = True
    #: whether the task draws validation overlays in the GUI while it trains
    shows_overlays: bool = False
    #: the report sections ``medtl train`` summarises on stderr when the run ends
    summary_splits: tuple[str, ...] = ("test",)
    #: what a prediction is: "table" (a class or value per image), "masks" (per pixel), or None (the task's
    #: runs cannot predict scans yet: ``medtl predict`` refuses them with a reason)
    prediction_output: str | None = "table"
    #: the task's own ``medtl train`` options: option -> (TrainConfig field, type, help)
    cli_options: dict[str, tuple[str, type, str]] = {}
    #: display titles of the config task values it serves (default: ``title``)
    titles: dict[str, str] = {}
    #: what runs of each config task value can do besides train, evaluate and predict (see registry.can):
    #: "ensemble" (join an ensemble), "export" (TorchScript/ONNX), "continue" (a finished run's weights start
    #: a new run), "headline" (a class-based headline with per-class warnings), "unit_metrics" (the metric
    #: curves lie in [0, 1])
    capabilities: dict[str, frozenset[str]] = {}
    #: validation metrics the GUI draws as curves, per config task value
    curve_metrics: dict[str, tuple[str, ...]] = {}
    #: the strategies the task offers (None: every registered strategy)
    strategies: tuple[str, ...] | None = None
    #: module with the task's Qt-free panel logic: ``model_choices()``, ``weights_architecture(model)``,
    #: ``random_init_reason(model)``, ``setup_problems(config, summary)``, ``training_images(summary)``,
    #: ``describe_data(summary)``, ``project_data(project)`` (imported on first use; "" for none)
    checks_module: str = ""

    def _checks(self, name: str) -> Any:
        """Function ``name`` of :attr:`checks_module`, or None when the task has no such module or function."""
        if not self.checks_module:
            return None
        module: ModuleType = importlib.import_module(self.checks_module)
        return getattr(module, name, None)

    # ------------------------------------------------------------------ config and recipes
    def config_problems(self, config: Any) -> list[tuple[str, str]]:
        """(setting, reason) for every task-specific setting that is wrong (config.validate reports the first);
        subclasses add theirs to these (an unknown recipe name)."""
        from medtl_gui.core.training.recipes import recipe_problems

        return recipe_problems(config)

    def default_config(self, data: Any = None, *, recipe: str | None = None, store: Any = None,
                       **overrides: Any) -> tuple[Any, str]:
        """The config a run on ``data`` starts from without a config file, and a one-line note on the choice
        (empty when there is nothing to say)."""
        raise NotImplementedError(f"task {self.name!r} has no default recipe")

    def single_process_reason(self, config: Any) -> str | None:
        """Why a run with ``config`` trains in one process even when several were asked for (None: it need not)."""
        return None

    def preset_choice(self, preset: Any, task_value: str, n_train: int | None, *, store: Any = None,
                      runs_dir: Any = None, **overrides: Any) -> Any:
        """The GUI preset ``preset`` (``presets.TrainingPreset``) for this task as this install can run it
        (a ``RecipeChoice``); by default the task's default config."""
        from medtl_gui.core.training.recipe_choice import RecipeChoice

        config, note = self.default_config(None, store=store, **overrides)
        return RecipeChoice(config, note, "recipe", preset.name)

    def model_choices(self) -> list[Any]:
        """The networks that can train for this task (``ModelChoice``-like: name, text, tip, min_input_size)."""
        hook = self._checks("model_choices")
        return hook() if hook else []

    def weights_architecture(self, model: str) -> str | None:
        """The zoo architecture whose pretrained weights ``model`` starts from (None: none can)."""
        hook = self._checks("weights_architecture")
        return hook(model) if hook else None

    def random_init_reason(self, model: str) -> str | None:
        """Why ``model`` always starts from random weights (None: the panel's default text)."""
        hook = self._checks("random_init_reason")
        return hook(model) if hook else None

    # ------------------------------------------------------------------ data
    def claims_data(self, location: str | Path) -> bool:
        """Whether data at ``location`` (given without ``--task``) is for this task."""
        return False

    def open_data(self, location: str | Path, config: Any = None) -> Any:
        """The splits of a project folder or data file, for training or evaluation."""
        raise NotImplementedError(f"task {self.name!r} cannot open {location}")

    def close_data(self, data: Any) -> None:
        """Release what :meth:`open_data` opened (e.g. a project store)."""

    def project_data(self, project: Any) -> Any:
        """The splits of an open project, frozen for one run (the GUI's worker thread)."""
        hook = self._checks("project_data")
        if hook is None:
            raise NotImplementedError(f"task {self.name!r} cannot train on a project")
        return hook(project)

    def setup_problems(self, config: Any, summary: Any) -> list[str]:
        """What stops a run with ``config`` on data described by ``summary`` (``DataSummary``) from starting."""
        hook = self._checks("setup_problems")
        return hook(config, summary) if hook else []

    def training_images(self, summary: Any) -> int:
        """How many training images ``summary`` counts for this task."""
        hook = self._checks("training_images")
        return hook(summary) if hook else 0

    def describe_data(self, summary: Any) -> str:
        """One line about what this task would train on."""
        hook = self._checks("describe_data")
        return hook(summary) if hook else ""

    # ------------------------------------------------------------------ training
    def prepare(self, config: Any, data: Any, store: Any) -> Prepared:
        """Resolve ``config`` against ``data`` and build the model (bad input raises, no folder exists yet)."""
        raise NotImplementedError

    def folder_label(self, config: Any) -> str:
        """The label of a new run folder's name."""
        return f"{config.model}-{config.strategy}"

    def config_sections(self, run: Any) -> dict[str, Any]:
        """The task's parts of config.json (``model``, ``preprocessing``, ``data``)."""
        return {}

    def scope_images(self, run: Any) -> tuple[list, list]:
        """(ids, loaders) of the images whose traits define the model's scope (scope.json)."""
        return [], []

    def messages(self, run: Any) -> list[tuple[str, str]]:
        """(text, level) the run says before it starts training."""
        return []

    def batches(self, run: Any) -> Any:
        """The run's batches: ``train_loader(epoch)``, ``eval_loader(split)``, ``batches_per_epoch()``,
        ``features_mode``."""
        raise NotImplementedError

    def loss(self, run: Any) -> Any:
        """The task loss (a torch module)."""
        raise NotImplementedError

    def validate(self, run: Any, runner: Any, loader: Any) -> EpochValidation:
        """This epoch's validation figures."""
        raise NotImplementedError

    def validation_event(self, run: Any, epoch: int, validation: EpochValidation, sample_at: list[int]) -> Any:
        """An event with per-image validation results for the GUI, or None."""
        return None

    def report_fields(self, run: Any) -> dict[str, Any]:
        """The task's fields of report.json that do not need the best model."""
        return {}

    def evaluate_best(self, run: Any, runner: Any, batches: Any, report: dict[str, Any]) -> None:
        """Add the best model's validation and test figures to ``report`` (the best weights are loaded)."""

    # ------------------------------------------------------------------ after training
    def evaluate_run(self, run_dir: str | Path, location: str | Path, split: str, **options: Any) -> dict[str, Any]:
        """A run's figures on ``split`` of the data at ``location`` (may differ from its training data)."""
        raise NotImplementedError(f"task {self.name!r} cannot evaluate runs")

    def predict_project(self, run_dir: str | Path, project: Any, image_ids: list[int] | None = None, *,
                        checkpoint: str = "best", device: str = "auto", flips: bool = False, progress: Any = None,
                        cancel: Any = None) -> Any:
        """``prediction_output == "masks"``: store the run's masks of an open project's images (default: those
        without a final mask) as proposals, cancellable between images; the GUI's Apply model and
        ``medtl predict`` both call it. A summary with ``proposals``, ``failed``, ``cancelled``, ``total``
        and ``to_json()``."""
        raise NotImplementedError(f"task {self.name!r} stores no mask proposals")

    # ------------------------------------------------------------------ reports
    #: where the task's HTML report comes from, each as "module:name" (imported on first use): "collect"
    #: (run, data location, split, options -> ReportContent), "sections" (content -> section id -> HTML),
    #: "titles" (section id -> heading, in order), "key_figures" ((key, title) tiles above the sections)
    report_parts: dict[str, str] = {}

    def _report_part(self, key: str) -> Any:
        spec = self.report_parts.get(key)
        if spec is None:
            raise NotImplementedError(f"task {self.name!r} writes no report")
        module, _, name = spec.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def report_titles(self) -> dict[str, str]:
        """Section id -> heading of the task's HTML report, in order."""
        return self._report_part("titles")

    @property
    def report_key_figures(self) -> tuple[tuple[str, str], ...]:
        """The headline figures (key, title) shown above the report's sections."""
        return self._report_part("key_figures")

    def collect_report(self, run_dir: str | Path, location: str | Path, split: str, **options: Any) -> Any:
        """The content of a run's HTML report (``reporting.report_data.ReportContent``): the run evaluated on
        ``split`` of the data at ``location``; options: identified, device, checkpoint, progress."""
        return self._report_part("collect")(run_dir, location, split, **options)

    def report_sections(self, content: Any) -> dict[str, str]:
        """Section id -> HTML body of the report (ids from :attr:`report_titles`)."""
        return self._report_part("sections")(content)

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        """:meth:`evaluate_run`'s result as text lines."""
        return [self.summary(result)]

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line: the task's headline figures of a report section."""
        return ", ".join(f"{k} {metrics[k]:.4f}" for k in self.summary_keys
                         if isinstance(metrics.get(k), (int, float)))

    # ------------------------------------------------------------------ run loop extensions (defaults: none)
    def parameter_groups(self, run: Any) -> list[dict] | None:
        """The optimiser's parameter groups (None: one or two per stage, with the strategy's ``lr_decay``)."""
        return None

    def train_metrics(self, run: Any) -> dict[str, Any]:
        """Figures of the epoch's training added to its metrics line (e.g. SSL's contrastive accuracy)."""
        return {}

    def on_finish(self, run: Any, status: str, report: dict[str, Any]) -> None:
        """Last work on the trained model before report.json is written (``run.model`` holds the best weights
        when a ``best`` checkpoint exists, else the final ones); may add to ``report``."""

    def __repr__(self) -> str:
        return f"<task {self.name}>"
