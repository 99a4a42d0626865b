"""Turn each zoo architecture into (backbone stages, original head, feature width).

torchvision models are built with ``weights=None`` (never an implicit
download); pretrained state dicts are loaded into the *torchvision* layout
first (so torchvision's own checkpoint files load unchanged) and only then
regrouped into named stages by :func:`split_torchvision_model`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from medtl_gui.core.models.small_cnns import baseline_cnn_backbone, lenet5_backbone


@dataclass
class SplitModel:
    """A network cut into an ordered backbone of named stages and a head.

    ``backbone`` maps images to a flat feature vector of ``feature_dim``
    values; ``original_head`` is the pretrained classifier (e.g. 1000
    ImageNet logits) or ``None`` for models without one.
    """

    backbone: nn.Sequential
    original_head: nn.Module | None
    feature_dim: int


def build_torchvision_model(name: str) -> nn.Module:
    """The torchvision model ``name`` with random weights (no download, ever)."""
    import torchvision.models as tvm

    builders: dict[str, Callable[..., nn.Module]] = {
        "alexnet": tvm.alexnet,
        "resnet18": tvm.resnet18,
        "resnet34": tvm.resnet34,
        "resnet50": tvm.resnet50,
        "densenet121": tvm.densenet121,
        "efficientnet_b0": tvm.efficientnet_b0,
        "mobilenet_v3_small": tvm.mobilenet_v3_small,
        "mobilenet_v3_large": tvm.mobilenet_v3_large,
        "convnext_tiny": tvm.convnext_tiny,
    }
    if name not in builders:
        raise KeyError(f"{name!r} is not a torchvision architecture of the zoo")
    return builders[name](weights=None)


_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def upgrade_torchvision_state_dict(name: str, state_dict: dict) -> dict:
    """Rename legacy keys in torchvision's published checkpoints.

    DenseNet checkpoints still use ``norm.1``-style keys that torchvision
    renames when it loads them; do the same here.
    """
    if not name.startswith("densenet"):
        return state_dict
    upgraded: OrderedDict[str, object] = OrderedDict()
    for key, value in state_dict.items():
        match = _DENSENET_OLD_KEY.match(key)
        upgraded[match.group(1) + match.group(2) if match else key] = value
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        upgraded._metadata = metadata  # type: ignore[attr-defined]
    return upgraded


def _seq(**stages: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(stages))


def _pool_flatten() -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _split_resnet(m: nn.Module) -> SplitModel:
    backbone = _seq(
        stem=nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool),
        layer1=m.layer1,
        layer2=m.layer2,
        layer3=m.layer3,
        layer4=m.layer4,
        pool=_pool_flatten(),
    )
    return SplitModel(backbone, m.fc, m.fc.in_features)


def _split_alexnet(m: nn.Module) -> SplitModel:
    f, c = m.features, m.classifier
    backbone = _seq(
        conv1=nn.Sequential(*f[0:3]),
        conv2=nn.Sequential(*f[3:6]),
        conv3_5=nn.Sequential(*f[6:13]),
        pool=nn.Sequential(m.avgpool, nn.Flatten()),
        fc=nn.Sequential(*c[:-1]),
    )
    return SplitModel(backbone, c[-1], c[-1].in_features)


def _split_densenet(m: nn.Module) -> SplitModel:
    f = m.features
    backbone = _seq(
        stem=nn.Sequential(f.conv0, f.norm0, f.relu0, f.pool0),
        block1=nn.Sequential(f.denseblock1, f.transition1),
        block2=nn.Sequential(f.denseblock2, f.transition2),
        block3=nn.Sequential(f.denseblock3, f.transition3),
        block4=nn.Sequential(f.denseblock4, f.norm5),
        pool=nn.Sequential(nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
    )
    return SplitModel(backbone, m.classifier, m.classifier.in_features)


def _split_efficientnet(m: nn.Module) -> SplitModel:
    f, c = m.features, m.classifier
    backbone = _seq(
        stem=f[0],
        block1=nn.Sequential(f[1], f[2]),
        block2=f[3],
        block3=nn.Sequential(f[4], f[5]),
        block4=nn.Sequential(f[6], f[7], f[8]),
        pool=nn.Sequential(m.avgpool, nn.Flatten(), *c[:-1]),
    )
    return SplitModel(backbone, c[-1], c[-1].in_features)


def _split_mobilenet_v3(m: nn.Module, groups: tuple[tuple[int, int], ...]) -> SplitModel:
    f, c = m.features, m.classifier
    stages: OrderedDict[str, nn.Module] = OrderedDict(stem=f[0])
    for index, (start, stop) in enumerate(groups, start=1):
        stages[f"block{index}"] = nn.Sequential(*f[start:stop])
    stages["pool"] = nn.Sequential(m.avgpool, nn.Flatten())
    stages["fc"] = nn.Sequential(*c[:-1])
    return SplitModel(nn.Sequential(stages), c[-1], c[-1].in_features)


def _split_convnext(m: nn.Module) -> SplitModel:
    f, c = m.features, m.classifier
    backbone = _seq(
        stem=f[0],
        stage1=f[1],
        stage2=nn.Sequential(f[2], f[3]),
        stage3=nn.Sequential(f[4], f[5]),
        stage4=nn.Sequential(f[6], f[7]),
        pool=m.avgpool,
        norm=nn.Sequential(*c[:-1]),
    )
    return SplitModel(backbone, c[-1], c[-1].in_features)


def split_torchvision_model(name: str, model: nn.Module) -> SplitModel:
    """Regroup a torchvision model's modules (shared, not copied) into stages."""
    if name.startswith("resnet"):
        return _split_resnet(model)
    if name == "alexnet":
        return _split_alexnet(model)
    if name.startswith("densenet"):
        return _split_densenet(model)
    if name.startswith("efficientnet"):
        return _split_efficientnet(model)
    if name == "mobilenet_v3_small":
        # feature maps: [1] 56 px, [2:4] 28 px, [4:9] 14 px, [9:12] 7 px, [12] last conv
        return _split_mobilenet_v3(model, ((1, 2), (2, 4), (4, 9), (9, 13)))
    if name == "mobilenet_v3_large":
        # [1] 112 px, [2:4] 56 px, [4:7] 28 px, [7:13] 14 px, [13:17] 7 px + last conv
        return _split_mobilenet_v3(model, ((1, 4), (4, 7), (7, 13), (13, 17)))
    if name.startswith("convnext"):
        return _split_convnext(model)
    raise KeyError(f"no stage layout for torchvision model {name!r}")


def build_small_model(name: str, in_channels: int) -> SplitModel:
    """The baseline CNN or LeNet-5 backbone (no pretrained head)."""
    if name == "baseline_cnn":
        backbone, width = baseline_cnn_backbone(in_channels)
    elif name == "lenet5":
        backbone, width = lenet5_backbone(in_channels)
    else:
        raise KeyError(f"{name!r} is not a small model of the zoo")
    return SplitModel(backbone, None, width)
