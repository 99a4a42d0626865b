"""Strategies freeze and unfreeze exactly the stages they claim; retention losses pull as claimed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from medtl_gui.core.data.synthetic import synthetic_splits
from medtl_gui.core.models.builder import build_model
from medtl_gui.core.models.weights import WeightStore
from medtl_gui.core.training import STRATEGIES, TrainConfig, get_strategy, list_strategies, train
from medtl_gui.core.training.device import plan_execution
from medtl_gui.core.training.epoch_loop import StepRunner
from medtl_gui.core.training.freezing import apply_trainable_stages, set_training_mode, stage_parameter_groups
from medtl_gui.core.training.losses import TaskLoss
from medtl_gui.core.training.optimisation import build_optimizer, build_scheduler
from medtl_gui.core.training.retention import L2SPPenalty, LwFDistillation


def _runner(model, lr: float = 1e-2) -> StepRunner:
    groups = stage_parameter_groups(model, lr, 1.0, 0.0)
    optimizer = build_optimizer("sgd", groups, lr, 0.0, 0.0)
    return StepRunner(model, plan_execution("cpu", "fp32", False), TaskLoss(model.head_kind), optimizer,
                      build_scheduler(optimizer, "constant", 10, 0))


def _grad_state(model) -> dict[str, str]:
    """Per stage: 'none' (all grads None), 'nonzero' (all have non-zero grads) or 'mixed'."""
    states = {}
    for name, stage in model.stages():
        grads = [p.grad for p in stage.parameters()]
        if all(g is None for g in grads):
            states[name] = "none"
        elif all(g is not None and bool(g.abs().sum() > 0) for g in grads):
            states[name] = "nonzero"
        else:
            states[name] = "mixed"
    return states


def test_registry_lists_documented_strategies() -> None:
    names = [s.name for s in list_strategies()]
    assert names == ["feature_extraction", "finetune_last_n", "full", "gradual_unfreezing", "l2sp", "lwf"]
    for strategy in list_strategies():
        assert strategy.title and len(strategy.description) > 40
    with pytest.raises(KeyError, match="available"):
        get_strategy("freeze_everything")


@pytest.mark.parametrize(
    ("strategy", "epoch", "expected_trainable"),
    [
        ("feature_extraction", 0, ["head"]),
        ("feature_extraction", 5, ["head"]),
        ("finetune_last_n", 0, ["layer3", "layer4", "head"]),
        ("full", 0, ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
        ("gradual_unfreezing", 0, ["head"]),
        ("gradual_unfreezing", 1, ["layer4", "head"]),
        ("gradual_unfreezing", 2, ["layer3", "layer4", "head"]),
        ("gradual_unfreezing", 9, ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
        ("l2sp", 0, ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
        ("lwf", 0, ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
    ],
)
def test_gradients_reach_exactly_the_trainable_stages(strategy: str, epoch: int, expected_trainable: list[str]) -> None:
    torch.manual_seed(0)
    model = build_model("resnet18", n_classes=3, in_channels=1).model
    config = TrainConfig(strategy=strategy, trainable_stages=2, unfreeze_every=1)
    first = STRATEGIES[strategy].first_trainable_stage(len(model.stages()), epoch, config)
    assert apply_trainable_stages(model, first) == expected_trainable
    set_training_mode(model, first)
    runner = _runner(model)
    runner.optimizer.zero_grad(set_to_none=True)
    runner.loss(torch.randn(4, 1, 32, 32), torch.tensor([0, 1, 2, 0])).backward()
    states = _grad_state(model)
    assert states == {name: ("nonzero" if name in expected_trainable else "none") for name in states}
    # frozen stages are in eval mode: their batch-norm statistics do not move
    for name, stage in model.stages():
        assert stage.training == (name in expected_trainable)


def test_discriminative_learning_rates_decay_per_stage_from_the_head() -> None:
    model = build_model("resnet18", n_classes=2, in_channels=1).model
    groups = stage_parameter_groups(model, 1e-3, 0.5, 1e-4)
    lr_of = {g["stage"].split(":")[0]: g["lr"] for g in groups}
    assert lr_of["head"] == pytest.approx(1e-3)
    assert lr_of["layer4"] == pytest.approx(5e-4)
    assert lr_of["stem"] == pytest.approx(1e-3 * 0.5**5)
    assert all(g["weight_decay"] == 0 for g in groups if g["stage"].endswith(":no_decay"))
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


@pytest.fixture
def phantoms(tmp_path: Path):
    return synthetic_splits(tmp_path, n_train=64, n_val=24, n_test=16, size=24)


@pytest.fixture
def pretrained_store(tmp_path: Path) -> WeightStore:
    """A weight store holding randomly initialised baseline_cnn and resnet18 weights posing as pretrained."""
    from medtl_gui.core.models.architectures import build_torchvision_model

    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    torch.manual_seed(123)
    store.add_state_dict("cnn-pre", "baseline_cnn", build_model("baseline_cnn", in_channels=1).model.backbone.state_dict(),
                         source="test", layout="medtl-backbone", in_channels=1)
    store.add_state_dict("r18-pre", "resnet18", build_torchvision_model("resnet18").state_dict(), source="test")
    return store


def _config(**changes) -> TrainConfig:
    base = dict(model="baseline_cnn", pretrained="cnn-pre", epochs=2, batch_size=16, image_size=24,
                precision="fp32", augmentation="none", lr=3e-3)
    return TrainConfig(**(base | changes))


def _stage_changed(run_dir: Path, store: WeightStore, name: str = "cnn-pre") -> dict[str, bool]:
    trained = load_file(str(run_dir / "checkpoints" / "last.safetensors"))
    start = store.load(store.find(name)).state_dict
    changed: dict[str, bool] = {}
    for key, value in start.items():
        stage = key.split(".")[0]
        same = torch.equal(trained[f"backbone.{key}"], value)
        changed[stage] = changed.get(stage, False) or not same
    return changed


def test_finetune_last_n_leaves_earlier_stages_bit_identical(phantoms, pretrained_store, tmp_path: Path) -> None:
    result = train(_config(strategy="finetune_last_n", trainable_stages=1), phantoms,
                   run_dir=tmp_path / "run", weight_store=pretrained_store)
    assert result.status == "completed"
    assert _stage_changed(result.run_dir, pretrained_store) == {
        "block1": False, "block2": False, "block3": False, "block4": True}


def test_gradual_unfreezing_unfreezes_one_stage_per_epoch(phantoms, pretrained_store, tmp_path: Path) -> None:
    stages_per_epoch = []
    result = train(_config(strategy="gradual_unfreezing", epochs=3), phantoms,
                   lambda e: stages_per_epoch.append(e.trainable_stages) if type(e).__name__ == "EpochEnd" else None,
                   run_dir=tmp_path / "run", weight_store=pretrained_store)
    assert stages_per_epoch == [["head"], ["block4", "head"], ["block3", "block4", "head"]]
    assert _stage_changed(result.run_dir, pretrained_store) == {
        "block1": False, "block2": False, "block3": True, "block4": True}


def test_feature_extraction_trains_only_the_head_and_reuses_cached_features(
    phantoms, pretrained_store, tmp_path: Path
) -> None:
    phantoms.cache_dir = tmp_path / "cache"
    messages: list[str] = []
    collect = lambda e: messages.append(e.text) if type(e).__name__ == "Message" else None  # noqa: E731
    first = train(_config(strategy="feature_extraction"), phantoms, collect, run_dir=tmp_path / "a",
                  weight_store=pretrained_store)
    assert any("computing backbone features of 64" in m for m in messages)
    assert not any(_stage_changed(first.run_dir, pretrained_store).values())
    messages.clear()
    second = train(_config(strategy="feature_extraction", lr=1e-2), phantoms, collect, run_dir=tmp_path / "b",
                   weight_store=pretrained_store)
    assert second.status == "completed"
    assert not any("computing backbone features" in m for m in messages), "features should come from the cache"
    assert list((tmp_path / "cache" / "features").glob("*.safetensors"))
    # a different preprocessing is a different cache entry
    messages.clear()
    train(_config(strategy="feature_extraction", image_size=32), phantoms, collect, run_dir=tmp_path / "c",
          weight_store=pretrained_store)
    assert any("computing backbone features of 64" in m for m in messages)


def test_l2sp_pulls_weights_toward_the_pretrained_ones(phantoms, pretrained_store, tmp_path: Path) -> None:
    start = pretrained_store.load(pretrained_store.find("cnn-pre")).state_dict

    def distance(alpha: float) -> float:
        result = train(_config(strategy="l2sp", alpha=alpha, epochs=2, lr=1e-2, optimizer="sgd"), phantoms,
                       run_dir=tmp_path / f"alpha{alpha}", weight_store=pretrained_store)
        trained = load_file(str(result.run_dir / "checkpoints" / "last.safetensors"))
        return sum(float((trained[f"backbone.{k}"] - v).pow(2).sum()) for k, v in start.items()
                   if v.is_floating_point() and "running" not in k) ** 0.5

    free, pulled = distance(0.0), distance(20.0)
    print(f"L2-SP distance to pretrained: alpha=0 {free:.4f}, alpha=20 {pulled:.4f}")
    assert free > 0 and pulled < 0.6 * free


def test_l2sp_penalty_is_zero_at_start_and_grows_with_distance() -> None:
    model = build_model("lenet5", in_channels=1).model
    penalty = L2SPPenalty(model)
    assert float(penalty().detach()) == 0.0
    with torch.no_grad():
        next(model.backbone.parameters()).add_(1.0)
    first = next(model.backbone.parameters())
    assert float(penalty().detach()) == pytest.approx(0.5 * first.numel())


def test_lwf_distillation_is_zero_for_the_pretrained_network_and_trains_the_backbone(
    phantoms, pretrained_store, tmp_path: Path
) -> None:
    weights = pretrained_store.load(pretrained_store.find("r18-pre"))
    bundle = build_model("resnet18", in_channels=1, weights=weights)
    lwf = LwFDistillation(bundle.model, bundle.pretrained_head, temperature=2.0)
    bundle.model.eval()
    images = torch.randn(4, 1, 32, 32)
    assert float(lwf(images, bundle.model.backbone(images)).detach()) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        bundle.model.backbone.layer4[1].conv2.weight.mul_(3.0)
    loss = lwf(images, bundle.model.backbone(images))
    assert float(loss.detach()) > 0
    loss.backward()
    assert bundle.model.backbone.layer4[1].conv2.weight.grad is not None
    result = train(_config(model="resnet18", pretrained="r18-pre", strategy="lwf", epochs=1, image_size=32),
                   phantoms, run_dir=tmp_path / "lwf", weight_store=pretrained_store)
    assert result.status == "completed"
