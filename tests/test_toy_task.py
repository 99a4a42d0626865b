"""A new task in one file: "is this image brighter than the median?" added through the task registry.

Nothing outside this file knows the task: it registers itself, then trains
through ``medtl train`` (explicitly and by claiming its data), is evaluated
through ``medtl evaluate``, and trains through the GUI's worker thread
(``TrainingSession``) on a real project, all with the product's defaults
(bf16 autocast on this CPU). It reuses the library's building blocks (the
model zoo's baseline CNN, the data sources, the run loop's predict) as a
task written by a third party would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medtl_gui.core.tasks import EpochValidation, Prepared, Task, register_task, task_of, unregister_task

SIZE = 28
CLASSES = ["dark", "bright"]


# ------------------------------------------------------------------------------------- the task
class BrightImages:
    """One split: pixel arrays (N, 1, SIZE, SIZE) in [0, 1] and 0/1 targets (brighter than the median)."""

    def __init__(self, ids: list, pixels: np.ndarray, targets: np.ndarray, name: str):
        self.ids, self.pixels, self.targets, self.name = list(ids), pixels, targets, name
        self.class_names = CLASSES

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class BrightData:
    train: BrightImages
    val: BrightImages | None
    test: BrightImages | None
    source: str
    runs_dir: Path | None
    extra: dict

    @property
    def class_names(self) -> list[str]:
        return CLASSES


@dataclass
class BrightSettings:
    strategy: Any
    train: BrightImages
    val: BrightImages | None
    test: BrightImages | None
    image_size: int = SIZE
    in_channels: int = 1
    retention: str = "none"
    alpha: float = 0.0
    lr_decay: float = 1.0
    imbalance: str = "none"
    monitor: str = "val_accuracy"
    monitor_mode: str = "max"
    val_held_out_of_train: bool = False

    def to_json(self) -> dict:
        return {"strategy": self.strategy.name, "image_size": self.image_size, "monitor": self.monitor}


def _pixels(item_load) -> np.ndarray:
    """One image as (SIZE, SIZE) float in [0, 1] (grey, resized by nearest neighbour)."""
    image = np.asarray(getattr(item_load(), "pixels", item_load()), dtype=np.float32)
    if image.ndim == 3:
        image = image.mean(axis=-1)
    rows = np.linspace(0, image.shape[0] - 1, SIZE).round().astype(int)
    cols = np.linspace(0, image.shape[1] - 1, SIZE).round().astype(int)
    image = image[np.ix_(rows, cols)]
    return image / (255.0 if image.max() <= 255.0 else float(image.max()))


def _relabelled(splits: Any, threshold: float | None = None) -> BrightData:
    """Any data source's splits with brightness targets: brighter than the training images' median."""
    arrays = {}
    for name in ("train", "val", "test"):
        images = getattr(splits, name, None)
        if images is None or len(images) == 0:
            continue
        pixels = np.stack([np.asarray(item.load(), dtype=np.float32) / 255.0 for item in images])
        arrays[name] = (images.ids, pixels[:, None, :SIZE, :SIZE])
    means = {name: p.mean(axis=(1, 2, 3)) for name, (_, p) in arrays.items()}
    cut = float(np.median(means["train"])) if threshold is None else threshold
    parts = {name: BrightImages(ids, p, (means[name] > cut).astype(np.int64), name)
             for name, (ids, p) in arrays.items()}
    return BrightData(parts["train"], parts.get("val"), parts.get("test"), str(splits.source),
                      getattr(splits, "runs_dir", None), {"threshold": cut})


class Batches:
    features_mode = False

    def __init__(self, settings: BrightSettings, batch_size: int, seed: int):
        self.settings, self.batch_size, self.seed = settings, batch_size, seed

    def _loader(self, images: BrightImages, shuffle: bool, epoch: int = 0):
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        dataset = TensorDataset(torch.from_numpy(images.pixels), torch.from_numpy(images.targets))
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, generator=generator)

    def train_loader(self, epoch: int):
        return self._loader(self.settings.train, True, epoch)

    def eval_loader(self, split: str):
        images = getattr(self.settings, split)
        return self._loader(images, False) if images is not None else None

    def batches_per_epoch(self) -> int:
        return -(-len(self.settings.train) // self.batch_size)


def _accuracy(predictions) -> float:
    return float((predictions.probabilities.argmax(axis=1) == predictions.targets).mean())


class BrightnessTask(Task):
    name = "brightness"
    names = ("brightness",)
    title = "Brightness"
    summary_keys = ("accuracy",)

    def config_problems(self, config):
        return [] if config.model == "baseline_cnn" else [("model", "the brightness task trains baseline_cnn")]

    def default_config(self, data=None, *, recipe=None, store=None, **overrides):
        from medtl_gui.core.training.config import TrainConfig

        values = dict(task=self.name, model="baseline_cnn", image_size=SIZE, epochs=4, batch_size=16, lr=3e-3,
                      strategy="full", augmentation="none", schedule="constant", warmup_epochs=0)
        return TrainConfig.from_dict(values | overrides), "brightness: a baseline CNN from scratch"

    def claims_data(self, location: Path) -> bool:
        return location.name.endswith(".bright.npz")

    def open_data(self, location, config=None):
        from medtl_gui.core.data.sources import open_data_source

        return _relabelled(open_data_source(location))

    def project_data(self, project):
        from medtl_gui.core.data.project_source import project_splits

        data = _relabelled_project(project_splits(project))
        data.runs_dir = Path(project.folder) / "runs"
        return data

    def prepare(self, config, data, store):
        from medtl_gui.core.models.builder import build_model
        from medtl_gui.core.training.seeding import seed_everything
        from medtl_gui.core.training.strategies import get_strategy

        seed_everything(config.seed)
        settings = BrightSettings(get_strategy(config.strategy), data.train, data.val, data.test)
        return Prepared(data, settings, build_model("baseline_cnn", n_classes=2, in_channels=1))

    def config_sections(self, run):
        return {"data": {"source": run.data.source, "class_names": CLASSES,
                         "threshold": run.data.extra["threshold"],
                         "splits": {n: getattr(run.settings, n).ids for n in ("train", "val", "test")
                                    if getattr(run.settings, n) is not None}}}

    def batches(self, run):
        return Batches(run.settings, run.config.batch_size, run.config.seed)

    def loss(self, run):
        from medtl_gui.core.training.losses import TaskLoss

        return TaskLoss(run.bundle.head_kind)  # two classes: one logit, binary cross-entropy

    def validate(self, run, runner, loader):
        from medtl_gui.core.training.epoch_loop import predict

        predictions = predict(runner, loader)
        return EpochValidation({"val_loss": predictions.loss, "val_accuracy": _accuracy(predictions)})

    def evaluate_best(self, run, runner, batches, report):
        from medtl_gui.core.training.epoch_loop import predict

        for split in ("val", "test"):
            loader = batches.eval_loader(split)
            if loader is not None:
                report[split] = {"accuracy": _accuracy(predict(runner, loader))}

    def evaluate_run(self, run_dir, location, split, **options):
        import torch

        from medtl_gui.core.models.builder import build_model
        from medtl_gui.core.runs import RunRecord
        from medtl_gui.core.training.checkpoints import load_model_state

        record = RunRecord.existing(run_dir)
        data = _relabelled(__import__("medtl_gui.core.data.sources", fromlist=["x"]).open_data_source(location),
                           record.read_config()["data"]["threshold"])
        from medtl_gui.core.training.losses import output_probabilities

        bundle = build_model("baseline_cnn", n_classes=2, in_channels=1)
        bundle.model.load_state_dict(load_model_state(record.checkpoints, options.get("checkpoint", "best")))
        bundle.model.eval()
        images = getattr(data, split)
        with torch.no_grad():
            outputs = bundle.model(torch.from_numpy(images.pixels))
            predicted = output_probabilities(outputs, bundle.head_kind).argmax(dim=1).numpy()
        return {"run": str(run_dir), "n": len(images), "accuracy": float((predicted == images.targets).mean())}


def _relabelled_project(splits):
    """A project's images (any size) at SIZE px, then brightness targets."""

    class Resized:
        def __init__(self, images):
            self.ids, self.name, self._items = images.ids, images.name, list(images)

        def __len__(self):
            return len(self._items)

        def __iter__(self):
            for item in self._items:
                yield type("Item", (), {"load": staticmethod(lambda item=item: _pixels(item.load) * 255.0)})

    class Splits:
        train = Resized(splits.train)
        val = Resized(splits.val) if splits.val is not None and len(splits.val) else None
        test = Resized(splits.test) if splits.test is not None and len(splits.test) else None
        source = splits.source

    return _relabelled(Splits)


