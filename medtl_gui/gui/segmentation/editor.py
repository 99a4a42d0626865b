"""The segmentation editor: turns mouse gestures on the viewer into mask edits, undo and saves.

Tools (``TOOLS``): ``navigate`` (left-drag pans, the viewer's default),
``brush`` and ``eraser`` (left-drag paints/erases discs of ``radius``),
``fill`` (click floods the connected region of the clicked mask value, or
with a tolerance the region of similar image values), ``polygon`` (click
vertices, double-click or Enter to fill, Esc to cancel) and ``lasso``
(drag a free outline, filled on release). Each gesture is one undoable edit
of the current slice; after it the slice's mask is handed to the
``MaskSaver`` (written off the GUI thread). Undo history is kept per image
for the whole session, so coming back to an image still allows undo.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from medtl_gui.gui.segmentation.mask_document import MaskDocument, MaskEdit, SliceKey
from medtl_gui.gui.segmentation.mask_saver import MaskSaver
from medtl_gui.gui.segmentation.overlay import MaskOverlay
from medtl_gui.gui.segmentation.painting import MAX_BRUSH_RADIUS, fill_polygon, flood_fill, paint_line
from medtl_gui.gui.segmentation.tool_preview import ToolPreview

NAVIGATE, BRUSH, ERASER, FILL, POLYGON, LASSO = "navigate", "brush", "eraser", "fill", "polygon", "lasso"
#: the editor's tools, in toolbar order
TOOLS: tuple[str, ...] = (NAVIGATE, BRUSH, ERASER, FILL, POLYGON, LASSO)
_LEFT_BUTTON_TOOLS = frozenset({BRUSH, ERASER, FILL, POLYGON, LASSO})
#: documents without edits kept for images already left (more are dropped, least recently shown first;
#: they hold copies of the stored masks, so browsing 10,000 images would otherwise keep all their masks)
UNEDITED_DOCUMENTS_KEPT = 16


class SegmentationEditor(QObject):
    """Mask editing state of the viewer: current image/slice, tool, label value, documents, undo.

    Signals: ``mask_edited(image_id, slice_index)`` after an edit/undo/redo
    changed a mask (its save is queued), ``slice_requested(index)`` when undo/redo
    changed another slice than the one on screen, ``state_changed()`` when the tool,
    radius or undo availability changed, ``message(text)`` for the status bar.
    """

    mask_edited = Signal(int, object)
    slice_requested = Signal(int)
    state_changed = Signal()
    message = Signal(str)

    def __init__(self, overlay: MaskOverlay, preview: ToolPreview, saver: MaskSaver,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.overlay = overlay
        self.preview = preview
        self.saver = saver
        self.project: Any = None
        self.documents: dict[int, MaskDocument] = {}
        self.document: MaskDocument | None = None
        self.slice_index: SliceKey = None
        self.tool = NAVIGATE
        self.label_value = 1
        self.radius = 5
        self.fill_tolerance = 0.0
        self.image_source = None  # callable returning the 2D image on screen (for tolerance fill)
        self._last_point: tuple[float, float] | None = None
        self._path: list[tuple[float, float]] = []
        self._stroke_tool: str | None = None

    # -- project and image ---------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """Start over with another project (the caller flushed the saver first)."""
        self.project = project
        self.documents.clear()
        self.document = None
        self.overlay.show(None, None)
        self.cancel_gesture()
        self.state_changed.emit()

    def set_image(self, image_id: int, plane_shape: tuple[int, int], n_slices: int,
                  masks: dict[SliceKey, np.ndarray] | None, proposals: dict[SliceKey, np.ndarray] | None,
                  slice_index: SliceKey) -> MaskDocument:
        """Show an image's masks; its document is created from ``masks`` on first sight, then kept."""
        self.cancel_gesture()
        document = self.documents.get(int(image_id))
        if document is None or document.plane_shape != tuple(plane_shape):
            document = MaskDocument(image_id, plane_shape, n_slices, masks, proposals)
        self.documents.pop(int(image_id), None)
        self.documents[int(image_id)] = document  # most recently shown last
        self.document = document
        self._drop_unedited_documents()
        self.set_slice(slice_index)
        self.state_changed.emit()
        return document

    def _drop_unedited_documents(self) -> None:
        """Forget the oldest documents that hold no edit (no undo or redo) beyond ``UNEDITED_DOCUMENTS_KEPT``.

        Such a document equals what the project stores, so it is rebuilt from
        the loaded masks when its image comes back; edited ones keep their
        undo history for the whole session.
        """
        unedited = [key for key, doc in self.documents.items()
                    if doc is not self.document and not (doc.can_undo or doc.can_redo or doc.editing)]
        for key in unedited[:max(0, len(unedited) - UNEDITED_DOCUMENTS_KEPT)]:
            del self.documents[key]

    def clear_image(self) -> None:
        """No image on screen (e.g. it failed to load)."""
        self.cancel_gesture()
        self.document = None
        self.overlay.show(None, None)
        self.state_changed.emit()

    def set_slice(self, slice_index: SliceKey) -> None:
        """Follow the viewer to another slice."""
        if self.document is None:
            return
        if self.document.editing:
            self.cancel_gesture()
        self.slice_index = None if self.document.n_slices == 1 else int(slice_index or 0)
        self._show_current()

    # -- settings --------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        """Pick a tool from ``TOOLS``."""
        if tool not in TOOLS:
            raise ValueError(f"unknown segmentation tool {tool!r} (tools: {', '.join(TOOLS)})")
        self.cancel_gesture()
        self.tool = tool
        if tool not in (BRUSH, ERASER):
            self.preview.hide_brush()
        self.state_changed.emit()

    def set_label_value(self, value: int) -> None:
        """The mask value (segmentation label) that brush, fill and polygon paint."""
        if not 1 <= int(value) <= 255:
            raise ValueError(f"a segmentation label value must be 1..255, not {value}")
        self.label_value = int(value)
        self.state_changed.emit()

    def set_radius(self, radius: int) -> None:
        """Brush/eraser radius in pixels (0..MAX_BRUSH_RADIUS)."""
        radius = int(np.clip(radius, 0, MAX_BRUSH_RADIUS))
        if radius != self.radius:
            self.radius = radius
            self.state_changed.emit()
            self.message.emit(f"Brush radius {radius} px")

    def change_radius(self, step: int) -> None:
        """``[`` / ``]``: smaller or larger brush (steps scale with the size)."""
        delta = max(1, self.radius // 5)
        self.set_radius(self.radius + (delta if step > 0 else -delta))

    # -- undo / redo / whole-slice edits -------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self.document is not None and self.document.can_undo

    @property
    def can_redo(self) -> bool:
        return self.document is not None and self.document.can_redo

    def undo(self) -> bool:
        """Undo the last edit of the current image (any slice); True when something was undone."""
        return self._apply_history(self.document.undo() if self.document else None, "Undo")

    def redo(self) -> bool:
        """Redo the last undone edit of the current image."""
        return self._apply_history(self.document.redo() if self.document else None, "Redo")

    def accept_proposal(self) -> bool:
        """Replace the current slice's mask by the model's proposal (origin "model-confirmed")."""
        if self.document is None:
            return False
        proposal = self.document.proposal(self.slice_index)
        if proposal is None:
            self.message.emit("No model proposal for this slice")
            return False
        edit = self.document.replace(self.slice_index, proposal, "accept proposal", origin="model-confirmed")
        return self._after_edit(edit)

    def clear_slice(self) -> bool:
        """Erase every label of the current slice (undoable)."""
        if self.document is None:
            return False
        edit = self.document.replace(self.slice_index, np.zeros(self.document.plane_shape, np.uint8), "clear")
        return self._after_edit(edit)

    # -- pointer gestures (called by the viewer with image coordinates) ------------------
    def wants_left_button(self) -> bool:
        """True when left-button gestures edit the mask rather than pan."""
        return self.document is not None and self.tool in _LEFT_BUTTON_TOOLS

    def drag_started(self, start: tuple[float, float], point: tuple[float, float]) -> None:
        """A left-button drag began at ``start`` and is now at ``point``."""
        if not self.wants_left_button():
            return
        self._stroke_tool = self.tool
        if self.tool in (BRUSH, ERASER):
            mask = self._begin()
            paint_line(mask, start, point, self.radius, self._paint_value(self.tool))
            self._last_point = point
            self.overlay.refresh()
        elif self.tool == LASSO:
            self._path = [start, point]
            self.preview.show_path(self._path, closed=True)

    def drag_moved(self, point: tuple[float, float]) -> None:
        """The drag went on to ``point``."""
        if self._stroke_tool in (BRUSH, ERASER) and self.document is not None and self.document.editing:
            paint_line(self.document.mask(self.slice_index), self._last_point or point, point, self.radius,
                       self._paint_value(self._stroke_tool))
            self._last_point = point
            self.overlay.refresh()
            self.preview.show_brush(point[0], point[1], self.radius)
        elif self._stroke_tool == LASSO:
            if not self._path or np.hypot(point[0] - self._path[-1][0], point[1] - self._path[-1][1]) >= 0.5:
                self._path.append(point)
                self.preview.show_path(self._path, closed=True)

    def drag_finished(self, point: tuple[float, float]) -> None:
        """The button was released at ``point``: the gesture becomes one edit."""
        tool = self._stroke_tool
        if tool in (BRUSH, ERASER):
            self.drag_moved(point)  # the release point may come after moves the rate limit dropped
            self._stroke_tool = None
            self._commit("erase" if tool == ERASER else "brush")
        elif tool == LASSO:
            self._stroke_tool = None
            self._path.append(point)
            points, self._path = self._path, []
            self.preview.hide_path()
            self._fill_outline(points, "lasso")
        elif tool in (FILL, POLYGON):  # a click whose hand moved a little is still a click
            self._stroke_tool = None
            self.clicked(point)
        self._stroke_tool = None
        self._last_point = None

    def clicked(self, point: tuple[float, float], double: bool = False) -> None:
        """A left click (no drag) at ``point``."""
        if not self.wants_left_button():
            return
        if self.tool in (BRUSH, ERASER):
            mask = self._begin()
            paint_line(mask, point, point, self.radius, self._paint_value(self.tool))
            self.overlay.refresh()
            self._commit("erase" if self.tool == ERASER else "brush")
        elif self.tool == FILL:
            mask = self._begin()
            image = self.image_source() if self.image_source is not None else None
            flood_fill(mask, point, self.label_value, image=image, tolerance=self.fill_tolerance or None)
            self.overlay.refresh()
            self._commit("fill")
        elif self.tool == POLYGON:
            if double:
                self.close_polygon()
                return
            self._path.append(point)
            self.preview.show_path(self._path)

    def hovered(self, point: tuple[float, float] | None) -> None:
        """The pointer moved over the image (None: it left); updates the brush circle and rubber band."""
        if point is None:
            self.preview.hide_brush()
            return
        if self.tool in (BRUSH, ERASER) and self.document is not None:
            self.preview.show_brush(point[0], point[1], self.radius)
        if self.tool == POLYGON and self._path:
            self.preview.show_path(self._path, cursor=point)

    def close_polygon(self) -> bool:
        """Fill the polygon drawn so far (Enter / double-click)."""
        points, self._path = self._path, []
        self.preview.hide_path()
        return self._fill_outline(points, "polygon")

    def cancel_gesture(self) -> None:
        """Esc: forget an unfinished polygon/lasso/stroke (a stroke's pixels are restored)."""
        if self.document is not None and self.document.editing:
            self.document.cancel()
            self.overlay.refresh()
        self._path = []
        self._stroke_tool = None
        self._last_point = None
        self.preview.hide_path()

    @property
    def polygon_points(self) -> list[tuple[float, float]]:
        """Vertices of the polygon being drawn."""
        return list(self._path)

    # -- internals ---------------------------------------------------------------------
    def _paint_value(self, tool: str | None) -> int:
        return 0 if tool == ERASER else self.label_value

    def _begin(self) -> np.ndarray:
        assert self.document is not None
        mask = self.document.begin(self.slice_index)
        if self.overlay.shown_mask is not mask:
            self.overlay.show(mask, self.document.proposal(self.slice_index))
        return mask

    def _fill_outline(self, points: list[tuple[float, float]], description: str) -> bool:
        if self.document is None or len(points) < 3:
            return False
        mask = self._begin()
        fill_polygon(mask, points, self.label_value)
        self.overlay.refresh()
        return self._commit(description)

    def _commit(self, description: str) -> bool:
        assert self.document is not None
        return self._after_edit(self.document.commit(description))

    def _after_edit(self, edit: MaskEdit | None) -> bool:
        if edit is None:
            self.overlay.refresh()
            return False
        self._save(edit, edit.origin)
        self._show_current()
        self.state_changed.emit()
        return True

    def _apply_history(self, edit: MaskEdit | None, verb: str) -> bool:
        if edit is None or self.document is None:
            self.message.emit(f"Nothing to {verb.lower()}")
            return False
        self._save(edit, "human")
        if edit.slice_index != self.slice_index:
            self.message.emit(f"{verb}: {edit.description} on slice {edit.slice_index}")
            self.slice_requested.emit(int(edit.slice_index or 0))
        else:
            self.message.emit(f"{verb}: {edit.description}")
            self._show_current()
        self.state_changed.emit()
        return True

    def _save(self, edit: MaskEdit, origin: str) -> None:
        assert self.document is not None
        mask = self.document.mask(edit.slice_index)
        self.saver.save(self.project, self.document.image_id, edit.slice_index, mask, origin=origin)
        self.mask_edited.emit(self.document.image_id, edit.slice_index)

    def _show_current(self) -> None:
        if self.document is None:
            self.overlay.show(None, None)
            return
        self.overlay.show(self.document.existing_mask(self.slice_index), self.document.proposal(self.slice_index))
