"""Domain adaptation core: gradient reversal, AdaBN, DSBN routing, and tiny DANN/AdaBN/DSBN runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.target_domain import load_target_npz, with_target_npz
from medtl_gui.core.models.builder import build_model
from medtl_gui.core.models.dsbn import (
    DomainSpecificBatchNorm2d,
    convert_to_dsbn,
    plain_state_dict,
    route_domain,
    set_domain,
)
from medtl_gui.core.training import EpochEnd, TrainConfig, train
from medtl_gui.core.training.config import ConfigError
from medtl_gui.core.training.domain_adaptation import (
    GradientReversal,
    adapt_batch_norm,
    checkpoint_for_domain,
    dann_lambda,
    reverse_gradient,
)

from conftest import save_splits_npz


# --------------------------------------------------------------------------- gradient reversal
def test_gradient_reversal_is_identity_forward_and_negates_scaled_gradient_backward() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    weights = torch.randn(5, 3)
    y = reverse_gradient(x, 0.3)
    assert torch.equal(y, x)
    (y * weights).sum().backward()
    assert torch.allclose(x.grad, -0.3 * weights)

    layer = GradientReversal(2.0)
    x2 = torch.randn(4, requires_grad=True)
    out = layer(x2)
    assert torch.equal(out, x2)
    (out ** 2).sum().backward()
    assert torch.allclose(x2.grad, -2.0 * 2 * x2.detach())


def test_dann_lambda_schedule() -> None:
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(2.0) == dann_lambda(1.0)  # clipped
    values = [dann_lambda(p / 10) for p in range(11)]
    assert values == sorted(values)


# --------------------------------------------------------------------------- AdaBN
def _tiny_model():
    torch.manual_seed(0)
    return build_model("baseline_cnn", task="classification", n_classes=2, in_channels=1, head_dropout=0.5).model


def test_adabn_changes_only_batch_norm_running_statistics() -> None:
    model = _tiny_model()
    model.train()
    with torch.no_grad():  # give the BN layers some source statistics
        for _ in range(3):
            model(torch.rand(8, 1, 24, 24))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    target = [torch.rand(8, 1, 24, 24) * 3 + 2 for _ in range(3)]  # a brighter, wider "scanner"
    seen = adapt_batch_norm(model, target)
    assert seen == 24
    assert not model.training  # mode restored
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "AdaBN changed nothing"
    assert all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed), changed
    assert any(k.endswith("running_mean") for k in changed) and any(k.endswith("running_var") for k in changed)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name]), name
    # the new statistics are the target's: the first BN's mean is the mean of its input over the target images
    first_bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert float(first_bn.running_mean.abs().sum()) > 0


# --------------------------------------------------------------------------- DSBN
def test_dsbn_routes_by_domain_and_source_path_equals_plain_model() -> None:
    plain = _tiny_model().eval()
    dsbn = _tiny_model()
    dsbn.load_state_dict(plain.state_dict())
    n = convert_to_dsbn(dsbn.backbone)
    assert n == sum(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert convert_to_dsbn(dsbn.backbone) == 0  # idempotent
    # different statistics for the target BN layers
    dsbn.train()
    with torch.no_grad(), route_domain(dsbn, "target"):
        for _ in range(5):
            dsbn.backbone(torch.rand(8, 1, 24, 24) * 4 + 1)
    dsbn.eval()
    x = torch.rand(4, 1, 24, 24)
    with torch.no_grad():
        source_out = dsbn(x)
        with route_domain(dsbn, "target"):
            target_out = dsbn(x)
        plain_out = plain(x)
    assert torch.allclose(source_out, plain_out, atol=1e-6)
    assert not torch.allclose(source_out, target_out, atol=1e-3)
    layer = next(m for m in dsbn.modules() if isinstance(m, DomainSpecificBatchNorm2d))
    assert layer.domain == 0  # routed back to source after the block
    # the plain state dicts: source equals the original; target loads into a plain model and reproduces the route
    state = dsbn.state_dict()
    source_state = plain_state_dict(state, "source")
    assert set(source_state) == set(plain.state_dict())
    assert all(torch.equal(source_state[k], v) for k, v in plain.state_dict().items())
    target_model = _tiny_model().eval()
    target_model.load_state_dict(plain_state_dict(state, "target"))
    with torch.no_grad():
        assert torch.allclose(target_model(x), target_out, atol=1e-5)
    with pytest.raises(ValueError):
        set_domain(dsbn, 5)


# --------------------------------------------------------------------------- tiny runs
def _tiny_npz(path: Path, n: int, seed: int, shift: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    images = rng.normal(90, 20, size=(n, 24, 24))
    yy, xx = np.mgrid[:24, :24]
    blob = ((yy - 12) ** 2 + (xx - 12) ** 2 < 30)
    images[labels == 1] += 80 * blob
    if shift:
        images = 255 * (np.clip(images, 0, 255) / 255) ** 0.5 + rng.normal(0, 15, size=images.shape)
    images = np.clip(images, 0, 255).astype(np.uint8)
    return save_splits_npz(path, images, labels)


@pytest.fixture
def source_and_target(tmp_path: Path) -> tuple[Path, Path]:
    return _tiny_npz(tmp_path / "source.npz", 64, 0), _tiny_npz(tmp_path / "target.npz", 32, 1, shift=True)


def _da_config(method: str, **changes) -> TrainConfig:
    base = dict(model="baseline_cnn", epochs=2, batch_size=16, image_size=16, precision="fp32", lr=3e-3,
                augmentation="none", domain_adaptation=method, validation_samples=0)
    return TrainConfig(**(base | changes))


def test_target_npz_uses_every_image_array_unlabelled(source_and_target) -> None:
    _, target = source_and_target
    images = load_target_npz(target)
    assert len(images) == 32 and images.class_names == []
    assert images[0].id == "target:train:0"


def test_tiny_dann_run_logs_domain_accuracy(source_and_target, tmp_path: Path) -> None:
    source, target = source_and_target
    data = with_target_npz(load_npz_splits(source), target)
    epochs: list[EpochEnd] = []
    result = train(_da_config("dann"), data, lambda e: epochs.append(e) if isinstance(e, EpochEnd) else None,
                   run_dir=tmp_path / "dann")
    assert result.status == "completed", result.error
    assert len(epochs) == 2
    for event in epochs:
        assert 0.0 <= event.metrics["train_domain_accuracy"] <= 1.0
        assert 0.0 <= event.metrics["dann_lambda"] <= 1.0
    assert epochs[1].metrics["dann_lambda"] > epochs[0].metrics["dann_lambda"]
    lines = [json.loads(line) for line in (tmp_path / "dann" / "metrics.jsonl").read_text().splitlines()]
    assert all("train_domain_accuracy" in line for line in lines)
    entry = result.report["domain_adaptation"]
    assert entry["method"] == "dann" and entry["n_target_images"] == 32
    assert checkpoint_for_domain(tmp_path / "dann", "target") == "best"


def test_adabn_and_dsbn_runs_write_plain_target_checkpoints(source_and_target, tmp_path: Path) -> None:
    from medtl_gui.core.inference.trained_model import load_trained_model

    source, target = source_and_target
    for method in ("adabn", "dsbn"):
        data = with_target_npz(load_npz_splits(source), target)
        run = tmp_path / method
        result = train(_da_config(method, epochs=1), data, None, run_dir=run)
        assert result.status == "completed", result.error
        assert result.report["domain_adaptation"]["target_checkpoint"] == "target"
        assert checkpoint_for_domain(run, "target") == "target"
        assert checkpoint_for_domain(run, "source") == "best"
        best = load_trained_model(run, "best").model.state_dict()  # plain layouts: both load into the zoo model
        adapted = load_trained_model(run, "target").model.state_dict()
        differing = {k for k in best if not torch.equal(best[k], adapted[k])}
        assert differing and all(k.endswith(("running_mean", "running_var", "num_batches_tracked"))
                                 for k in differing), (method, differing)
        record = json.loads((run / "checkpoints" / "target.json").read_text())
        assert record["domain"] == "target" and record["method"] == method


def test_domain_adaptation_needs_target_images(source_and_target, tmp_path: Path) -> None:
    from medtl_gui.core.data.errors import DataError

    source, _ = source_and_target
    with pytest.raises(DataError, match="target-domain images"):
        train(_da_config("dann"), load_npz_splits(source), None, run_dir=tmp_path / "none")
    with pytest.raises(ConfigError, match="domain_adaptation"):
        TrainConfig(domain_adaptation="coral").validate()
    with pytest.raises(ConfigError, match="cached features"):
        data = with_target_npz(load_npz_splits(source), source_and_target[1])
        train(_da_config("dsbn", strategy="feature_extraction"), data, None, run_dir=tmp_path / "fe")
    with pytest.raises(ValueError, match="no target-domain checkpoint"):
        checkpoint_for_domain(tmp_path, "target")
