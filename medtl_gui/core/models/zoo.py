"""The model zoo: a registry of named architectures and what is known about them.

This module is torch-free so that the GUI can list models (name, input size,
parameter count, licence, which weights file it needs) without importing
torch. Building a model lives in :mod:`medtl_gui.core.models.builder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: ImageNet normalisation used by every torchvision classification weight.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Normalisation for models trained from scratch on [0, 1] images.
UNIT_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
UNIT_STD: tuple[float, float, float] = (0.25, 0.25, 0.25)

TORCHVISION_LICENCE = (
    "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms allow "
    "non-commercial research and educational use"
)
TORCHVISION_DOWNLOAD_ROOT = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class TorchvisionWeightsFile:
    """One checkpoint file torchvision publishes for an architecture.

    ``file_name`` carries the first hex digits of the file's SHA-256 after
    the last dash (``resnet18-f37072fd.pth``), the same convention
    ``torch.hub`` uses; the weight store verifies it before loading.
    """

    file_name: str
    source: str = "ImageNet-1k torchvision V1"
    licence: str = TORCHVISION_LICENCE

    @property
    def url(self) -> str:
        """Where torchvision publishes the file (for a connected machine)."""
        return TORCHVISION_DOWNLOAD_ROOT + self.file_name

    @property
    def name(self) -> str:
        """The weights' name in the store: the file name without extension."""
        return self.file_name.rsplit(".", 1)[0]

    @property
    def sha256_prefix(self) -> str:
        """The SHA-256 prefix embedded in the file name."""
        return self.name.rsplit("-", 1)[1]


@dataclass(frozen=True)
class ModelSpec:
    """Metadata of one architecture in the zoo.

    ``n_parameters`` is the count of the reference model (3-channel input
    and 1000 ImageNet classes for torchvision models; grey input and a
    binary head for the small CNNs); the count
    of a built model with a new head is reported by the builder.
    ``stages`` names the ordered groups of layers, stem to head, that
    freezing strategies and discriminative learning rates act on.
    """

    name: str
    title: str
    family: str  # "torchvision" | "small"
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    n_parameters: int
    licence: str
    stages: tuple[str, ...]
    description: str = ""
    weights: TorchvisionWeightsFile | None = None
    min_input_size: int = 32
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_published_weights(self) -> bool:
        """Whether torchvision publishes ImageNet weights for this model."""
        return self.weights is not None


def _tv(
    name: str,
    title: str,
    file_name: str,
    n_parameters: int,
    stages: tuple[str, ...],
    description: str,
    licence: str = TORCHVISION_LICENCE,
    min_input_size: int = 32,
) -> ModelSpec:
    return ModelSpec(
        name=name,
        title=title,
        family="torchvision",
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        n_parameters=n_parameters,
        licence="BSD-3-Clause (torchvision code)",
        stages=stages,
        description=description,
        weights=TorchvisionWeightsFile(file_name, licence=licence),
        min_input_size=min_input_size,
    )


_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="baseline_cnn",
        title="Baseline CNN (4 conv blocks)",
        family="small",
        input_size=64,
        mean=UNIT_MEAN,
        std=UNIT_STD,
        n_parameters=1_172_897,
        licence="Apache-2.0 (MedTL)",
        stages=("block1", "block2", "block3", "block4", "head"),
        description="A small VGG-style CNN with batch norm; fast on a CPU, trained from scratch.",
        min_input_size=16,
    ),
    ModelSpec(
        name="lenet5",
        title="LeNet-5",
        family="small",
        input_size=32,
        mean=UNIT_MEAN,
        std=UNIT_STD,
        n_parameters=60_941,
        licence="Apache-2.0 (MedTL)",
        stages=("conv1", "conv2", "fc", "head"),
        description="LeCun et al. 1998: two conv layers and three fully connected layers.",
        min_input_size=16,
    ),
    _tv(
        "alexnet",
        "AlexNet",
        "alexnet-owt-7be5be79.pth",
        61_100_840,
        ("conv1", "conv2", "conv3_5", "fc", "head"),
        "Krizhevsky et al. 2012 ('one weird trick' variant).",
        min_input_size=63,  # one stride-4 convolution and three max-pools: smaller inputs shrink to nothing
    ),
    _tv(
        "resnet18",
        "ResNet-18",
        "resnet18-f37072fd.pth",
        11_689_512,
        ("stem", "layer1", "layer2", "layer3", "layer4", "head"),
        "He et al. 2016, 18 layers; the usual first choice for small medical data sets.",
    ),
    _tv(
        "resnet34",
        "ResNet-34",
        "resnet34-b627a593.pth",
        21_797_672,
        ("stem", "layer1", "layer2", "layer3", "layer4", "head"),
        "He et al. 2016, 34 layers; the usual encoder of pretrained U-Nets.",
    ),
    _tv(
        "resnet50",
        "ResNet-50",
        "resnet50-0676ba61.pth",
        25_557_032,
        ("stem", "layer1", "layer2", "layer3", "layer4", "head"),
        "He et al. 2016, 50 layers with bottleneck blocks.",
    ),
    _tv(
        "densenet121",
        "DenseNet-121",
        "densenet121-a639ec97.pth",
        7_978_856,
        ("stem", "block1", "block2", "block3", "block4", "head"),
        "Huang et al. 2017; the CheXNet backbone.",
    ),
    _tv(
        "efficientnet_b0",
        "EfficientNet-B0",
        "efficientnet_b0_rwightman-7f5810bc.pth",
        5_288_548,
        ("stem", "block1", "block2", "block3", "block4", "head"),
        "Tan & Le 2019; weights ported from timm by R. Wightman.",
        licence="Apache-2.0 (timm port, via torchvision); trained on ImageNet-1k "
        "(non-commercial research terms)",
    ),
    _tv(
        "mobilenet_v3_small",
        "MobileNetV3-Small",
        "mobilenet_v3_small-047dcff4.pth",
        2_542_856,
        ("stem", "block1", "block2", "block3", "block4", "fc", "head"),
        "Howard et al. 2019; smallest and fastest of the zoo.",
    ),
    _tv(
        "mobilenet_v3_large",
        "MobileNetV3-Large",
        "mobilenet_v3_large-8738ca79.pth",
        5_483_032,
        ("stem", "block1", "block2", "block3", "block4", "fc", "head"),
        "Howard et al. 2019.",
    ),
    _tv(
        "convnext_tiny",
        "ConvNeXt-Tiny",
        "convnext_tiny-983f1562.pth",
        28_589_128,
        ("stem", "stage1", "stage2", "stage3", "stage4", "norm", "head"),
        "Liu et al. 2022; a modernised ResNet.",
    ),
)

MODEL_ZOO: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


class UnknownModelError(KeyError):
    """A model name that is not in the zoo."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown model {self.name!r}; available: {', '.join(MODEL_ZOO)}"


def list_models() -> list[ModelSpec]:
    """All architectures in the zoo, small models first."""
    return list(MODEL_ZOO.values())


def get_model_spec(name: str) -> ModelSpec:
    """The spec of the model called ``name``; raises :class:`UnknownModelError`."""
    try:
        return MODEL_ZOO[name]
    except KeyError:
        raise UnknownModelError(name) from None


def spec_for_weights_file(file_name: str) -> ModelSpec | None:
    """The model whose published torchvision weights file is ``file_name``, if any."""
    for spec in MODEL_ZOO.values():
        if spec.weights is not None and spec.weights.file_name == file_name:
            return spec
    return None
