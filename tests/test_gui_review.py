"""pytest-qt tests of review in the real main window: the ranking job orders the browser, the saliency overlay.

One tiny run (baseline CNN, 32 px, one epoch) is trained once through the
engine on a copy of the small demo project; each test opens its own copy.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.gui.browser_model import ROW_ROLE
from medtl_gui.gui.review.label_next import LABEL_NEXT, LABEL_NEXT_COLUMN

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def trained_demo_template(demo_project_template, tmp_path_factory) -> Path:
    """The demo project with one finished classification run in its ``runs/``."""
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.training import TrainConfig, train

    folder = tmp_path_factory.mktemp("review") / "demo"
    shutil.copytree(demo_project_template, folder)
    config = TrainConfig(model="baseline_cnn", image_size=32, epochs=1, batch_size=4, precision="fp32",
                         device="cpu", validation_samples=0)
    result = train(config, open_data_source(folder))
    assert result.status == "completed", result.error
    return folder


@pytest.fixture
def review_window(qtbot, trained_demo_template, tmp_path, isolated_settings):
    """The real MainWindow on a private copy of the trained demo project, its run listed."""
    from medtl_gui.gui.main_window import MainWindow

    folder = tmp_path / "demo"
    shutil.copytree(trained_demo_template, folder)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20_000):
        assert win.open_project(folder)
    qtbot.waitUntil(lambda: win.training.model_run() is not None, timeout=20_000)
    yield win
    win.jobs.cancel_all()
    win.close()


def shown_ids(browser) -> list[int]:
    proxy = browser.proxy
    return [proxy.index(r, 0).data(ROW_ROLE).image_id for r in range(proxy.rowCount())]


def test_rank_job_runs_in_the_background_and_orders_the_browser(qtbot, review_window, monkeypatch):
    import medtl_gui.gui.review.rank_job as rank_job
    from medtl_gui.core.review.ranking_store import stored_ranking

    win = review_window
    threads: list[str] = []
    original = rank_job.rank_unlabelled

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(rank_job, "rank_unlabelled", recording)
    assert win.browser.filter_box.findText(LABEL_NEXT) >= 0
    with qtbot.waitSignal(win.ranking.ranked, timeout=TIMEOUT_MS) as ranked:
        assert win.ranking.start("entropy") is not None
    ranking = ranked.args[0]
    assert threads and threads[0] != threading.main_thread().name, "ranking must not run on the GUI thread"
    assert ranking.method == "entropy" and ranking.items
    unlabelled = {r.id for r in win.project.images(unlabelled=True)}
    assert set(ranking.keys()) <= unlabelled
    assert len(ranking.keys()) + len(ranking.skipped) == len(unlabelled)  # every one ranked or reported

    # the browser shows "Label next": ranked, still unlabelled images in ranking order, the first selected
    assert win.browser.filter_box.currentText() == LABEL_NEXT
    assert win.browser.model.sort_column == LABEL_NEXT_COLUMN
    statuses = {r.id: r.label_status for r in win.project.images()}
    expected = [i for i in ranking.keys() if statuses[i] not in ("uncertain", "skipped")]
    assert shown_ids(win.browser) == expected and expected
    assert [s.image_id for s in stored_ranking(win.project)] == ranking.keys()
    qtbot.waitUntil(lambda: win.current_id == expected[0], timeout=10_000)

    # labelling the first image takes it off the list and moves on to the next one in the ranking
    if len(expected) > 1:
        next(a for a in win.window_actions.class_actions if a.text() == "Label as lesion").trigger()  # key 2
        assert win.project.label(expected[0]).class_name == "lesion"
        qtbot.waitUntil(lambda: shown_ids(win.browser) == expected[1:], timeout=10_000)
        qtbot.waitUntil(lambda: win.current_id == expected[1], timeout=10_000)

    # the sort box offers the ranking order under every filter
    win.browser.set_filter("All images")
    win.browser.sort_by(LABEL_NEXT_COLUMN)
    assert shown_ids(win.browser)[:len(ranking.keys())] == ranking.keys()


def test_saliency_overlay_toggles_and_follows_opacity_colour_and_class(qtbot, review_window):
    win = review_window
    saliency = win.saliency
    action = win.actions_by_name["toggle_saliency"]
    raster = next(r.id for r in win.project.images() if r.kind == "raster")
    with qtbot.waitSignal(win.image_shown, timeout=20_000):
        win.browser.select_image(raster)
    assert not saliency.layer.shown
    reads: list[int] = []
    read_image = win.project.read_image
    win.project.read_image = lambda image_id, *a, **k: reads.append(image_id) or read_image(image_id, *a, **k)
    with qtbot.waitSignal(saliency.computed, timeout=TIMEOUT_MS) as computed:
        action.trigger()
    del win.project.read_image
    # (the viewer may prefetch a neighbour meanwhile)
    assert raster not in reads, "the saliency job explains the pixels on screen, it does not decode them again"
    outcome = computed.args[0]
    qtbot.waitUntil(lambda: not saliency.busy, timeout=5_000)
    assert saliency.panel.show_box.isChecked() and action.isChecked()
    assert saliency.layer.shown
    plane = win.viewer.current_image()
    assert outcome.heatmap.shape == plane.shape[:2] and outcome.request.image_id == raster
    assert float(outcome.heatmap.max()) <= 1.0 and np.isfinite(outcome.heatmap).all()
    assert "explained by Grad-CAM" in saliency.panel.status.text()
    assert [saliency.panel.class_box.itemText(i) for i in range(saliency.panel.class_box.count())][1:] == \
        ["normal", "lesion"]

    # opacity and colours change the layer on screen without recomputing
    saliency.panel.opacity_slider.setValue(80)
    shown = saliency.layer.item.image
    assert shown.shape == (*plane.shape[:2], 4)
    hottest = np.unravel_index(int(outcome.heatmap.argmax()), outcome.heatmap.shape)
    assert shown[hottest][3] == round(0.8 * 255)
    saliency.panel.opacity_slider.setValue(0)
    assert saliency.layer.item.image[..., 3].max() == 0
    saliency.panel.opacity_slider.setValue(60)
    before = saliency.layer.item.image[hottest][:3].copy()
    saliency.panel.colormap_box.setCurrentText("viridis")
    assert not np.array_equal(saliency.layer.item.image[hottest][:3], before)
    assert not saliency.busy

    # toggling off hides the layer; on again shows the same map at once (cached)
    action.trigger()
    assert not saliency.layer.shown and not saliency.panel.show_box.isChecked()
    action.trigger()
    assert saliency.layer.shown and not saliency.busy

    # another class, another method: recomputed in the background
    with qtbot.waitSignal(saliency.computed, timeout=TIMEOUT_MS) as computed:
        saliency.panel.class_box.setCurrentText("lesion")
    assert computed.args[0].class_name == "lesion" and computed.args[0].request.class_choice == "lesion"
    with qtbot.waitSignal(saliency.computed, timeout=TIMEOUT_MS) as computed:
        saliency.panel.method_box.setCurrentIndex(1)
    assert computed.args[0].request.method == "gradcam++"

    # the next image gets its own map
    other = next(r.id for r in win.project.images() if r.kind == "raster" and r.id != raster)
    with qtbot.waitSignal(saliency.computed, timeout=TIMEOUT_MS) as computed:
        win.browser.set_filter("All images")
        win.browser.select_image(other)
    assert computed.args[0].request.image_id == other == win.current_id
