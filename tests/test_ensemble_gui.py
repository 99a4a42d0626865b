"""pytest-qt: "Build ensemble…" in the run history of the real main window, and the TTA choice of "Apply model"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtl_gui.core.data.sources import open_data_source
from medtl_gui.core.training import TrainConfig, train

TIMEOUT_MS = 120_000


@pytest.fixture
def two_runs(demo_project_dir: Path) -> list[Path]:
    """Two tiny classification runs (seeds 0 and 1) in the demo project's runs folder."""
    data = open_data_source(demo_project_dir)
    try:
        folders = []
        for seed in (0, 1):
            config = TrainConfig(model="baseline_cnn", image_size=16, epochs=1, batch_size=4, precision="fp32",
                                 seed=seed, device="cpu")
            folder = demo_project_dir / "runs" / f"tiny-seed{seed}"
            assert train(config, data, run_dir=folder).status == "completed"
            folders.append(folder)
    finally:
        data.extra["project"].close()
    return folders


def _reload(qtbot, ctl) -> None:
    with qtbot.waitSignal(ctl.history.runs_loaded, timeout=TIMEOUT_MS):
        ctl.reload_history()


def test_build_ensemble_from_selected_runs_then_apply_it_with_tta(qtbot, two_runs, main_window) -> None:
    from medtl_gui.gui.training.prediction_job import prediction_tta, predict_unlabelled

    win = main_window
    ctl = win.training
    history = ctl.history
    _reload(qtbot, ctl)
    assert history.select_run("tiny-seed0")
    assert not history.buttons["ensemble"].isEnabled(), "one run is not an ensemble"
    assert history.select_run("tiny-seed1", add=True)
    assert history.buttons["ensemble"].isEnabled()

    history.buttons["ensemble"].click()
    dialog = history.ensemble_dialog
    assert dialog is not None and dialog.isVisible() and len(dialog.runs) == 2
    dialog.set_combination("weighted")
    with qtbot.waitSignal(history.ensemble_built, timeout=TIMEOUT_MS) as built:
        with qtbot.waitSignal(history.runs_loaded, timeout=TIMEOUT_MS):
            dialog.accept()
    folder = Path(built.args[0])
    manifest = json.loads((folder / "ensemble.json").read_text())
    assert folder.parent == Path(win.project.folder) / "runs"
    assert manifest["combination"] == "weighted" and abs(sum(manifest["weights"]) - 1) < 1e-9
    assert {m["run_id"] for m in manifest["members"]} == {"tiny-seed0", "tiny-seed1"}

    entry = next(r for r in history.runs if r.run_id == folder.name)
    assert getattr(entry, "is_ensemble", False) and "ensemble of 2" in entry.config_text()
    assert history.select_run(folder.name)
    assert history.buttons["apply"].isEnabled() and history.buttons["activate"].isEnabled()
    assert not history.buttons["continue"].isEnabled() and not history.buttons["open"].isEnabled()

    # the TTA choice is the project's setting that "Apply model" uses
    history.tta.setCurrentText("flips")
    assert prediction_tta(win.project) == "flips"
    summary = predict_unlabelled(win.project, folder, "cpu")
    assert summary.task == "classification" and summary.proposals and not summary.failed
    proposal = win.project.proposal(summary.proposals[0])
    assert proposal is not None and proposal.run_id == folder.name
