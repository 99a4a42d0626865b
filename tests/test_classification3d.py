"""3D classification (issue 16): volumes found from the data, trained and evaluated through the CLI.

Synthetic volumes (a bright blob in the aneurysm-like class) train with the
product's defaults (bf16 autocast on this CPU) through ``medtl train``
without ``--task`` and are evaluated through ``medtl evaluate``; the 3D
networks' stages freeze with ``finetune_last_n``; 3D augmentation keeps the
label and changes the volume. Real VesselMNIST3D checks skip without
../shared/data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.tasks import TASKS, register_task, task_for_data, task_of, unregister_task
from medtl_gui.core.tasks.classification3d import CLASSIFICATION3D

ROOT = Path(__file__).resolve().parents[1]
VESSEL = ROOT.parent / "shared" / "data" / "medmnist3d" / "vesselmnist3d.npz"


@pytest.fixture(autouse=True)
def task_3d():
    """The task, registered for the test when the package does not register it (yet)."""
    added = TASKS.get("classification3d") is not CLASSIFICATION3D
    if added:
        register_task(CLASSIFICATION3D)
    yield CLASSIFICATION3D
    if added:
        unregister_task(CLASSIFICATION3D)


def blob_volumes(path: Path, n: int = 40, size: int = 16, seed: int = 0) -> Path:
    """Noise volumes; every second one holds a bright 4^3 blob somewhere (label 1). Splits 20 / 10 / 10."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    volumes = rng.normal(60, 15, (n, size, size, size))
    for i in np.flatnonzero(labels):
        c = rng.integers(4, size - 4, 3)
        volumes[i, c[0] - 2:c[0] + 2, c[1] - 2:c[1] + 2, c[2] - 2:c[2] + 2] += 120
    volumes = np.clip(volumes, 0, 255).astype(np.uint8)
    a, b = n // 2, 3 * n // 4
    np.savez(path, train_images=volumes[:a], train_labels=labels[:a, None], val_images=volumes[a:b],
             val_labels=labels[a:b, None], test_images=volumes[b:], test_labels=labels[b:, None])
    return path


def test_volumes_are_claimed_and_2d_images_are_not(tmp_path):
    from medtl_gui.core.tasks.volume_data import is_volume_npz

    volumes = blob_volumes(tmp_path / "blobs.npz")
    assert is_volume_npz(volumes) and task_for_data(volumes) is CLASSIFICATION3D
    grey = tmp_path / "grey.npz"
    np.savez(grey, train_images=np.zeros((4, 16, 16), np.uint8), train_labels=np.array([0, 1, 0, 1]))
    colour = tmp_path / "colour.npz"
    np.savez(colour, train_images=np.zeros((4, 16, 16, 3), np.uint8), train_labels=np.array([0, 1, 0, 1]))
    for path in (grey, colour, tmp_path / "missing.npz"):
        assert not is_volume_npz(path)
        assert task_for_data(path).name == "classification"


