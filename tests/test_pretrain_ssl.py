"""Self-supervised (SimCLR) in-domain pretraining: loss, views, the run, the weight store, reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.models.weights import WeightsError, WeightStore
from medtl_gui.core.pretraining import PretrainConfig
from medtl_gui.core.pretraining.contrastive import nt_xent_loss
from medtl_gui.core.pretraining.image_sources import open_pretraining_images
from medtl_gui.core.pretraining.ssl_training import pretrain_ssl
from medtl_gui.core.pretraining.views import ContrastiveViews
from medtl_gui.core.training import BatchEnd, ConfigError, EpochEnd, RunControl, RunFinished, RunStarted, TrainConfig
from medtl_gui.core.training.run_setup import build_run_model, resolve_settings


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    return write_synthetic_npz(tmp_path / "tiny.npz", n_train=12, n_val=4, n_test=4, size=16)


def _config(**changes) -> PretrainConfig:
    base = dict(name="tiny-ssl", model="resnet18", image_size=32, epochs=2, batch_size=8, precision="fp32")
    return PretrainConfig(**(base | changes))


def test_nt_xent_matches_the_definition() -> None:
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randn(3, 5, generator=generator), torch.randn(3, 5, generator=generator)
    loss, _ = nt_xent_loss(first, second, temperature=0.5)
    z = torch.nn.functional.normalize(torch.cat([first, second]), dim=1)
    total = 0.0
    for i in range(6):
        positive = (i + 3) % 6
        others = [math.exp(float(z[i] @ z[k]) / 0.5) for k in range(6) if k != i]
        total += -math.log(math.exp(float(z[i] @ z[positive]) / 0.5) / sum(others))
    assert float(loss) == pytest.approx(total / 6, rel=1e-5)
    same, accuracy = nt_xent_loss(first, first, temperature=0.1)
    assert accuracy == 1.0 and float(same) < float(loss)


def test_views_are_random_in_range_reproducible_and_flip_only_when_allowed() -> None:
    images = torch.rand(6, 1, 24, 24)
    views = ContrastiveViews()
    a = views(images, torch.Generator().manual_seed(1))
    b = views(images, torch.Generator().manual_seed(1))
    c = views(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    no_flip = views.geometry(200, torch.Generator().manual_seed(0))
    assert bool((torch.linalg.det(no_flip[:, :, :2]) > 0).all())
    flips = ContrastiveViews(allow_flips=True).geometry(200, torch.Generator().manual_seed(0))
    assert 50 < int((torch.linalg.det(flips[:, :, :2]) < 0).sum()) < 150


def test_ssl_run_stores_a_backbone_that_loads_into_a_classifier(tiny_npz: Path, tmp_path: Path) -> None:
    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    images, source = open_pretraining_images(tiny_npz)
    assert len(images) == 16  # train + val; the test split is left out
    events: list = []
    result = pretrain_ssl(_config(), images, events.append, source_name=source, run_dir=tmp_path / "run",
                          weight_store=store)
    assert result.status == "completed" and result.epochs_completed == 2
    assert [type(e) for e in events if isinstance(e, (RunStarted, RunFinished))] == [RunStarted, RunFinished]
    assert len([e for e in events if isinstance(e, BatchEnd)]) == 2 * 2
    epochs = [e.metrics for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) == 2 and all(math.isfinite(m["train_loss"]) and "contrastive_accuracy" in m for m in epochs)
    run = tmp_path / "run"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((run / "report.json").read_text())["weights"]["name"] == "tiny-ssl"

    entry = store.find("tiny-ssl")
    assert entry is not None and entry.source == "self-supervised (SimCLR) on tiny.npz"
    assert entry.layout == "medtl-backbone" and entry.in_channels == 1
    stored = store.load(entry).state_dict

    data = load_npz_splits(tiny_npz)
    config = TrainConfig(model="resnet18", pretrained="tiny-ssl", image_size=32, epochs=1, precision="fp32")
    bundle = build_run_model(config, resolve_settings(config, data), store)
    backbone = bundle.model.backbone.state_dict()
    assert set(backbone) == set(stored)
    assert all(torch.equal(backbone[key], stored[key]) for key in stored)
    assert bundle.model.backbone.stem[0].weight.shape[1] == 1


def test_cancel_stores_nothing_and_taken_names_fail_before_training(tiny_npz: Path, tmp_path: Path) -> None:
    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    images, source = open_pretraining_images(tiny_npz)
    control = RunControl()

    def cancel_at_first_batch(event) -> None:
        if isinstance(event, BatchEnd):
            control.cancel()

    result = pretrain_ssl(_config(epochs=3), images, cancel_at_first_batch, control, source_name=source,
                          run_dir=tmp_path / "cancelled", weight_store=store)
    assert result.status == "cancelled" and result.weights is None and store.find("tiny-ssl") is None

    store.add_state_dict("taken", "resnet18", {"x": torch.zeros(1)}, source="test", layout="medtl-backbone")
    with pytest.raises(WeightsError, match="already holds weights named 'taken'"):
        pretrain_ssl(_config(name="taken"), images, weight_store=store, run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(ConfigError, match="name"):
        _config(name="bad name!").validate()


def test_ssl_run_keeps_no_best_model_stores_the_final_backbone_and_repeats_itself(tiny_npz: Path,
                                                                                    tmp_path: Path) -> None:
    from medtl_gui.core.runs import RunRecord
    from medtl_gui.core.training.checkpoints import checkpoint_exists, load_model_state

    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    images, source = open_pretraining_images(tiny_npz)
    events: list = []
    result = pretrain_ssl(_config(epochs=3), images, events.append, source_name=source, run_dir=tmp_path / "a",
                          weight_store=store)
    assert result.status == "completed" and result.best_epoch is None
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.is_best for e in ends] == [False] * 3, "no model selection in SimCLR pretraining"
    assert all(0.0 <= e.metrics["contrastive_accuracy"] <= 1.0 for e in ends)
    finished = next(e for e in events if isinstance(e, RunFinished))
    assert finished.best_epoch is None and finished.report["method"] == "ssl"
    record = RunRecord.existing(tmp_path / "a")
    assert not checkpoint_exists(record.checkpoints, "best")
    final = load_model_state(record.checkpoints, "last")  # the network after the last epoch
    stored = store.load(store.find("tiny-ssl")).state_dict
    assert set(stored) == {k.removeprefix("backbone.") for k in final if k.startswith("backbone.")}
    assert all(torch.equal(stored[k], final["backbone." + k].float() if stored[k].is_floating_point()
                           else final["backbone." + k]) for k in stored)
    report = record.read_report()
    assert report["final_loss"] == record.read_metrics()[-1]["train_loss"] == ends[-1].metrics["train_loss"]

    again = pretrain_ssl(_config(epochs=3, name="tiny-ssl-2"), images, source_name=source, run_dir=tmp_path / "b",
                         weight_store=store)
    assert again.report["final_loss"] == report["final_loss"], "seeded views, order and initialisation"
