"""Edit ▸ Remove image / Remove images shown: confirm, remove from the project, show the next image.

The removal itself is :meth:`Project.remove_images` (one transaction, a few
milliseconds for hundreds of images): labels, masks, proposals and the
project's own copies go, files imported in place stay, and the history
keeps an ``image-removed`` row per image. Mask saves still queued are
written first, so a stroke made just before cannot land on a removed image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow


def removal_question(n: int) -> str:
    """The confirmation text for removing ``n`` images."""
    what = "this image" if n == 1 else f"these {n} images"
    return (f"Remove {what} from the project?\n\n"
            "Their labels, masks and model suggestions are deleted with them, and so are the copies the "
            "project made on import. Files imported in place stay where they are on disk. The history "
            "keeps a record of what was removed and how it was labelled.")


def remove_images(window: "MainWindow", image_ids: list[int]) -> list[int]:
    """Ask, then remove ``image_ids`` from the window's project and select the image that took the place of
    the current one; returns the removed ids (empty when cancelled or refused)."""
    project = window.project
    if project is None or not image_ids:
        return []
    answer = QMessageBox.question(window, "Remove images", removal_question(len(image_ids)),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                  QMessageBox.StandardButton.Cancel)
    if answer != QMessageBox.StandardButton.Yes:
        return []
    row = max(window.browser.table.currentIndex().row(), 0)
    window.editor.cancel_gesture()
    window.saver.flush()
    try:
        removed = project.remove_images(image_ids)
    except Exception as exc:  # noqa: BLE001 - shown to the user; nothing was removed
        QMessageBox.warning(window, "Remove images", f"Nothing was removed: {exc}")
        return []
    window.loader.clear()

    def reselect() -> None:
        proxy_rows = window.browser.proxy.rowCount()
        if proxy_rows:
            window.browser.select_row(min(row, proxy_rows - 1))
        window.statusBar().showMessage(f"Removed {len(removed)} image(s) from the project", 8000)

    window.refresh_browser(then=reselect)
    return removed


def remove_current_image(window: "MainWindow") -> list[int]:
    """Edit ▸ Remove image from project: the image on screen."""
    return remove_images(window, [] if window.current_id is None else [window.current_id])


def remove_shown_images(window: "MainWindow") -> list[int]:
    """Edit ▸ Remove images shown: every image the browser's filter and search list."""
    return remove_images(window, window.browser.shown_ids())