def test_a_volume_npz_with_a_lying_header_is_refused_before_it_is_read(tmp_path, capsys):
    import io
    import zipfile

    from medtl_gui.cli import main

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (100_000, 1000, 1000, 1000)})
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train_images.npy", header.getvalue())
        archive.writestr("train_labels.npy", header.getvalue())
    assert task_for_data(path) is CLASSIFICATION3D, "the header says volumes"
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    assert "declares an array of shape" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_3d_run_trains_and_evaluates_through_the_cli(tmp_path, capsys):
    from medtl_gui.cli import main
    from medtl_gui.core.runs import RunRecord

    data = blob_volumes(tmp_path / "blobs.npz")
    run = tmp_path / "run"
    # no --task: the volumes are claimed by the 3D task; the product's defaults otherwise (precision auto)
    assert main(["train", str(data), "--run-dir", str(run), "--json", "--quiet", "--epochs", "8",
                 "--batch-size", "8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "completed" and report["task"] == "classification3d"
    assert report["monitor"] == "val_auc" and report["class_names"] == ["class_0", "class_1"]
    assert report["test"]["auc"] >= 0.9, report["test"]  # a bright blob is easy: a real 3D model learnt it
    assert set(report["test"]["ci95"]) >= {"accuracy", "balanced_accuracy", "auc"}
    assert task_of(run) is CLASSIFICATION3D
    record = RunRecord.existing(run)
    saved = record.read_config()
    assert saved["config"]["precision"] == "auto" and saved["execution"]["precision"] == "bf16"
    assert saved["model"]["architecture"] == "cnn3d_small" and saved["model"]["stages"][-1] == "head"
    assert saved["preprocessing"]["shape"] == [16, 16, 16] and saved["data"]["counts"]["train"] == [10, 10]
    epochs = record.read_metrics()
    assert len(epochs) == 8 and all("val_auc" in e and "val_balanced_accuracy" in e for e in epochs)

    assert main(["evaluate", str(data), "--run", str(run), "--split", "test", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["n"] == 10 and evaluated["checkpoint"] == "best"
    assert evaluated["auc"] == pytest.approx(report["test"]["auc"], abs=1e-6), "the best checkpoint, re-loaded"
    assert evaluated["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert main(["evaluate", str(data), "--run", str(run), "--split", "val", "--tta", "flips", "--no-ci"]) == 0
    assert "balanced_accuracy" in capsys.readouterr().out

    assert main(["train", str(data), "--model", "resnet18", "--run-dir", str(tmp_path / "other")]) == 2
    assert "unknown 3D model 'resnet18'" in capsys.readouterr().err
    # what 3D runs cannot do yet is refused in one line naming the run (exit 2), never a traceback
    assert main(["predict", str(data), "--run", str(run)]) == 2
    assert "cannot predict scans yet" in capsys.readouterr().err
    assert main(["report", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "r.html")]) == 2
    assert "writes no report" in capsys.readouterr().err


def test_3d_models_freeze_their_stages_with_finetune_last_n():
    import torch

    from medtl_gui.core.models.volume_models import build_volume_model
    from medtl_gui.core.training.freezing import apply_trainable_stages
    from medtl_gui.core.training.strategies import get_strategy

    config = type("C", (), {"trainable_stages": 1})()
    for name, expected in (("cnn3d_small", ["stem", "block1", "block2", "block3", "head"]),
                           ("resnet18_3d", ["stem", "layer1", "layer2", "layer3", "layer4", "head"])):
        model = build_volume_model(name, head_kind="binary", n_classes=2).model
        assert model.stage_names() == expected
        first = get_strategy("finetune_last_n").first_trainable_stage(len(expected), 0, config)
        assert apply_trainable_stages(model, first) == expected[-2:]
        frozen = [p.requires_grad for _, stage in model.stages()[:first] for p in stage.parameters()]
        assert frozen and not any(frozen)
        outputs = model(torch.randn(2, 1, 16, 16, 16))
        assert outputs.shape == (2, 1)
        outputs.sum().backward()
        assert model.stages()[0][1].parameters().__next__().grad is None
        assert model.head[-1].weight.grad is not None
        model.to(memory_format=torch.channels_last)  # the run loop's channels-last request suits 5-D weights


def test_3d_augmentation_keeps_the_label_and_changes_the_volume():
    import torch

    from medtl_gui.core.tasks.volume_batches import VolumeAugmentation, VolumeBatches
    from medtl_gui.core.tasks.volume_data import VolumePreprocessing, Volumes

    rng = np.random.default_rng(1)
    volumes = Volumes(rng.integers(0, 255, (6, 12, 12, 12)).astype(np.uint8), np.array([0, 1, 0, 1, 0, 1]),
                      ["vessel", "aneurysm"], "x.npz:train")
    prep = VolumePreprocessing.fit(volumes)
    batches = VolumeBatches({"train": volumes}, prep, "standard", 6, seed=0)
    plain = prep.tensor(volumes.volumes)
    inputs, targets = next(iter(batches.train_loader(0)))
    order = batches.train_loader(0).order
    assert targets.tolist() == volumes.targets[order.numpy()].tolist(), "labels follow their volumes"
    assert not torch.allclose(inputs, plain[order]), "augmentation changed the volumes"
    flips = VolumeAugmentation(flips=True, intensity=0.0)
    flipped = flips(plain, torch.Generator().manual_seed(3))
    for original, out in zip(plain, flipped):  # each output is its own volume flipped along some axes
        candidates = [original.flip(d) if d else original for d in
                      ((), (1,), (2,), (3,), (1, 2), (1, 3), (2, 3), (1, 2, 3))]
        assert any(torch.equal(out, c) for c in candidates)
    assert not torch.equal(flipped, plain)
    again, _ = next(iter(batches.train_loader(0)))
    assert torch.equal(again, inputs), "seeded per epoch"
    assert VolumeAugmentation.preset("none") is None


def test_3d_config_problems_are_named():
    from medtl_gui.core.training.config import ConfigError, TrainConfig

    config, note = CLASSIFICATION3D.default_config()
    assert config.task == "classification3d" and "cnn3d_small" in note
    with pytest.raises(ConfigError, match="no pretrained 3D weights"):
        TrainConfig.from_dict(config.to_dict() | {"pretrained": "imagenet"})
    with pytest.raises(ConfigError, match="offers full"):
        TrainConfig.from_dict(config.to_dict() | {"strategy": "lwf"})
    with pytest.raises(NotImplementedError, match="projects holding volumes"):
        CLASSIFICATION3D.project_data(object())


@pytest.mark.skipif(not VESSEL.is_file(), reason="VesselMNIST3D not found at ../shared/data/medmnist3d")
def test_vesselmnist3d_reads_with_its_class_names():
    from medtl_gui.core.tasks.volume_data import is_volume_npz, load_volume_npz

    assert is_volume_npz(VESSEL) and task_for_data(VESSEL) is CLASSIFICATION3D
    data = load_volume_npz(VESSEL)
    assert data.class_names == ["vessel", "aneurysm"]
    assert (len(data.train), len(data.val), len(data.test)) == (1335, 191, 382)
    assert data.train.class_counts().tolist() == [1185, 150] and data.train.volumes.shape[1:] == (28, 28, 28)
