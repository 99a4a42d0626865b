"""Images that another process removed while this window showed or edited them.

A second window or ``medtl remove`` may remove an image at any time; the
store then answers ``ProjectError`` ("no image with id N") for that id.
Class labelling, the scan loader and the mask saver report such an id
here instead of raising; :class:`VanishedImages` re-reads the browser,
shows the image that took the vanished one's place and says so in one line
of the status bar. Nothing else the user made is touched (the masks of
other images are still saved, labels of other images stay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow

#: the status-bar line (also searched for by tests)
GONE_TEXT = "is no longer in the project (removed by another window or program); the list was refreshed"


class VanishedImages(QObject):
    """Turns "image N vanished" reports into one browser refresh and one status line."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        self._pending: dict[int, str] = {}  # id -> what could not be done with it ("" for nothing)
        self._row = -1
        window.labelling.vanished.connect(self.report)
        window.saver.vanished.connect(self._on_mask_lost)
        window.loader.gone.connect(self._on_load_gone)

    def report(self, image_id: int, lost: str = "") -> None:
        """``image_id`` is gone; ``lost``: what could not be kept (e.g. "The mask of image 5 could not be saved")."""
        window = self.window
        if window.project is None:
            return
        first = not self._pending
        if lost or image_id not in self._pending:
            self._pending[int(image_id)] = lost
        if not first:
            return  # one refresh for every report that arrives before it ends
        self._row = window.browser.table.currentIndex().row()
        window.browser.rows_loaded.connect(self._after_reload)
        window.refresh_browser()

    def _on_mask_lost(self, image_id: int, slice_index: object) -> None:
        where = f"image {image_id}" + ("" if slice_index is None else f", slice {slice_index}")
        self.window.seg_panel.show_save_state(self.window.saver.pending)
        self.report(image_id, f"The mask of {where} could not be saved")

    def _on_load_gone(self, key: object) -> None:
        serial, image_id = key  # type: ignore[misc]
        if serial == self.window._project_serial:
            self.report(image_id)

    def _after_reload(self) -> None:
        window = self.window
        window.browser.rows_loaded.disconnect(self._after_reload)
        pending, self._pending = self._pending, {}
        if window.current_id in pending:  # the image on screen: show the one that took its place
            window.viewer.set_scan(None)
            window.editor.clear_image()
            window.metadata_panel.set_metadata({})
            window.labelling.set_image(None)
            window.current_id = window.shown_id = None
            rows = window.browser.proxy.rowCount()
            if rows:
                window.browser.select_row(min(max(self._row, 0), rows - 1))
        texts = []
        for image_id, lost in sorted(pending.items()):
            texts.append(f"{lost}: image {image_id} {GONE_TEXT.split(';')[0]}" if lost
                         else f"Image {image_id} {GONE_TEXT}")
        text = "; ".join(texts)
        # after refresh_browser's own "N images in ..." line, which follows rows_loaded
        QTimer.singleShot(0, lambda: window.statusBar().showMessage(text, 10000))
