"""Training curves: metrics only some runs log (domain adaptation) get a curve when they first appear."""

from __future__ import annotations

import numpy as np

from medtl_gui.gui.training.curves import TrainingCurves


def test_domain_accuracy_curve_appears_only_for_runs_that_log_it(qtbot) -> None:
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.show_epochs("classification", [{"epoch": 0, "train_loss": 0.7, "val_auc": 0.8},
                                          {"epoch": 1, "train_loss": 0.5, "val_auc": 0.9}])
    assert "train_domain_accuracy" not in curves.items, "no empty legend entry for a plain run"
    curves.show_epochs("classification", [
        {"epoch": 0, "train_loss": 0.7, "val_auc": 0.8, "train_domain_accuracy": 0.81},
        {"epoch": 1, "train_loss": 0.5, "val_auc": 0.9, "train_domain_accuracy": 0.55},
    ])
    x, y = curves.curve("train_domain_accuracy")
    assert list(x) == [1.0, 2.0] and np.allclose(y, [0.81, 0.55])
