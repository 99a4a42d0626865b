"""Scale (issue 10, part 5): large projects stay lazy and bounded; big volumes load off the GUI thread.

- the browser's filter proxy over 5,000 rows answers the view for the rows
  it paints only, filters in one pass, and keeps selections across sort
  and filter changes;
- the thumbnail cache stays within its byte budget and drops requests for
  rows scrolled long past;
- the segmentation editor keeps a bounded number of unedited mask
  documents (edited ones keep their undo);
- a volume is decoded in the loader pool while the GUI thread goes on
  processing events, and only one neighbouring volume is prefetched.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt, QTimer
from PySide6.QtWidgets import QTableView

from medtl_gui.gui.browser_filter import ImageFilterProxy
from medtl_gui.gui.browser_model import ROW_ROLE, UNLABELLED, BrowserRow, ImageTableModel, load_rows

N_ROWS = 5000


def _fake_project(folder, n: int):
    """A project of ``n`` image rows recorded through the store's bulk insert (the files need not exist)."""
    from medtl_gui.core.project import Project
    from medtl_gui.core.project.history import utc_now
    from medtl_gui.core.project.ingest import PreparedImage, insert_image

    project = Project.create(folder)
    for name in ("normal", "lesion"):
        project.add_class(name)
    now = utc_now()
    template = PreparedImage(path="", copied=False, sha256="", identity="", kind="raster", modality=None,
                             patient_id=None, study_uid=None, series_uid=None, shape=(16, 16), n_frames=1,
                             is_color=False, source="")
    with project.database.write() as conn:
        for i in range(n):
            sha = f"{i:064x}"
            prepared = replace(template, path=f"/data/case_{i:05d}.png", sha256=sha, identity=f"sha256:{sha}",
                               source=f"/data/case_{i:05d}.png", patient_id=f"P{i // 2:05d}")
            image_id = insert_image(conn, prepared, now=now, user="test")
            if i % 3:
                project.set_label(image_id, ("normal", "lesion")[i % 2], user="test")
    return project


