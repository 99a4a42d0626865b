"""pytest-qt tests: the dataset browser's thumbnail grid, filters, search, sorting and counts."""

from __future__ import annotations

from PySide6.QtCore import Qt

from medtl_gui.core.project import Project
from medtl_gui.gui.browser_model import DISAGREES, HAS_MASK, ROW_ROLE, UNLABELLED
from medtl_gui.gui.thumbnail_making import THUMBNAIL_DIR


def shown_rows(browser):
    return [browser.proxy.index(r, 0).data(ROW_ROLE) for r in range(browser.proxy.rowCount())]


def test_thumbnail_grid_shows_cached_thumbnails(qtbot, main_window):
    browser = main_window.browser
    main_window.actions_by_name["grid_view"].trigger()
    assert browser.grid_mode and browser.grid.isVisible()
    # the grid asks for the thumbnails it paints (the tiles in view); wait until they are made in the pool
    view = browser.grid.viewport().rect()
    in_view = sum(1 for r in range(browser.proxy.rowCount())
                  if browser.grid.visualRect(browser.proxy.index(r, 0)).intersects(view))
    assert in_view >= 2
    qtbot.waitUntil(lambda: browser.thumbnails.cached_count >= in_view, timeout=20000)
    first = shown_rows(browser)[0]
    pixmap = browser.model.index(browser.model.source_row(first.image_id), 0).data(Qt.ItemDataRole.DecorationRole)
    assert pixmap is not None and 0 < max(pixmap.width(), pixmap.height()) <= 128
    cache = main_window.project.folder / THUMBNAIL_DIR
    files = list(cache.glob("*.png"))
    assert len(files) >= in_view, "thumbnails are cached on disk in the project's cache folder"
    image = main_window.grab().toImage()
    assert not image.isNull()
    main_window.actions_by_name["grid_view"].trigger()
    assert not browser.grid_mode


def test_filters_search_and_counts(qtbot, main_window):
    browser = main_window.browser
    rows = browser.model.rows
    browser.set_filter(UNLABELLED)
    assert shown_rows(browser) and all(not r.label for r in shown_rows(browser))
    browser.set_filter("Class: lesion")
    assert shown_rows(browser) and all(r.label == "lesion" for r in shown_rows(browser))
    browser.set_filter(HAS_MASK)
    assert {r.image_id for r in shown_rows(browser)} == {r.image_id for r in rows if r.has_mask}
    browser.set_filter("Split: test")
    assert all(r.split == "test" for r in shown_rows(browser))
    browser.set_filter("All images")
    browser.search.setText("demo-p003")
    patients = {r.patient for r in shown_rows(browser)}
    assert patients == {"DEMO-P003"} and len(shown_rows(browser)) == 2
    browser.search.setText("")
    counts = browser.counts.text()
    info = main_window.project.info()
    n_lesion = sum(s["classes"].get("lesion", 0) for s in info["splits"].values())
    assert f"lesion {n_lesion}" in counts and f"of {info['images']}" in counts
    assert f"train {info['splits']['train']['images']}" in counts


def test_sorting_by_label_and_back(main_window):
    browser = main_window.browser
    browser.sort_by(1)
    labels = [r.cell(1).lower() for r in shown_rows(browser)]
    assert labels == sorted(labels)
    browser.sort_by(1, Qt.SortOrder.DescendingOrder)
    labels = [r.cell(1).lower() for r in shown_rows(browser)]
    assert labels == sorted(labels, reverse=True)
    browser.sort_by(-1)
    ids = [r.image_id for r in shown_rows(browser)]
    assert ids == sorted(ids)


def test_model_disagreement_filter(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.main_window import MainWindow

    with Project.open(demo_project_dir) as project:
        labelled = [r for r in project.images() if r.label]
        project.set_proposal(labelled[0].id, "normal" if labelled[0].label == "lesion" else "lesion",
                             {"normal": 0.3, "lesion": 0.7})
        project.set_proposal(labelled[1].id, labelled[1].label)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_project(demo_project_dir)
    try:
        win.browser.set_filter(DISAGREES)
        assert [r.image_id for r in shown_rows(win.browser)] == [labelled[0].id]
        win.browser.select_row(0)
        qtbot.waitUntil(lambda: win.current_id == labelled[0].id, timeout=5000)
        assert win.label_panel.confirm_button.isEnabled()
        qtbot.keyClick(win, Qt.Key.Key_Return)  # confirm the suggestion
        record = win.project.label(labelled[0].id)
        assert record.origin == "model-confirmed" and record.class_name != labelled[0].label
        assert shown_rows(win.browser) == [], "agreeing now, so it left the filtered list"
    finally:
        win.close()


def test_labelling_under_unlabelled_filter_walks_the_queue(qtbot, main_window):
    browser = main_window.browser
    browser.set_filter(UNLABELLED)
    queue = [r.image_id for r in shown_rows(browser)]
    assert len(queue) >= 3
    browser.select_row(0)
    qtbot.waitUntil(lambda: main_window.current_id == queue[0], timeout=5000)
    qtbot.keyClick(main_window, Qt.Key.Key_1)
    assert main_window.current_id == queue[1], "the next unlabelled image, none skipped"
    qtbot.keyClick(main_window, Qt.Key.Key_S)  # skip also leaves the queue
    assert main_window.current_id == queue[2]
    assert main_window.project.label(queue[1]).status == "skipped"
    assert [r.image_id for r in shown_rows(browser)] == queue[2:]


def test_unreadable_image_gets_no_thumbnail_but_the_grid_goes_on(qtbot, main_window):
    project = main_window.project
    path = next(r for r in project.images() if r.kind == "raster")
    target = project.image_path(path.id)
    target.write_bytes(b"not an image any more")
    browser = main_window.browser
    browser.set_grid_mode(True)
    row = browser.model.rows[browser.model.source_row(path.id)]
    browser.thumbnails.pixmap(path.id, row.sha256)
    qtbot.waitUntil(lambda: browser.thumbnails.problem(path.id) is not None, timeout=10000)
    assert target.name in browser.thumbnails.problem(path.id), "the reason names the file"
    qtbot.waitUntil(lambda: browser.thumbnails.cached_count >= 3, timeout=20000)  # the others still come
