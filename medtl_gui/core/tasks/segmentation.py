"""Segmentation as a registered task: U-Nets trained on random patches, validated on whole images.

Data: a project's images with masks (:mod:`medtl_gui.core.data.segmentation`);
``medtl train PROJECT`` picks this task when the project has masks and
segmentation labels but no classes. The run loop, strategies (stage
freezing, gradual unfreezing, discriminative learning rates), L2-SP,
optimiser, schedule, checkpoints, cancel/pause, resume and events are the
loop's own; what differs: batches are random patches
(:mod:`segmentation_batches`), the loss is Dice + cross-entropy inside the
field of view, and validation predicts whole images with sliding windows.

Masked images removed from the project by another process (or whose files
were deleted) are left out with a warning: before the run folder is
written (config.json lists only the images used), and while the images are
read at the start of training. Losing every training image ends the run
with a reason naming the project; when every validation case is gone the
run monitors the training loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtl_gui.core.tasks.base import EpochValidation, Prepared, Task


def default_segmentation_config(**overrides: Any) -> Any:
    """The segmentation recipe a run starts from without a config file.

    A small U-Net from scratch on 96 px patches (no pretrained weights
    needed, fast on a CPU), Dice + cross-entropy, strong augmentation
    (elastic included), AdamW with a one-cycle schedule; measured on DRIVE
    in ``benchmarks/RESULTS.md`` (40 epochs: Dice 0.823 / AUC 0.983 on 5 held-out DRIVE cases after
    12 minutes of training on a 2-core CPU; 1,800 patches per epoch there).
    """
    from medtl_gui.core.training.config import TrainConfig

    values = dict(task="segmentation", model="unet_small", image_size=96, epochs=40, patches_per_image=120,
                  batch_size=16, lr=3e-3, schedule="onecycle", augmentation="strong")
    return TrainConfig.from_dict(values | overrides, origin="command line") if overrides else TrainConfig(**values)


class SegmentationTask(Task):
    """Per-pixel labels from masks (see the module docstring)."""

    name = "segmentation"
    names = ("segmentation",)
    title = "Segmentation"
    config_section = {"colour_channel": "all", "contrast": "none", "input_scale": 1.0, "base_channels": None,
                      "dice_weight": 1.0}
    throughput_key = "train_patches_per_s"
    counts_patches = True
    summary_keys = ("dice", "iou", "auc", "sensitivity", "specificity")
    checks_module = "medtl_gui.core.tasks.segmentation_checks"
    report_parts = {"collect": "medtl_gui.core.reporting.report_data:collect_segmentation",
                    "sections": "medtl_gui.core.reporting.html_report:segmentation_sections",
                    "titles": "medtl_gui.core.reporting.html_report:SEGMENTATION_SECTIONS",
                    "key_figures": "medtl_gui.core.reporting.html_report:SEGMENTATION_KEY_FIGURES"}
    retentions = ("l2sp",)

    @property
    def strategies(self) -> tuple[str, ...]:
        from medtl_gui.core.training.segmentation_config import SEGMENTATION_STRATEGIES

        return tuple(SEGMENTATION_STRATEGIES)
    shows_overlays = True
    capabilities = {"segmentation": frozenset({"unit_metrics"})}
    curve_metrics = {"segmentation": ("val_dice", "val_iou", "val_auc")}
    summary_splits = ("val", "test")
    prediction_output = "masks"
    cli_options = {
        "--patches-per-image": ("patches_per_image", int, "random training patches per image and epoch"),
        "--foreground-fraction": ("foreground_fraction", float, "share of patches centred on a label"),
        "--colour-channel": ("colour_channel", str, "all, red, green or blue (green: fundus photographs)"),
        "--contrast": ("contrast", str, "none or clahe (adaptive histogram equalisation of the input)"),
        "--input-scale": ("input_scale", float, "resolution factor the network works at (e.g. 1.5)"),
        "--base-channels": ("base_channels", int, "width of a plain U-Net's first level"),
    }

    # ------------------------------------------------------------------ config and recipes
    def config_problems(self, config: Any) -> list[tuple[str, str]]:
        from medtl_gui.core.training.segmentation_config import segmentation_config_problems

        return super().config_problems(config) + segmentation_config_problems(config)

    def default_config(self, data: Any = None, *, recipe: str | None = None, store: Any = None,
                       **overrides: Any) -> tuple[Any, str]:
        return default_segmentation_config(**overrides), ""

    def preset_choice(self, preset: Any, task_value: str, n_train: int | None, *, store: Any = None,
                      runs_dir: Any = None, **overrides: Any) -> Any:
        from medtl_gui.core.training.config import TrainConfig
        from medtl_gui.core.training.recipe_choice import RecipeChoice

        values = TrainConfig().to_dict() | preset.segmentation | {"validation_samples": 0}
        config = TrainConfig.from_dict(values | overrides, origin=f"preset {preset.title!r}")
        return RecipeChoice(config, f"{preset.title.split(' (')[0]}: a small U-Net from random weights (no "
                                    f"pretrained file needed), {config.epochs} epochs.", "recipe", preset.name)

    # ------------------------------------------------------------------ data
    def claims_data(self, location: str | Path) -> bool:
        from medtl_gui.core.data.segmentation import is_segmentation_project

        return is_segmentation_project(location)

    def open_data(self, location: str | Path, config: Any = None) -> Any:
        from medtl_gui.core.data.segmentation import open_segmentation_source

        return open_segmentation_source(location)

    def close_data(self, data: Any) -> None:
        project = getattr(data, "extra", {}).get("project")
        if project is not None:
            project.close()

    # ------------------------------------------------------------------ training
    def prepare(self, config: Any, data: Any, store: Any) -> Prepared:
        from medtl_gui.core.data.errors import DataError
        from medtl_gui.core.data.segmentation import SegmentationSplits
        from medtl_gui.core.training.run_setup import leave_out_vanished
        from medtl_gui.core.training.segmentation_setup import (
            build_segmentation_run_model,
            input_spec_for,
            resolve_segmentation_settings,
        )

        if not isinstance(data, SegmentationSplits):
            raise TypeError("a segmentation run needs SegmentationSplits (see core.data.segmentation), "
                            f"got {type(data).__name__}")
        if leave_out_vanished(data) and len(data.train) == 0:  # masked images removed meanwhile (a warning)
            raise DataError(data.source or "data", "every image with a mask to train on is gone (removed from "
                                                   "the project meanwhile?)")
        settings = resolve_segmentation_settings(config, data)
        bundle = build_segmentation_run_model(config, settings, store)
        return Prepared(data, settings, bundle, {"input_spec": input_spec_for(bundle, config)})

    def folder_label(self, config: Any) -> str:
        return f"seg-{config.model}-{config.strategy}"

    def config_sections(self, run: Any) -> dict[str, Any]:
        settings, bundle = run.settings, run.bundle
        splits = {"train": settings.train, "val": settings.val, "test": settings.test}
        return {
            "model": {"encoder": bundle.architecture.encoder, "head_kind": "segmentation",
                      "n_outputs": bundle.n_outputs},
            "preprocessing": run.prepared.extra["input_spec"].to_json() | {"patch_size": settings.image_size},
            "data": {
                "source": run.data.source,
                "class_names": settings.label_names,
                "label_names": settings.label_names,
                "counts": {name: len(s) for name, s in splits.items() if s is not None},
                "splits": {name: s.ids for name, s in splits.items() if s is not None},
            },
        }

    def scope_images(self, run: Any) -> tuple[list, list]:
        return run.data.train.ids, [item.load_image for item in run.data.train]

    def messages(self, run: Any) -> list[tuple[str, str]]:
        s = run.settings
        out = []
        if s.val_held_out_of_train:
            out.append((f"no validation split: held out {len(s.val)} training images (whole cases)", "info"))
        if s.val is None:
            out.append(("no validation images: the last epoch is kept as best", "warning"))
        if s.strategy.uses_feature_cache:
            out.append(("feature extraction: the encoder stays frozen and the decoder trains "
                        "(features are not cached for segmentation)", "info"))
        return out

    def batches(self, run: Any) -> Any:
        from medtl_gui.core.data.segmentation_cases import prepare_available_cases
        from medtl_gui.core.tasks.segmentation_batches import SegmentationBatches
        from medtl_gui.core.training import distributed as ddp
        from medtl_gui.core.training.device import loader_workers
        from medtl_gui.core.training.events import Message

        s, spec = run.settings, run.prepared.extra["input_spec"]
        progress = lambda text: run.emit(Message(text))  # noqa: E731
        splits: dict[str, list] = {}
        for name, images in (("train", s.train), ("val", s.val), ("test", s.test)):
            if images:
                splits[name], gone = prepare_available_cases(images, spec, progress)
                if gone:
                    self._leave_out(run, name, images, gone)
        if "val" in splits and not splits["val"]:  # every validation case went
            run.emit(Message("no validation images left: the last epoch is kept as best", "warning"))
            if s.monitor.startswith("val_"):
                s.monitor, s.monitor_mode = "train_loss", "min"
        # patches are cut at the network's working resolution; val/test stay at full size (predict_case resamples)
        splits["train"] = [case.resampled(spec.scale) for case in splits["train"]]
        return SegmentationBatches(splits, run.config, s.image_size,
                                   loader_workers(run.config.num_workers, run.plan.device),
                                   ddp.world_size(), ddp.rank())

    @staticmethod
    def _leave_out(run: Any, name: str, images: Any, gone: list[str]) -> None:
        """Warn about the ``name`` cases that vanished while they were read and drop them from the settings;
        a DataError naming the project when no training case is left."""
        from medtl_gui.core.data.errors import DataError
        from medtl_gui.core.data.labelled_images import vanished_message
        from medtl_gui.core.training.events import Message

        left_out = set(gone)
        kept = [index for index, item in enumerate(images) if item.case_id not in left_out]
        if name == "train" and not kept:
            raise DataError(run.data.source or images.name, "every training image with a mask is gone (removed "
                                                            "from the project while the run was starting)")
        run.emit(Message(vanished_message(gone, f"the {name} images"), "warning"))
        setattr(run.settings, name, images.subset(kept, images.name) if kept else None)

    def loss(self, run: Any) -> Any:
        from medtl_gui.core.training.segmentation_loss import SegmentationLoss

        return SegmentationLoss(run.model.n_outputs, dice_weight=run.config.dice_weight)

    def _score(self, run: Any, runner: Any, cases: list) -> tuple[dict[str, Any], float]:
        from medtl_gui.core.tasks.segmentation_batches import score_cases

        return score_cases(runner, cases, run.settings.label_names, run.config, run.settings.image_size,
                           run.prepared.extra["input_spec"].scale)

    def validate(self, run: Any, runner: Any, loader: Any) -> EpochValidation | None:
        from medtl_gui.core.tasks.segmentation_batches import EPOCH_METRICS

        if not loader:
            return None
        report, loss = self._score(run, runner, loader)
        return EpochValidation({"val_loss": loss} | {f"val_{key}": report.get(key) for key in EPOCH_METRICS})

    def report_fields(self, run: Any) -> dict[str, Any]:
        return {"label_names": run.settings.label_names, "threshold_policy": "fixed",
                "decision_threshold": run.config.threshold}

    def evaluate_best(self, run: Any, runner: Any, batches: Any, report: dict[str, Any]) -> None:
        for split in ("val", "test"):
            cases = batches.eval_loader(split)
            if cases:
                report[split], report[f"{split}_loss"] = self._score(run, runner, cases)

    # ------------------------------------------------------------------ after training
    def evaluate_run(self, run_dir: str | Path, location: str | Path, split: str, **options: Any) -> dict[str, Any]:
        """Options: threshold, device, checkpoint, tta ("none" or "flips"); any project with the same label
        names (an external test set)."""
        from medtl_gui.core.data.segmentation import open_project_folder, segmentation_from_project
        from medtl_gui.core.evaluation.segmentation_run import evaluate_segmentation_run
        from medtl_gui.core.inference.segmentation_predict import load_segmentation_run

        tta = options.get("tta", "none")
        if tta not in ("none", "flips"):
            raise ValueError("segmentation runs support test-time augmentation 'none' or 'flips'")
        checkpoint = options.get("checkpoint", "best")
        trained = load_segmentation_run(run_dir, checkpoint)
        project = open_project_folder(location)
        try:
            images = segmentation_from_project(project, split, trained.label_names)
            return evaluate_segmentation_run(run_dir, images, threshold=options.get("threshold"),
                                             device=options.get("device", "auto"), checkpoint=checkpoint,
                                             flips=tta == "flips")
        finally:
            project.close()

    def predict_project(self, run_dir: str | Path, project: Any, image_ids: list[int] | None = None, *,
                        checkpoint: str = "best", device: str = "auto", flips: bool = False, progress: Any = None,
                        cancel: Any = None) -> Any:
        from medtl_gui.core.inference.segmentation_predict import load_segmentation_run, predict_project_masks

        trained = load_segmentation_run(run_dir, checkpoint)
        return predict_project_masks(project, trained, image_ids, device=device, flips=flips, progress=progress,
                                     cancel=cancel)

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        lines = [f"{result['data']} ({result['n_images']} images, {result['n_cases']} cases), run {result['run']}"
                 + (" (inside the field of view)" if result["inside_fov"] else "")]
        for key in ("dice", "iou", "auc", "sensitivity", "specificity", "accuracy", "dice_pooled", "auc_pooled"):
            if result.get(key) is not None:
                lines.append(f"  {key:18s} {result[key]:.4f}")
        lines += [f"  case {case['case']:>8s}: dice {case['dice']:.4f}, iou {case['iou']:.4f}"
                  for case in result["per_case"]]
        return lines


SEGMENTATION = SegmentationTask()
