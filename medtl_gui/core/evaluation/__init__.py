"""Metrics and reports: classification, segmentation, regression, bootstrap intervals.

Functions import torch/torchmetrics when called, not at package import.
"""

from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
from medtl_gui.core.evaluation.classification import CLASSIFICATION_KEYS, classification_metrics, predict_labels
from medtl_gui.core.evaluation.regression import regression_metrics
from medtl_gui.core.evaluation.segmentation import segmentation_metrics
from medtl_gui.core.evaluation.thresholds import THRESHOLD_POLICIES, youden_threshold

__all__ = [
    "CLASSIFICATION_KEYS",
    "THRESHOLD_POLICIES",
    "bootstrap_confidence_intervals",
    "classification_metrics",
    "predict_labels",
    "regression_metrics",
    "segmentation_metrics",
    "youden_threshold",
]
