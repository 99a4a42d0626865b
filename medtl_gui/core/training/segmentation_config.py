"""Checks of the settings that only segmentation runs use (torch-free, called by ``TrainConfig.validate``).

For ``task="segmentation"``: ``model`` names a segmentation network of
:mod:`medtl_gui.core.models.segmentation.registry` (``unet`` or an encoder
such as ``resnet34``), ``image_size`` is the training patch size (the
network input; default: the architecture's), ``patches_per_image`` random
patches are cut from each training image per epoch, ``foreground_fraction``
of them centred on labelled pixels, and whole images are predicted with
sliding windows overlapping by ``sliding_window_overlap``. ``colour_channel``
and ``contrast`` choose how images become network inputs (e.g. the green
channel of fundus photographs with CLAHE) and ``input_scale`` the resolution
the network works at (results always come back at the image's size), ``base_channels`` widens or
narrows a plain U-Net, and ``dice_weight`` weighs the Dice part of the loss.
"""

from __future__ import annotations

from typing import Any

from medtl_gui.core.data.contrast import COLOUR_CHANNELS, CONTRAST_METHODS
from medtl_gui.core.models.segmentation.registry import SEGMENTATION_MODELS

#: strategies a segmentation run accepts (LwF distils a classifier's outputs: not applicable)
SEGMENTATION_STRATEGIES = ("feature_extraction", "finetune_last_n", "full", "gradual_unfreezing", "l2sp")


def segmentation_config_problems(config: Any) -> list[tuple[str, str]]:
    """(setting, reason) for every segmentation setting of ``config`` that is invalid."""
    problems: list[tuple[str, str]] = []
    if config.model not in SEGMENTATION_MODELS:
        problems.append(("model", f"{config.model!r} cannot segment; segmentation models: "
                                  f"{', '.join(SEGMENTATION_MODELS)}"))
    if config.strategy not in SEGMENTATION_STRATEGIES:
        problems.append(("strategy", f"{config.strategy!r} does not apply to segmentation; use one of "
                                     f"{', '.join(SEGMENTATION_STRATEGIES)}"))
    if config.retention == "lwf":
        problems.append(("retention", "LwF distils a classifier's outputs; for segmentation use l2sp or none"))
    if not (isinstance(config.patches_per_image, int) and config.patches_per_image >= 1):
        problems.append(("patches_per_image", f"must be an integer >= 1, got {config.patches_per_image!r}"))
    if not 0.0 <= config.foreground_fraction <= 1.0:
        problems.append(("foreground_fraction", f"must be between 0 and 1, got {config.foreground_fraction}"))
    if not 0.0 <= config.sliding_window_overlap < 1.0:
        problems.append(("sliding_window_overlap", f"must be in [0, 1), got {config.sliding_window_overlap}"))
    if config.colour_channel not in COLOUR_CHANNELS:
        problems.append(("colour_channel", f"must be one of {', '.join(COLOUR_CHANNELS)}, got {config.colour_channel!r}"))
    elif config.colour_channel != "all" and config.in_channels == 3:
        problems.append(("colour_channel", "one colour channel is one network input: set in_channels to 1 or null"))
    if config.contrast not in CONTRAST_METHODS:
        problems.append(("contrast", f"must be one of {', '.join(CONTRAST_METHODS)}, got {config.contrast!r}"))
    if not 0.25 <= config.input_scale <= 4.0:
        problems.append(("input_scale", f"must be between 0.25 and 4, got {config.input_scale}"))
    if config.base_channels is not None:
        architecture = SEGMENTATION_MODELS.get(config.model)
        if not (isinstance(config.base_channels, int) and 4 <= config.base_channels <= 256):
            problems.append(("base_channels", f"must be an integer between 4 and 256, got {config.base_channels!r}"))
        elif architecture is not None and architecture.encoder is not None:
            problems.append(("base_channels", f"{config.model} takes its widths from its encoder; base_channels "
                                              "applies to the plain U-Nets (unet, unet_small)"))
    if not config.dice_weight >= 0:
        problems.append(("dice_weight", f"must be >= 0, got {config.dice_weight}"))
    if config.threshold_policy != "fixed":
        problems.append(("threshold_policy", "segmentation uses a fixed threshold (set 'threshold')"))
    if config.imbalance not in ("auto", "none"):
        problems.append(("imbalance", "class-imbalance modes apply to classification; segmentation balances "
                                      "with foreground_fraction and the Dice loss"))
    return problems
