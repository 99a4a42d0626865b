"""Segmentation networks: U-Nets on each encoder build and run, and the strategies act on their stages."""

from __future__ import annotations

import pytest
import torch

from medtl_gui.core.models.segmentation import SEGMENTATION_MODELS, get_segmentation_architecture
from medtl_gui.core.models.segmentation.builder import build_segmentation_model, outputs_for
from medtl_gui.core.training.freezing import apply_trainable_stages, set_training_mode, stage_parameter_groups
from medtl_gui.core.training.retention import L2SPPenalty
from medtl_gui.core.training.strategies import get_strategy


@pytest.mark.parametrize("name", ["unet", "unet_small", "resnet18", "resnet34", "efficientnet_b0"])
def test_every_encoder_builds_and_predicts_at_the_input_size(name: str) -> None:
    torch.manual_seed(0)
    bundle = build_segmentation_model(name, n_labels=1, in_channels=1)
    model = bundle.model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
        odd = model(torch.randn(1, 1, 45, 70))  # sizes that are not multiples of 32 work too
    assert out.shape == (2, 1, 64, 64) and odd.shape == (1, 1, 45, 70)
    assert model.stage_names()[-1] == "head"
    stage_params = sum(p.numel() for _, stage in model.stages() for p in stage.parameters())
    assert stage_params == model.n_parameters(), "every parameter belongs to exactly one stage"


def test_multi_label_models_have_background_plus_one_output_per_label() -> None:
    assert outputs_for(1) == 1 and outputs_for(3) == 4
    model = build_segmentation_model("unet_small", n_labels=3, in_channels=3).model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4, 32, 32)
    with pytest.raises(ValueError, match="at least one label"):
        build_segmentation_model("unet_small", n_labels=0)


def test_frozen_encoder_strategy_freezes_exactly_the_encoder() -> None:
    model = build_segmentation_model("resnet18", n_labels=1, in_channels=1).model
    strategy = get_strategy("feature_extraction")
    first = strategy.first_trainable_stage(len(model.stages()), 0, None)
    trainable = apply_trainable_stages(model, first)
    set_training_mode(model, first)
    assert trainable == ["head"]
    assert all(not p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)  # batch-norm statistics frozen too
    assert model.head.training


def test_gradual_unfreezing_and_discriminative_rates_walk_down_the_encoder() -> None:
    class Settings:
        unfreeze_every = 1

    model = build_segmentation_model("resnet18", n_labels=1, in_channels=1).model
    strategy = get_strategy("gradual_unfreezing")
    n = len(model.stages())
    assert [strategy.first_trainable_stage(n, epoch, Settings) for epoch in range(3)] == [n - 1, n - 2, n - 3]
    groups = stage_parameter_groups(model, lr=1e-2, lr_decay=0.5, weight_decay=1e-4)
    rates = {g["stage"].split(":")[0]: g["lr"] for g in groups}
    assert rates["head"] == pytest.approx(1e-2) and rates["layer4"] == pytest.approx(5e-3)
    assert rates["stem"] == pytest.approx(1e-2 * 0.5 ** 5)


def test_l2sp_penalises_only_movement_of_the_encoder() -> None:
    model = build_segmentation_model("unet_small", n_labels=1, in_channels=1).model
    penalty = L2SPPenalty(model)
    assert float(penalty().detach()) == 0.0
    with torch.no_grad():
        next(model.head.parameters()).add_(1.0)
    assert float(penalty().detach()) == 0.0
    with torch.no_grad():
        next(model.backbone.parameters()).add_(0.1)
    assert float(penalty().detach()) > 0.0


def test_pretrained_encoder_weights_are_loaded_and_plain_unets_refuse_them() -> None:
    from medtl_gui.core.models.architectures import build_torchvision_model
    from medtl_gui.core.models.weights import PretrainedWeights, WeightsEntry
    from medtl_gui.core.models.weights.errors import WeightsError

    torch.manual_seed(1)
    reference = build_torchvision_model("resnet18")
    state = reference.state_dict()
    entry = WeightsEntry(name="resnet18-test", architecture="resnet18", file="resnet18-test.pth",
                         source="test", licence="test", layout="torchvision", sha256="0" * 64)
    weights = PretrainedWeights(entry, state, "0" * 64)
    model = build_segmentation_model("resnet18", n_labels=1, in_channels=3, weights=weights).model
    assert torch.equal(model.backbone.layer4[0].conv1.weight, reference.layer4[0].conv1.weight)
    assert torch.equal(model.backbone.stem[0].weight, reference.conv1.weight)
    with pytest.raises(WeightsError, match="from scratch"):
        build_segmentation_model("unet", weights=weights)


def test_registry_names_encoders_of_the_zoo() -> None:
    from medtl_gui.core.models.zoo import MODEL_ZOO

    assert get_segmentation_architecture("resnet34").encoder == "resnet34"
    for architecture in SEGMENTATION_MODELS.values():
        assert architecture.encoder is None or architecture.encoder in MODEL_ZOO
    with pytest.raises(KeyError, match="cannot segment"):
        get_segmentation_architecture("lenet5")