@pytest.fixture
def brightness_task():
    task = register_task(BrightnessTask())
    yield task
    unregister_task(task)


def bright_npz(path: Path, n: int = 160, seed: int = 0) -> Path:
    """Noise images whose mean brightness is spread evenly: half above the median, half below."""
    rng = np.random.default_rng(seed)
    levels = rng.uniform(40, 215, n)
    images = np.clip(levels[:, None, None] + rng.normal(0, 25, (n, SIZE, SIZE)), 0, 255).astype(np.uint8)
    labels = np.arange(n, dtype=np.int64) % 2  # the .npz's own labels: ignored by the task
    half, quarter = n // 2, n // 4
    np.savez(path, train_images=images[:half], train_labels=labels[:half, None],
             val_images=images[half:half + quarter], val_labels=labels[half:half + quarter, None],
             test_images=images[half + quarter:], test_labels=labels[half + quarter:, None])
    return path


# ------------------------------------------------------------------------------------- the tests
def test_toy_task_trains_and_evaluates_through_the_cli(brightness_task, tmp_path, capsys):
    from medtl_gui.cli import main

    data = bright_npz(tmp_path / "noise.bright.npz")
    run = tmp_path / "run"
    # no --task: the registry asks each task whether it claims the data (the file name, here)
    assert main(["train", str(data), "--run-dir", str(run), "--json", "--quiet", "--epochs", "6"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "completed" and report["task"] == "brightness"
    assert report["test"]["accuracy"] >= 0.8, report  # brightness is easy: a real model learnt it
    assert task_of(run) is brightness_task, "the run folder records its task"
    from medtl_gui.core.runs import RunRecord

    record = RunRecord.existing(run)
    assert record.read_config()["config"]["precision"] == "auto"
    assert record.read_config()["execution"]["precision"] == "bf16", "the product's default on this CPU"
    epochs = record.read_metrics()
    assert len(epochs) == 6 and all("val_accuracy" in e for e in epochs)

    assert main(["evaluate", str(data), "--run", str(run), "--split", "test", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["n"] == 40
    assert evaluated["accuracy"] == pytest.approx(report["test"]["accuracy"]), "the best checkpoint, re-loaded"

    assert main(["train", str(data), "--task", "brightness", "--model", "resnet18", "--run-dir",
                 str(tmp_path / "other")]) == 2, "the task's own config check refuses other models"
    assert "brightness task trains baseline_cnn" in capsys.readouterr().err


def test_toy_task_trains_through_the_gui_worker(brightness_task, qtbot, demo_project_dir, tmp_path):
    from medtl_gui.core.project import Project
    from medtl_gui.gui.training.training_session import TrainingSession
    from medtl_gui.gui.training.worker import TrainRequest

    config, _ = brightness_task.default_config(epochs=2, batch_size=4)
    session = TrainingSession()
    epochs = []
    session.epoch_finished.connect(epochs.append)
    with Project.open(demo_project_dir) as project:
        with qtbot.waitSignal(session.finished, timeout=180_000) as finished:
            session.start(TrainRequest(config=config, project=project, run_dir=tmp_path / "gui-run", threads=1))
        outcome = finished.args[0]
    assert outcome.status == "completed", outcome.error
    assert len(epochs) == 2 and "val_accuracy" in epochs[-1].metrics
    assert task_of(tmp_path / "gui-run") is brightness_task
    assert outcome.report["task"] == "brightness"
    assert 0.0 <= outcome.report["val"]["accuracy"] <= 1.0, "the best model's figures on the project's val split"
