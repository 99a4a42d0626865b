"""Segmentation metrics agree with scikit-learn and torchmetrics; the field of view and cases are respected."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score, recall_score, roc_auc_score
from torchmetrics.functional.classification import binary_f1_score, binary_jaccard_index

from medtl_gui.core.evaluation.segmentation import PixelCounts, SegmentationScorer, dice_iou, pixel_auc


@pytest.mark.parametrize("seed", range(5))
def test_dice_and_iou_match_scikit_learn_and_torchmetrics_on_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.random((37, 41)) < rng.uniform(0.05, 0.6)
    true = rng.random((37, 41)) < rng.uniform(0.05, 0.6)
    dice, iou = dice_iou(pred, true)
    assert dice == pytest.approx(f1_score(true.ravel(), pred.ravel()))
    assert iou == pytest.approx(jaccard_score(true.ravel(), pred.ravel()))
    assert dice == pytest.approx(float(binary_f1_score(torch.as_tensor(pred).long(), torch.as_tensor(true).long())))
    assert iou == pytest.approx(float(binary_jaccard_index(torch.as_tensor(pred).long(), torch.as_tensor(true).long())))
    metrics = PixelCounts.of(pred, true).metrics()
    assert metrics["sensitivity"] == pytest.approx(recall_score(true.ravel(), pred.ravel()))
    assert metrics["specificity"] == pytest.approx(recall_score(~true.ravel(), ~pred.ravel()))


def test_empty_prediction_and_truth_agree_perfectly() -> None:
    empty = np.zeros((4, 4), bool)
    assert dice_iou(empty, empty) == (1.0, 1.0)
    assert pixel_auc(np.zeros(16), empty) is None


def test_scorer_counts_only_the_field_of_view_and_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    truth = (rng.random((2, 30, 30)) < 0.3).astype(np.uint8)
    scores = np.clip(truth * 0.4 + rng.random((2, 30, 30)) * 0.6, 0, 1).astype(np.float32)
    fov = np.zeros((2, 30, 30), bool)
    fov[:, 5:25, 5:25] = True
    scores_outside = scores.copy()
    scores_outside[~fov] = 1.0 - truth[~fov]  # completely wrong outside the field of view
    scorer = SegmentationScorer(["vessel"], threshold=0.5)
    for index in range(2):
        scorer.add(f"case{index}", scores_outside[index][None], truth[index], fov[index])
    report = scorer.report()
    inside_t, inside_s = truth[fov], scores[fov]
    assert report["inside_fov"] and report["n_cases"] == 2
    assert report["auc_pooled"] == pytest.approx(roc_auc_score(inside_t, inside_s), abs=1e-6)
    assert report["dice_pooled"] == pytest.approx(f1_score(inside_t, inside_s >= 0.5))
    per_case = [f1_score(truth[i][fov[i]], scores[i][fov[i]] >= 0.5) for i in range(2)]
    assert report["dice"] == pytest.approx(np.mean(per_case))
    assert [c["case"] for c in report["per_case"]] == ["case0", "case1"]


def test_slices_of_a_volume_are_pooled_into_one_case_and_labels_reported_separately() -> None:
    labels = np.zeros((3, 8, 8), np.uint8)
    labels[0, :2] = 1
    labels[1, 4:] = 2
    probabilities = np.zeros((3, 3, 8, 8), np.float32)  # background, label 1, label 2
    probabilities[:, 0] = 1.0
    for z in range(3):
        for value in (1, 2):
            probabilities[z, value][labels[z] == value] = 2.0
    scorer = SegmentationScorer(["lesion", "organ"])
    for z in range(3):
        scorer.add("volume", probabilities[z], labels[z])
    scorer.add("image", probabilities[0], np.zeros((8, 8), np.uint8))
    report = scorer.report()
    assert report["n_images"] == 4 and report["n_cases"] == 2
    volume = report["per_case"][0]
    assert volume["case"] == "volume" and volume["n_images"] == 3
    assert volume["labels"]["lesion"]["dice"] == 1.0 and volume["labels"]["organ"]["dice"] == 1.0
    assert report["labels"]["lesion"]["dice_pooled"] == pytest.approx(2 * 16 / (2 * 16 + 16))
    assert set(report) >= {"dice", "iou", "auc", "sensitivity", "specificity", "per_case", "labels"}
