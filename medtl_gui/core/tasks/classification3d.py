"""3D classification: whole volumes through 3D networks, as a registered task.

Data: MedMNIST-3D-style ``.npz`` files (``*_images`` of shape N x D x H x W,
:mod:`volume_data`); ``medtl train FILE.npz`` picks this task when the image
arrays hold volumes. Projects holding volumes cannot train it yet
(:meth:`Classification3DTask.project_data` says so). Models: a small 3D CNN
(the default, fast on a CPU) and torchvision's 3D ResNet-18
(:mod:`medtl_gui.core.models.volume_models`), from random weights (no
pretrained 3D weights are installed; 2D->3D inflation is the seam
``volume_models.starting_weights``). The run loop's strategies freeze their
stages and give them discriminative learning rates as for 2D models.
Batches: normalised ``(N, 1, D, H, W)`` tensors with 3D flips, 90-degree
rotations, shifts and intensity jitter on training batches
(:mod:`volume_batches`); imbalance: classification's class-weighted loss or
balanced sampling. Figures, threshold policy and the test report with
bootstrap intervals are classification's (:mod:`run_report`), so
metrics.jsonl and report.json read like a classification run's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.tasks.base import EpochValidation, Prepared, Task
from medtl_gui.core.tasks.classification import CLASSIFICATION
from medtl_gui.core.training.resolved_settings import ResolvedSettings

#: the strategies that make sense for 3D networks from random weights (no retention: nothing to retain)
STRATEGIES_3D = ("full", "finetune_last_n", "gradual_unfreezing", "feature_extraction")
#: the default recipe (chosen on a split inside VesselMNIST3D's training set; see benchmarks/RESULTS.md)
DEFAULT_3D_RECIPE = dict(task="classification3d", model="cnn3d_small", epochs=25, batch_size=32, lr=3e-3,
                         weight_decay=1e-4, schedule="onecycle", augmentation="strong", imbalance="balanced_sampler")


def default_3d_config(**overrides: Any) -> Any:
    """The 3D recipe a run starts from without a config file (a small 3D CNN from scratch; fits 10 minutes of a
    quiet 2-core CPU on VesselMNIST3D's 1,335 training volumes: about 6 minutes)."""
    from medtl_gui.core.training.config import TrainConfig

    return TrainConfig.from_dict(DEFAULT_3D_RECIPE | overrides, origin="command line")


@dataclass
class Volume3DSettings(ResolvedSettings):
    """``ResolvedSettings`` for volumes, with the volumes' preprocessing."""

    preprocessing: Any = None


def resolve_3d_settings(config: Any, data: Any) -> Volume3DSettings:
    """Strategy, imbalance handling, monitor, splits (validation held out of train when missing), preprocessing."""
    from medtl_gui.core.data.errors import DataError
    from medtl_gui.core.data.sampling import resolve_imbalance_mode
    from medtl_gui.core.tasks.volume_data import VolumePreprocessing, stratified_holdout
    from medtl_gui.core.training.strategies import get_strategy

    train, val, held_out = data.train, data.val, False
    if len(train) == 0:
        raise DataError(data.source or "data", "the training split is empty")
    counts = train.class_counts()
    if (counts > 0).sum() < 2:
        raise DataError(data.source or "data", "3D classification needs at least 2 classes among the training volumes")
    if val is None or len(val) == 0:
        val = None
        if counts[counts > 0].min() >= 2 and len(train) >= 4:
            train, val = stratified_holdout(train, config.val_fraction, config.seed)
            held_out = True
    monitor = config.monitor
    if monitor == "auto" or (monitor.startswith("val_") and val is None):
        monitor = "val_auc" if val is not None else "train_loss"
    strategy = get_strategy(config.strategy)
    prep = VolumePreprocessing.fit(train, config.image_size)
    return Volume3DSettings(
        strategy=strategy, image_size=max(prep.shape), in_channels=1, retention="none", alpha=0.0,
        lr_decay=strategy.default_lr_decay if config.lr_decay is None else config.lr_decay,
        imbalance=resolve_imbalance_mode(config.imbalance, counts), monitor=monitor,
        monitor_mode="min" if monitor.rsplit("_", 1)[-1] in ("loss", "mae", "mse") else "max",
        train=train, val=val, test=data.test, val_held_out_of_train=held_out, preprocessing=prep)


def _head_kind(n_classes: int) -> str:
    return "binary" if n_classes == 2 else "multiclass"


class Classification3DTask(Task):
    """Whole-volume classification (see the module docstring)."""

    name = "classification3d"
    names = ("classification3d",)
    title = "3D classification"
    trains_on_projects = False  # volumes in a project: not yet (project_data says why)
    prediction_output = None  # predicting scans: not yet (medtl predict says so)
    capabilities = {"classification3d": frozenset({"headline", "unit_metrics"})}
    curve_metrics = {"classification3d": ("val_auc", "val_accuracy", "val_balanced_accuracy", "val_f1")}
    summary_keys = ("accuracy", "balanced_accuracy", "auc", "f1")
    retentions = ()
    strategies = STRATEGIES_3D
    throughput_key = "train_volumes_per_s"

    def single_process_reason(self, config: Any) -> str | None:
        return "3D classification trains in a single process"

    # ------------------------------------------------------------------ config and recipes
    def config_problems(self, config: Any) -> list[tuple[str, str]]:
        from medtl_gui.core.models.volume_models import VOLUME_MODELS

        problems = super().config_problems(config)
        if config.model not in VOLUME_MODELS:
            problems.append(("model", f"unknown 3D model {config.model!r}; available: {', '.join(VOLUME_MODELS)}"))
        if config.pretrained not in (None, "none"):
            problems.append(("pretrained", "no pretrained 3D weights are available yet: 3D models train from random "
                                           "weights (leave it out or 'none')"))
        if config.strategy not in STRATEGIES_3D:
            problems.append(("strategy", f"3D classification offers {', '.join(STRATEGIES_3D)}"))
        if config.retention not in (None, "none"):
            problems.append(("retention", "3D models start from random weights: there is nothing to retain"))
        if config.time_budget_minutes:
            problems.append(("time_budget_minutes", "is not available for 3D classification yet"))
        return problems

    def default_config(self, data: Any = None, *, recipe: str | None = None, store: Any = None,
                       **overrides: Any) -> tuple[Any, str]:
        from medtl_gui.core.training.config import ConfigError

        if recipe is not None:
            raise ConfigError("recipe", "3D classification has one default recipe: leave out --recipe and set the "
                                        "options you want to change")
        config = default_3d_config(**overrides)
        return config, (f"3D classification: {config.model} from random weights, {config.epochs} epochs, "
                        f"{config.augmentation} 3D augmentation")

    def model_choices(self) -> list[Any]:
        from medtl_gui.core.models.volume_models import VOLUME_MODELS
        from medtl_gui.core.training.setup_checks import ModelChoice

        return [ModelChoice(s.name, s.title, s.description, s.min_input_size) for s in VOLUME_MODELS.values()]

    def random_init_reason(self, model: str) -> str | None:
        return "No pretrained 3D weights are installed: 3D models train from random weights."

    # ------------------------------------------------------------------ data
    def claims_data(self, location: str | Path) -> bool:
        from medtl_gui.core.tasks.volume_data import is_volume_npz

        return is_volume_npz(location)

    def open_data(self, location: str | Path, config: Any = None) -> Any:
        from medtl_gui.core.data.errors import DataError
        from medtl_gui.core.tasks.volume_data import load_volume_npz

        if Path(location).is_dir():
            raise DataError(location, "3D classification reads volumes from a MedMNIST-3D style .npz file; "
                                      "projects holding volumes cannot train it yet")
        return load_volume_npz(location)

    def project_data(self, project: Any) -> Any:
        raise NotImplementedError("3D classification trains on MedMNIST-3D style .npz files (medtl train FILE.npz); "
                                  "projects holding volumes cannot train it yet")

    def setup_problems(self, config: Any, summary: Any) -> list[str]:
        return ["3D classification trains on volume .npz files (medtl train FILE.npz); a project cannot train it "
                "yet."]

    def describe_data(self, summary: Any) -> str:
        return "3D classification: projects holding volumes are not supported yet"

    # ------------------------------------------------------------------ training
    def prepare(self, config: Any, data: Any, store: Any) -> Prepared:
        from medtl_gui.core.models.volume_models import build_volume_model, starting_weights
        from medtl_gui.core.tasks.volume_data import VolumeSplits
        from medtl_gui.core.training.seeding import seed_everything

        if not isinstance(data, VolumeSplits):
            raise TypeError(f"a 3D classification run needs VolumeSplits (a volume .npz), got {type(data).__name__}")
        settings = resolve_3d_settings(config, data)
        starting_weights(config.model, config.pretrained)
        seed_everything(config.seed)
        bundle = build_volume_model(config.model, head_kind=_head_kind(len(settings.train.class_names)),
                                    n_classes=len(settings.train.class_names), head_dropout=config.head_dropout)
        return Prepared(data, settings, bundle)

    def folder_label(self, config: Any) -> str:
        return f"3d-{config.model}-{config.strategy}"

    def config_sections(self, run: Any) -> dict[str, Any]:
        s = run.settings
        splits = {"train": s.train, "val": s.val, "test": s.test}
        return {
            "model": {"head_kind": run.bundle.head_kind},
            "preprocessing": s.preprocessing.to_json(),
            "data": {"source": run.data.source, "class_names": run.data.class_names,
                     "counts": {name: v.class_counts().tolist() for name, v in splits.items() if v is not None},
                     "splits": {name: v.ids for name, v in splits.items() if v is not None}},
        }

    def messages(self, run: Any) -> list[tuple[str, str]]:
        return CLASSIFICATION.messages(run) if not run.settings.strategy.uses_feature_cache else [
            ("feature extraction of a 3D network: the backbone is frozen, features are not cached", "info")]

    def batches(self, run: Any) -> Any:
        from medtl_gui.core.tasks.volume_batches import VolumeBatches

        s, c = run.settings, run.config
        return VolumeBatches({"train": s.train, "val": s.val, "test": s.test}, s.preprocessing, c.augmentation,
                             c.batch_size, c.seed, balanced=s.imbalance == "balanced_sampler")

    def loss(self, run: Any) -> Any:
        return CLASSIFICATION.loss(run)  # TaskLoss with inverse-frequency class weights when weighted_loss

    def validate(self, run: Any, runner: Any, loader: Any) -> EpochValidation:
        return CLASSIFICATION.validate(run, runner, loader)

    def validation_event(self, run: Any, epoch: int, validation: EpochValidation, sample_at: list[int]) -> Any:
        return CLASSIFICATION.validation_event(run, epoch, validation, sample_at)

    def report_fields(self, run: Any) -> dict[str, Any]:
        return CLASSIFICATION.report_fields(run)

    def evaluate_best(self, run: Any, runner: Any, batches: Any, report: dict[str, Any]) -> None:
        CLASSIFICATION.evaluate_best(run, runner, batches, report)  # threshold policy on val, test with CIs

    # ------------------------------------------------------------------ after training
    def evaluate_run(self, run_dir: str | Path, location: str | Path, split: str, **options: Any) -> dict[str, Any]:
        """The run's checkpoint (default ``best``) on ``split`` of the volumes at ``location``; options:
        threshold (default: the run's decision threshold), confidence_intervals, device, checkpoint, tta
        ("none" or "flips": the mean over the 8 flips of the three axes)."""
        from medtl_gui.core.tasks.volume_evaluation import evaluate_volume_run

        if options.get("domain") is not None:
            raise ValueError("3D classification runs have no domain adaptation: leave out --domain")
        data = self.open_data(location)
        return evaluate_volume_run(run_dir, data.split(split), threshold=options.get("threshold"),
                                   confidence_intervals=options.get("confidence_intervals", True),
                                   device=options.get("device", "auto"), checkpoint=options.get("checkpoint", "best"),
                                   tta=options.get("tta", "none"))

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        return CLASSIFICATION.evaluation_lines(result)


CLASSIFICATION3D = Classification3DTask()

