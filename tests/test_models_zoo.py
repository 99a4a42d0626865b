"""Model zoo: metadata, builders, stages, grey-scale stems, heads."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from medtl_gui.core.models import MODEL_ZOO, UnknownModelError, get_model_spec, list_models
from medtl_gui.core.models.builder import build_model, normalisation_for
from medtl_gui.core.models.weights import PretrainedWeights, WeightsEntry

EXPECTED_MODELS = {
    "baseline_cnn",
    "lenet5",
    "alexnet",
    "resnet18",
    "resnet50",
    "densenet121",
    "efficientnet_b0",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "convnext_tiny",
}


def test_zoo_lists_the_required_models() -> None:
    assert EXPECTED_MODELS <= {spec.name for spec in list_models()}


def test_unknown_model_error_lists_available_models() -> None:
    with pytest.raises(UnknownModelError, match="resnet18"):
        get_model_spec("resnet19")


def test_torchvision_metadata_matches_torchvision_weight_enums() -> None:
    """File names, URLs and parameter counts agree with torchvision (no download)."""
    import torchvision.models as tvm

    enums = {
        "alexnet": tvm.AlexNet_Weights,
        "resnet18": tvm.ResNet18_Weights,
        "resnet50": tvm.ResNet50_Weights,
        "densenet121": tvm.DenseNet121_Weights,
        "efficientnet_b0": tvm.EfficientNet_B0_Weights,
        "mobilenet_v3_small": tvm.MobileNet_V3_Small_Weights,
        "mobilenet_v3_large": tvm.MobileNet_V3_Large_Weights,
        "convnext_tiny": tvm.ConvNeXt_Tiny_Weights,
    }
    for name, enum in enums.items():
        spec = get_model_spec(name)
        reference = enum.IMAGENET1K_V1
        assert spec.weights is not None
        assert spec.weights.url == reference.url
        assert spec.n_parameters == reference.meta["num_params"]
        assert list(spec.mean) == reference.transforms().mean
        assert spec.input_size == reference.transforms().crop_size[0]
        assert len(spec.weights.sha256_prefix) == 8


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS))
def test_every_model_builds_runs_and_exposes_its_stages(name: str) -> None:
    spec = get_model_spec(name)
    torch.manual_seed(0)
    bundle = build_model(name, n_classes=3, in_channels=1)
    model = bundle.model.eval()
    with torch.no_grad():  # the smallest input the zoo promises the model takes (the engine refuses smaller)
        out = model(torch.randn(2, 1, spec.min_input_size, spec.min_input_size))
    assert out.shape == (2, 3)
    assert bundle.model.stage_names() == list(spec.stages)
    assert bundle.pretrained_head is None  # no weights given
    stage_params = sum(p.numel() for _, stage in bundle.model.stages() for p in stage.parameters())
    assert stage_params == bundle.model.n_parameters(), "every parameter belongs to exactly one stage"


def test_small_model_parameter_counts_match_the_zoo() -> None:
    for name in ("baseline_cnn", "lenet5"):
        assert build_model(name, n_classes=2, in_channels=1).model.n_parameters() == MODEL_ZOO[name].n_parameters


def test_heads_for_binary_multiclass_and_regression() -> None:
    binary = build_model("lenet5", n_classes=2, in_channels=1)
    multi = build_model("lenet5", n_classes=5, in_channels=1)
    regression = build_model("lenet5", task="regression", n_classes=0, n_targets=2, in_channels=1)
    x = torch.randn(3, 1, 32, 32)
    assert (binary.head_kind, binary.model(x).shape) == ("binary", (3, 1))
    assert (multi.head_kind, multi.model(x).shape) == ("multiclass", (3, 5))
    assert (regression.head_kind, regression.model(x).shape) == ("regression", (3, 2))
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model("lenet5", n_classes=1)


def _fake_pretrained(name: str, seed: int = 1) -> PretrainedWeights:
    """A randomly initialised torchvision state dict posing as pretrained weights."""
    from medtl_gui.core.models.architectures import build_torchvision_model

    torch.manual_seed(seed)
    state = build_torchvision_model(name).state_dict()
    entry = WeightsEntry(name=f"{name}-test", architecture=name, file="x.pth", sha256="0" * 64, source="test", licence="test")
    return PretrainedWeights(entry, state, "0" * 64)


def test_pretrained_weights_are_loaded_and_original_head_kept() -> None:
    weights = _fake_pretrained("resnet18")
    bundle = build_model("resnet18", n_classes=2, in_channels=3, weights=weights)
    assert torch.equal(bundle.model.backbone.layer4[1].conv2.weight, weights.state_dict["layer4.1.conv2.weight"])
    assert bundle.pretrained_head is not None
    assert torch.equal(bundle.pretrained_head.weight, weights.state_dict["fc.weight"])
    assert bundle.weights_id == "0" * 64


def test_grey_stem_sums_rgb_kernels_so_grey_equals_replicated_rgb() -> None:
    weights = _fake_pretrained("resnet18")
    grey = build_model("resnet18", n_classes=2, in_channels=1, weights=weights).model.eval()
    rgb = build_model("resnet18", n_classes=2, in_channels=3, weights=weights).model.eval()
    rgb.head.load_state_dict(grey.head.state_dict())
    expected_kernel = weights.state_dict["conv1.weight"].sum(dim=1, keepdim=True)
    assert torch.allclose(grey.backbone.stem[0].weight, expected_kernel)
    image = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(grey(image), rgb(image.repeat(1, 3, 1, 1)), atol=1e-4)


def test_grey_normalisation_averages_rgb_statistics() -> None:
    mean, std = normalisation_for(get_model_spec("resnet18"), 1)
    assert mean == pytest.approx((0.449,), abs=1e-3) and std == pytest.approx((0.226,), abs=1e-3)
    assert normalisation_for(get_model_spec("resnet18"), 3)[0] == (0.485, 0.456, 0.406)


def test_densenet_legacy_checkpoint_keys_are_upgraded() -> None:
    from medtl_gui.core.models.architectures import build_torchvision_model, upgrade_torchvision_state_dict

    from medtl_gui.core.models.builder import _load_into

    state = build_torchvision_model("densenet121").state_dict()
    # published checkpoints: old 'norm.1' names and no num_batches_tracked buffers
    legacy = {
        k.replace("denselayer1.norm1.", "denselayer1.norm.1."): v
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    upgraded = upgrade_torchvision_state_dict("densenet121", legacy)
    assert "features.denseblock1.denselayer1.norm1.weight" in upgraded
    _load_into(build_torchvision_model("densenet121"), upgraded, "densenet121-test.pth")


def test_importing_the_zoo_does_not_import_torch() -> None:
    code = (
        "import sys; import medtl_gui.core.models, medtl_gui.core.models.weights; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
