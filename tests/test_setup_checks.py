"""Pre-flight checks and choices in core: the task modules directly, then the generic module through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.tasks import Task, register_task, task_named, unregister_task
from medtl_gui.core.tasks import classification_checks as cls_checks
from medtl_gui.core.tasks import segmentation_checks as seg_checks
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.setup_checks import (
    TASK_TITLES,
    DataSummary,
    NoWeightStore,
    model_choices,
    setup_problems,
    task_titles,
    weight_choices,
)


def _summary(train=(4, 4), masked=None, seg_labels=(), domains=None) -> DataSummary:
    names = ["normal", "lesion"]
    return DataSummary(names, {"train": dict(zip(names, train)), "val": {"normal": 1, "lesion": 1}},
                       dict(masked or {}), list(seg_labels), dict(domains or {"source": 10}))


# ------------------------------------------------------------------------------ classification module
def test_classification_checks_labels_batch_domain_and_input_size_in_order():
    config = TrainConfig(model="resnet18", batch_size=16, image_size=16, domain_adaptation="dann",
                         target_domain="scanner-b")
    problems = cls_checks.setup_problems(config, _summary(train=(4, 1)))
    assert [p.split(" ")[0] for p in problems] == ["Too", "Batch", "Domain", "ResNet-18"]
    assert "'lesion' has 1" in problems[0] and "at least 2" in problems[0]
    assert "Batch size 16 is larger than the 5 labelled training images" in problems[1]
    assert "target domain 'scanner-b' (found 0; domains: source (10))" in problems[2]
    assert problems[3].endswith("needs images of at least 32 px, not 16.")
    fine = TrainConfig(model="resnet18", batch_size=8, image_size=64)
    assert cls_checks.setup_problems(fine, _summary()) == []
    assert cls_checks.setup_problems(fine, DataSummary()) == [
        "The project has no classes: add classes (Edit ▸ Classes…) and label images."]


def test_regression_is_told_that_a_project_holds_class_labels():
    config = TrainConfig(task="regression", model="resnet18", batch_size=64, image_size=16)
    problems = cls_checks.setup_problems(config, _summary(train=(0, 0)))
    assert len(problems) == 2 and "not numeric targets" in problems[0] and "--task regression" in problems[0]
    assert "at least 32 px" in problems[1]  # no label or batch-size complaint: those are classification's


def test_classification_models_data_line_and_weights():
    names = [c.name for c in cls_checks.model_choices()]
    assert "resnet18" in names and "unet" not in names
    assert cls_checks.weights_architecture("resnet18") == "resnet18"
    assert cls_checks.weights_architecture("unet") is None
    summary = _summary(train=(5, 3))
    assert cls_checks.training_images(summary) == 8
    assert cls_checks.describe_data(summary) == "train 8 (normal 5 · lesion 3) · val 2 · test 0 labelled"


# ------------------------------------------------------------------------------ segmentation module
def test_segmentation_checks_masks_step_by_step():
    config = TrainConfig(task="segmentation", model="unet_small", batch_size=64)
    assert "no segmentation labels" in seg_checks.setup_problems(config, _summary(masked={"train": 3}))[0]
    assert "paint masks (Segment menu)" in seg_checks.setup_problems(config, _summary(seg_labels=["l"]))[0]
    one = seg_checks.setup_problems(config, _summary(masked={"train": 1}, seg_labels=["l"]))
    assert one == ["Segmentation needs at least 2 masked images (one to train, one to validate)."]
    # labels, batch size and domains are classification's: a segmentation run ignores them
    assert seg_checks.setup_problems(config, _summary(train=(0, 0), masked={"train": 1, "val": 1},
                                                      seg_labels=["l"])) == []


def test_segmentation_models_weights_and_data_line():
    assert {"unet", "unet_small"} <= {c.name for c in seg_checks.model_choices()}
    assert seg_checks.weights_architecture("unet_small") is None
    assert seg_checks.weights_architecture("resnet18") == "resnet18"  # a U-Net with a ResNet-18 encoder
    assert seg_checks.weights_architecture("no-such-model") is None
    summary = _summary(masked={"train": 3, "val": 2})
    assert seg_checks.training_images(summary) == 3
    assert seg_checks.describe_data(summary) == "train 3 with masks · val 2 with masks · test 0 with masks"
    assert seg_checks.random_init_reason("unet") == "unet is a plain U-Net: it always starts from random weights."


def test_project_data_freezes_the_masks_and_keeps_the_project(demo_project_dir: Path):
    from medtl_gui.core.project import Project

    with Project.open(demo_project_dir) as project:
        splits = seg_checks.project_data(project)
        item = list(splits.train)[0]
        before = np.array(item.load_mask(), copy=True)
        assert before.any()
        project.set_mask(item.id, np.zeros_like(before), user="dr.b")  # painting during the run
        assert np.array_equal(item.load_mask(), before)  # the run still learns from the mask Start found

        labels = cls_checks.project_data(project)
        assert labels.extra["project"] is project and list(labels.class_names) == ["normal", "lesion"]


# ------------------------------------------------------------------------------ generic module, through the registry
def test_task_titles_keep_the_panels_order():
    assert list(TASK_TITLES.items()) == [("classification", "Classification"), ("segmentation", "Segmentation"),
                                         ("regression", "Regression")]


def test_generic_module_asks_the_task():
    assert [c.name for c in model_choices("segmentation")] == [c.name for c in seg_checks.model_choices()]
    summary = _summary(train=(5, 3), masked={"train": 2})
    assert summary.training_images("classification") == 8 and summary.training_images("segmentation") == 2
    assert summary.describe("regression") == cls_checks.describe_data(summary)
    plain = weight_choices(NoWeightStore(), "unet_small", "segmentation")
    assert len(plain) == 1 and plain[0].reason == "unet_small is a plain U-Net: it always starts from random weights."
    encoder = weight_choices(NoWeightStore(), "resnet18", "segmentation")
    assert encoder[0].reason == "Train from random weights: no pretrained file needed."
    assert encoder[1].value == "imagenet" and not encoder[1].enabled  # the encoder's weights, missing from the store


def test_setup_problems_settings_then_task_then_weights():
    config = TrainConfig(model="resnet18", batch_size=64, epochs=0, strategy="feature_extraction")
    problems = setup_problems(config, _summary())
    assert problems[0].startswith("Setting 'epochs'")
    assert problems[1].startswith("Batch size 64")
    assert problems[2].startswith("Feature extraction keeps the backbone frozen")
    assert len(problems) == 3


class _ToyTask(Task):
    name = "toy-setup"
    names = ("toy-setup",)
    title = "Toy"

    def setup_problems(self, config, summary):
        return [f"toy needs more than {self.training_images(summary)}"]

    def training_images(self, summary):
        return 7


@pytest.fixture
def toy_task():
    task = register_task(_ToyTask())
    yield task
    unregister_task(task)


def test_a_registered_task_brings_its_own_checks_and_titles(toy_task):
    assert task_named("toy-setup") is toy_task
    assert task_titles()["toy-setup"] == "Toy"
    config = TrainConfig(task="toy-setup", model="resnet18")
    assert setup_problems(config, DataSummary()) == ["toy needs more than 7"]
    assert DataSummary().training_images("toy-setup") == 7
    only = weight_choices(NoWeightStore(), "resnet18", "toy-setup")  # no hook: no weights fit, default text
    assert [c.value for c in only] == [None] and only[0].reason.startswith("Train from random weights")


def test_medtl_train_asks_the_panels_questions_before_a_run_starts(tmp_path, capsys):
    """One pre-flight for the app and the CLI: the same sentence stops both (here: a class without labels)."""
    from conftest import make_small_project

    from medtl_gui.cli import main
    from medtl_gui.core.project import Project
    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.core.training.setup_checks import setup_problems, summarise_project

    folder = make_small_project(tmp_path, n_images=4)  # one 'lesion' label, no 'normal' one
    code = main(["train", str(folder), "--model", "baseline_cnn", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot start this run" in err
    with Project.open(folder) as project:
        panel = setup_problems(TrainConfig(model="baseline_cnn"), summarise_project(project))
    too_few = next(p for p in panel if p.startswith("Too few labels"))
    assert too_few in err, "the CLI gives the panel's own sentence"
    assert not (folder / "runs").exists() or not any((folder / "runs").iterdir()), "no run folder was made"


def test_images_without_a_split_count_as_training_images_as_the_engine_uses_them():
    """The engine trains on the train split plus the images without a split: the checks count them too."""
    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.core.training.setup_checks import DataSummary, setup_problems

    unassigned_only = DataSummary(["normal", "lesion"], {"unassigned": {"normal": 3, "lesion": 2}},
                                  {"unassigned": 4}, ["vessel"], {})
    assert unassigned_only.training_images("classification") == 5
    assert not [p for p in setup_problems(TrainConfig(model="baseline_cnn", batch_size=4), unassigned_only)
                if p.startswith("Too few labels")]
    assert unassigned_only.training_images("segmentation") == 4
    seg = TrainConfig(task="segmentation", model="unet_small", strategy="full")
    assert setup_problems(seg, unassigned_only) == []
    test_only = DataSummary(["normal", "lesion"], {"test": {"normal": 3, "lesion": 3}}, {"test": 4}, ["vessel"], {})
    assert any(p.startswith("Too few labels") for p in setup_problems(TrainConfig(model="baseline_cnn"), test_only))
    assert any("No image of the training split" in p for p in setup_problems(seg, test_only)), \
        "test images never train"
