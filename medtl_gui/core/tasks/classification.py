"""Image classification (and regression, the same networks with a regression head) as a registered task.

Data: a project's labelled images or a MedMNIST-style ``.npz``
(:mod:`medtl_gui.core.data.sources`). Training: whole images through the
model zoo's networks (:mod:`medtl_gui.core.training.run_setup`), cached
backbone features for feature extraction, class-weighted loss or balanced
sampling for imbalance, LwF or L2-SP retention, domain adaptation.
Figures: accuracy, balanced accuracy, AUC, F1, confusion matrix per epoch;
the decision threshold chosen on validation; the test report with
bootstrap intervals (:mod:`medtl_gui.core.training.run_report`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from medtl_gui.core.tasks.base import EpochValidation, Prepared, Task

#: the head each config task value of this task trains
HEAD_KINDS = {"classification": "classification", "regression": "regression"}


def head_kind(config: Any) -> str:
    """"classification" (class probabilities) or "regression" (values) for a config of this task."""
    return HEAD_KINDS[config.task]


class ClassificationTask(Task):
    """Classification; a config with ``task="regression"`` trains the same way with a regression head."""

    name = "classification"
    names = ("classification", "regression")
    title = "Classification"
    titles = {"classification": "Classification", "regression": "Regression"}
    capabilities = {"classification": frozenset({"ensemble", "export", "continue", "headline", "unit_metrics"}),
                    "regression": frozenset({"export"})}
    curve_metrics = {"classification": ("val_auc", "val_accuracy", "val_balanced_accuracy", "val_f1"),
                     "regression": ("val_mae", "val_mse")}
    config_section = {"domain_adaptation": "none"}
    summary_keys = ("accuracy", "balanced_accuracy", "auc", "f1", "mae")
    checks_module = "medtl_gui.core.tasks.classification_checks"
    report_parts = {"collect": "medtl_gui.core.reporting.report_data:collect_classification",
                    "sections": "medtl_gui.core.reporting.html_report:classification_sections",
                    "titles": "medtl_gui.core.reporting.html_report:CLASSIFICATION_SECTIONS",
                    "key_figures": "medtl_gui.core.reporting.html_report:CLASSIFICATION_KEY_FIGURES"}
    retentions = ("l2sp", "lwf")

    def single_process_reason(self, config: Any) -> str | None:
        from medtl_gui.core.training.strategies import get_strategy

        if get_strategy(config.strategy).uses_feature_cache and config.cache_features:
            return "feature extraction with cached features runs in a single process (it is already fast)"
        return None

    # ------------------------------------------------------------------ config and recipes
    def config_problems(self, config: Any) -> list[tuple[str, str]]:
        from medtl_gui.core.models.zoo import MODEL_ZOO

        problems = super().config_problems(config)
        if config.model not in MODEL_ZOO:
            problems.append(("model", f"unknown model {config.model!r}; available: {', '.join(MODEL_ZOO)}"))
        if config.domain_adaptation != "none" and head_kind(config) == "regression":
            problems.append(("domain_adaptation", "is available for classification only"))
        return problems

    def default_config(self, data: Any = None, *, recipe: str | None = None, store: Any = None,
                       **overrides: Any) -> tuple[Any, str]:
        from medtl_gui.core.training.recipe_choice import choose_recipe_for_data
        from medtl_gui.core.training.recipes import DEFAULT_RECIPE

        choice = choose_recipe_for_data(recipe or DEFAULT_RECIPE, data, store=store, **overrides)
        return choice.config, choice.reason or ""

    def preset_choice(self, preset: Any, task_value: str, n_train: int | None, *, store: Any = None,
                      runs_dir: Any = None, **overrides: Any) -> Any:
        from medtl_gui.core.training.presets import GUI_VALIDATION_SAMPLES
        from medtl_gui.core.training.recipe_choice import choose_recipe

        return choose_recipe(preset.recipe, store=store, n_train=n_train, task=task_value, runs_dir=runs_dir,
                             **({"validation_samples": GUI_VALIDATION_SAMPLES} | overrides))

    # ------------------------------------------------------------------ data
    def open_data(self, location: str | Path, config: Any = None) -> Any:
        from medtl_gui.core.data.sources import open_data_source

        return open_data_source(location)

    # ------------------------------------------------------------------ training
    def prepare(self, config: Any, data: Any, store: Any) -> Prepared:
        from medtl_gui.core.training.domain_adaptation import prepare_domain_data
        from medtl_gui.core.training.run_setup import build_run_model, resolve_settings

        data = prepare_domain_data(config, data)  # domain adaptation: source splits + target images
        settings = resolve_settings(config, data)
        return Prepared(data, settings, build_run_model(config, settings, store))

    def config_sections(self, run: Any) -> dict[str, Any]:
        settings, data = run.settings, run.data
        from medtl_gui.core.training.run_setup import preprocessing_for

        prep = preprocessing_for(run.bundle, run.settings)
        splits = {"train": settings.train, "val": settings.val, "test": settings.test}
        return {
            "model": {"head_kind": run.bundle.head_kind},
            "preprocessing": asdict(prep) | {"fingerprint": prep.fingerprint()},
            "data": {
                "source": data.source,
                "class_names": data.class_names,
                "counts": {name: (s.class_counts().tolist() if s.class_names else len(s))
                           for name, s in splits.items() if s is not None},
                "splits": {name: s.ids for name, s in splits.items() if s is not None},
            },
        }

    def scope_images(self, run: Any) -> tuple[list, list]:
        return run.settings.train.ids, [item.load for item in run.settings.train]

    def messages(self, run: Any) -> list[tuple[str, str]]:
        s, c = run.settings, run.config
        out = []
        if s.imbalance != "none" and c.imbalance == "auto":
            counts = s.train.class_counts().tolist()
            out.append((f"training classes are imbalanced {counts}: using {s.imbalance.replace('_', ' ')}", "info"))
        if s.val_held_out_of_train:
            out.append((f"no validation split: held out {len(s.val)} training images for validation", "info"))
        if s.val is None:
            out.append(("no validation images: the last epoch is kept as best", "warning"))
        if s.strategy.uses_feature_cache and c.cache_features and c.augmentation != "none":
            out.append(("feature extraction with cached features: augmentation is not applied", "info"))
        return out

    def batches(self, run: Any) -> Any:
        from medtl_gui.core.training import distributed as ddp
        from medtl_gui.core.training.device import loader_workers
        from medtl_gui.core.training.events import Message
        from medtl_gui.core.training.feature_cache import FeatureCache
        from medtl_gui.core.training.run_data import FeatureBatches

        s, c = run.settings, run.config
        splits = {"train": s.train, "val": s.val, "test": s.test}
        from medtl_gui.core.training.run_setup import preprocessing_for

        prep = preprocessing_for(run.bundle, run.settings)
        balanced = s.imbalance == "balanced_sampler"
        if s.strategy.uses_feature_cache and c.cache_features and not ddp.is_distributed():
            cache = FeatureCache(run.data.cache_dir)
            return FeatureBatches(splits, prep, c.batch_size, c.seed, balanced, run.model, run.plan,
                                  f"{run.bundle.weights_id}:{c.seed if run.bundle.weights is None else ''}",
                                  cache, progress=lambda text: run.emit(Message(text)))
        batches = ddp.image_batches(splits, prep, c.augmentation, c.batch_size,
                                    loader_workers(c.num_workers, run.plan.device), c.seed, balanced)
        for text in batches.messages:  # training images removed while they were being read
            run.emit(Message(text, "warning"))
        return batches

    def loss(self, run: Any) -> Any:
        import torch

        from medtl_gui.core.data.sampling import inverse_frequency_weights
        from medtl_gui.core.training.losses import TaskLoss

        s, c = run.settings, run.config
        class_weights = None
        if s.imbalance == "weighted_loss":
            class_weights = torch.tensor(inverse_frequency_weights(s.train.class_counts()), dtype=torch.float32)
        return TaskLoss(run.bundle.head_kind, class_weights, c.label_smoothing, c.regression_loss)

    def validate(self, run: Any, runner: Any, loader: Any) -> EpochValidation:
        from medtl_gui.core.training import distributed as ddp
        from medtl_gui.core.training.epoch_loop import predict
        from medtl_gui.core.training.run_report import flat_metrics, split_metrics

        predictions = ddp.gather_predictions(predict(runner, loader))
        metrics = split_metrics(predictions, run.class_names, run.config.threshold)
        return EpochValidation(flat_metrics("val", metrics), metrics.get("confusion_matrix"), predictions)

    def validation_event(self, run: Any, epoch: int, validation: EpochValidation, sample_at: list[int]) -> Any:
        from medtl_gui.core.training.events import ValidationSamples
        from medtl_gui.core.training.run_report import validation_samples

        return ValidationSamples(epoch, validation_samples(run.settings.val, validation.predictions, sample_at,
                                                           run.config.threshold))

    def report_fields(self, run: Any) -> dict[str, Any]:
        return {"threshold_policy": run.config.threshold_policy, "decision_threshold": run.config.threshold}

    def evaluate_best(self, run: Any, runner: Any, batches: Any, report: dict[str, Any]) -> None:
        from medtl_gui.core.training import distributed as ddp
        from medtl_gui.core.training.epoch_loop import predict
        from medtl_gui.core.training.run_report import choose_threshold, split_metrics, test_report

        c = run.config
        val_loader = batches.eval_loader("val")
        val = ddp.gather_predictions(predict(runner, val_loader)) if val_loader is not None else None
        threshold = choose_threshold(c.threshold_policy, c.threshold, val, run.class_names)
        report["decision_threshold"] = threshold
        if val is not None:
            report["val"] = split_metrics(val, run.class_names, threshold)
        test_loader = batches.eval_loader("test")
        if test_loader is not None:
            report["test"] = test_report(ddp.gather_predictions(predict(runner, test_loader)), run.class_names,
                                         threshold, c.seed)

    # ------------------------------------------------------------------ after training
    def evaluate_run(self, run_dir: str | Path, location: str | Path, split: str, **options: Any) -> dict[str, Any]:
        """Options: threshold, confidence_intervals, device, checkpoint, tta, domain ("source"/"target")."""
        from medtl_gui.core.evaluation.run_evaluation import evaluate_run

        data = self.open_data(location)
        images = data.split(split)  # KeyError names a missing split
        checkpoint = options.get("checkpoint", "best")
        if options.get("domain") is not None:
            from medtl_gui.core.training.domain_adaptation import evaluation_inputs_for_domain

            checkpoint, images = evaluation_inputs_for_domain(run_dir, options["domain"], data, images)
        return evaluate_run(run_dir, images, threshold=options.get("threshold"),
                            confidence_intervals=options.get("confidence_intervals", True),
                            device=options.get("device", "auto"), checkpoint=checkpoint,
                            tta=options.get("tta", "none"))

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        lines = [f"{result['data']} ({result['n']} images), run {result['run']}"]
        for key in ("accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "auc", "mae", "mse"):
            if key in result and result[key] is not None:
                interval = result.get("ci95", {}).get(key)
                ci = f"  [{interval[0]:.4f}, {interval[1]:.4f}]" if interval and interval[0] is not None else ""
                lines.append(f"  {key:18s} {result[key]:.4f}{ci}")
        if "confusion_matrix" in result:
            lines.append(f"  confusion matrix (rows true {result['class_names']}): {result['confusion_matrix']}")
        if result.get("members"):
            from medtl_gui.core.inference.ensemble_evaluation import member_table

            lines += ["members and ensemble side by side:", *member_table(result)]
        return lines


CLASSIFICATION = ClassificationTask()