class _CountingModel(ImageTableModel):
    """Counts the rows the views ask about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[int] = set()

    def row_data(self, row: BrowserRow, column: int, role: int):
        self.asked.add(row.image_id)
        return super().row_data(row, column, role)


def test_browser_over_5000_rows_is_lazy_and_keeps_the_selection(qtbot, tmp_path):
    project = _fake_project(tmp_path / "big", N_ROWS)
    rows = load_rows(project, {})
    assert len(rows) == N_ROWS
    model = _CountingModel()
    proxy = ImageFilterProxy()
    proxy.setSourceModel(model)
    model.set_rows(rows)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    assert proxy.rowCount() == N_ROWS
    assert 0 < len(model.asked) < 100, "the view asks only about the rows on screen"

    def shown_ids() -> list[int]:  # through the mapping, not data(): does not count as asked
        return [model.rows[proxy.mapToSource(proxy.index(i, 0)).row()].image_id for i in range(proxy.rowCount())]

    model.asked.clear()
    proxy.set_mode(UNLABELLED)
    assert shown_ids() == [r.image_id for r in model.rows if not r.label]
    proxy.set_text("case_0001")  # case_00010 .. case_00019
    assert set(shown_ids()) == {r.image_id for r in model.rows if not r.label and "case_0001" in r.search_text}
    qtbot.wait(20)
    assert len(model.asked) < 100, "filtering runs over the rows in memory, not through the view's data()"

    # a selection follows its image through filter and sort changes
    proxy.set_text("")
    proxy.set_mode("All images")
    target = rows[1234].image_id
    view.setCurrentIndex(proxy.index(1234, 0))
    current = QPersistentModelIndex(proxy.index(1234, 0))
    proxy.sort(1, Qt.SortOrder.DescendingOrder)
    assert current.isValid() and current.data(ROW_ROLE).image_id == target
    assert view.currentIndex().data(ROW_ROLE).image_id == target
    assert proxy.index(0, 0).data(ROW_ROLE).label == "normal", "descending by label: 'normal' first"
    label = current.data(ROW_ROLE).label
    proxy.set_mode(f"Class: {label}")
    assert current.isValid() and current.data(ROW_ROLE).image_id == target
    proxy.set_mode(UNLABELLED)
    assert not current.isValid(), "an image filtered out leaves the selection"

    # an edited row leaves (and enters) a filter on its own
    shown_before = proxy.rowCount()
    first = proxy.index(0, 0).data(ROW_ROLE)
    with qtbot.waitSignal(proxy.rowsRemoved, timeout=1000):
        model.update_rows([first._replace(label="lesion", status="labelled")])
    assert proxy.rowCount() == shown_before - 1
    with qtbot.waitSignal(proxy.rowsInserted, timeout=1000):
        model.update_rows([first])
    assert proxy.rowCount() == shown_before and proxy.index(0, 0).data(ROW_ROLE).image_id == first.image_id
    project.close()


def _png_project(folder, n: int, size: int = 48):
    from PIL import Image

    from medtl_gui.core.project import Project

    project = Project.create(folder / "project")
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"img_{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(path)
        project.add_image(path)
    return project


def test_thumbnail_cache_stays_within_its_byte_budget(qtbot, tmp_path):
    from medtl_gui.gui.thumbnails import ThumbnailCache

    from PySide6.QtGui import QImage, QPixmap

    project = _png_project(tmp_path, 12)
    probe = QImage(48, 48, QImage.Format.Format_Grayscale8)
    probe.fill(0)
    one = 48 * 48 * QPixmap.fromImage(probe).depth() // 8  # bytes of one 48 x 48 thumbnail
    cache = ThumbnailCache(memory_bytes=3 * one, threads=1)
    ready: list[int] = []
    cache.ready.connect(ready.append)
    cache.set_project(project)
    records = project.images()
    for record in records:
        assert cache.pixmap(record.id, record.sha256) is None, "made in the background"
    qtbot.waitUntil(lambda: len(ready) == len(records), timeout=20000)
    assert cache.cached_count == 3 and cache.cached_bytes <= 3 * one
    last = next(r for r in records if r.id == ready[-1])
    assert cache.pixmap(last.id, last.sha256) is not None, "the most recent thumbnails stay in memory"
    cache.wait()
    project.close()


def test_thumbnail_requests_overtaken_by_scrolling_are_dropped_then_asked_again(qtbot, tmp_path, monkeypatch):
    from medtl_gui.gui import thumbnails

    monkeypatch.setattr(thumbnails, "STALE_REQUESTS", 3)
    project = _png_project(tmp_path, 12)
    cache = thumbnails.ThumbnailCache(threads=1)
    ready: list[int] = []
    cache.ready.connect(ready.append)
    cache.set_project(project)
    records = project.images()
    for record in records:  # scrolled quickly past every row
        cache.pixmap(record.id, record.sha256)
    assert cache.wait()
    qtbot.wait(100)  # the queued signals arrive
    made = set(ready)
    assert records[-1].id in made, "the rows on screen now come first"
    dropped = [r for r in records if r.id not in made]
    assert dropped, "requests for rows long scrolled past were dropped unstarted"
    again = dropped[0]
    assert cache.pixmap(again.id, again.sha256) is None
    qtbot.waitUntil(lambda: again.id in ready, timeout=10000)
    cache.wait()
    project.close()


def test_unedited_mask_documents_are_bounded_and_edited_ones_keep_their_undo(qtbot, main_window, monkeypatch):
    from medtl_gui.gui.segmentation import editor as editor_module

    monkeypatch.setattr(editor_module, "UNEDITED_DOCUMENTS_KEPT", 2)
    win = main_window
    editor = win.editor
    first = win.current_id
    editor.set_tool("brush")
    editor.drag_started((10.5, 10.5), (20.5, 10.5))
    editor.drag_finished((30.5, 12.5))
    assert editor.document.can_undo
    shown: list[int] = []
    win.image_shown.connect(shown.append)
    for _ in range(8):
        before = len(shown)
        assert win.browser.step(+1)
        qtbot.waitUntil(lambda: len(shown) > before, timeout=10000)
    assert len(editor.documents) <= 2 + 2, "at most 2 unedited documents, the current one and the edited one"
    assert first in editor.documents and editor.documents[first].can_undo
    assert win.browser.select_image(first)
    qtbot.waitUntil(lambda: win.current_id == first and editor.document is not None
                    and editor.document.image_id == first, timeout=10000)
    assert editor.document.can_undo, "coming back to an edited image still allows undo"
    win.saver.flush()


def test_counts_follow_label_edits_without_recounting(qtbot, main_window, monkeypatch):
    from medtl_gui.gui import browser_model

    win = main_window
    browser = win.browser
    recounts: list[int] = []
    real_init = browser_model.RowTotals.__init__

    def counting_init(self, rows=()):
        recounts.append(len(rows))
        real_init(self, rows)

    monkeypatch.setattr(browser_model.RowTotals, "__init__", counting_init)
    for class_name in ("lesion", None, "normal"):
        assert win.labelling.assign(class_name, advance=True)
    assert all(n == 0 for n in recounts), "an edit updates the totals, it does not recount every row"
    monkeypatch.undo()
    assert browser_model.RowTotals(browser.model.rows).text() in browser.counts.text()
    win.saver.flush()


def _volume_project(folder, slices: int = 40, n_volumes: int = 3):
    import SimpleITK as sitk

    from medtl_gui.core.project import Project

    volume = (np.arange(slices * 96 * 96, dtype=np.int32).reshape(slices, 96, 96) % 2000 - 1000).astype(np.int16)
    paths = []
    for k, name in enumerate(("a_volume.nii", "b_volume.nii", "c_volume.nii")[:n_volumes]):
        path = folder / name
        sitk.WriteImage(sitk.GetImageFromArray(volume + k), str(path))  # distinct contents: two images
        paths.append(path)
    project = Project.create(folder / "project")
    ids = [project.add_image(p) for p in paths]
    project.close()
    return folder / "project", ids


def test_volume_loads_off_the_gui_thread_while_events_are_processed(qtbot, tmp_path, isolated_settings, monkeypatch):
    from medtl_gui.gui import main_window as main_window_module
    from medtl_gui.gui.main_window import MainWindow

    project_dir, ids = _volume_project(tmp_path)
    gui_thread = threading.get_ident()
    loads: list[tuple[int, int]] = []  # (image id, thread)
    gui_ticked = threading.Event()
    real_load = main_window_module.load_image

    def gated_load(project, image_id):
        loads.append((image_id, threading.get_ident()))
        # the load can only finish after the GUI thread ran a timer: were it on the GUI thread, it would hang
        assert gui_ticked.wait(10), "the GUI thread processed no event while the volume loaded"
        return real_load(project, image_id)

    monkeypatch.setattr(main_window_module, "load_image", gated_load)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(project_dir)
    assert win.viewer.scan is None, "open_project returns before the volume is decoded"
    QTimer.singleShot(20, gui_ticked.set)
    qtbot.waitUntil(lambda: win.viewer.n_slices == 40, timeout=20000)
    assert loads and all(thread != gui_thread for _id, thread in loads)
    assert win.current_id == ids[0]
    assert win.loader.wait(10000)
    assert sorted(image_id for image_id, _t in loads) == ids[:2], "of the neighbouring volumes, one is prefetched"
    win.actions_by_name["next_slice"].trigger()
    assert win.viewer.slice_index == 21 and win.viewer.image_item.image.shape == (96, 96)
    win.close()
