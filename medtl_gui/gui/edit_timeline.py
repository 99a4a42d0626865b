"""One undo/redo for the window: Ctrl+Z undoes the last edit, whether a class label or a mask stroke.

Class labels and masks keep their own undo data (a label change records
the label before and after, ``class_labelling.LabelChange``; a mask edit
lives in its image's ``MaskDocument``, kept for the session). The
``EditTimeline`` records the *order* in which they happened and replays
undo/redo on the right one:

- a label change can be undone from any image (labelling advances to the
  next image, so the wrong label is usually on the image just left): the
  old label is written back through the store (a history row, origin
  "human") and the browser goes back to that image;
- a mask edit is undone on its own image (as before: coming back to an
  edited image still allows undo), so Ctrl+Z skips the mask edits of other
  images and takes the newest label change or mask edit of the image on
  screen.

A new edit clears what could be redone. Mask undo/redo the timeline does
not know (e.g. history from before a project switch was forgotten) still
reaches the editor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from medtl_gui.gui.class_labelling import ClassLabelling, LabelChange, state_text

if TYPE_CHECKING:
    from medtl_gui.gui.segmentation.editor import SegmentationEditor

#: edits remembered for undo (the oldest are forgotten beyond this)
TIMELINE_LIMIT = 1000
LABEL, MASK = "label", "mask"


@dataclass(frozen=True)
class TimelineEntry:
    """One edit in the order the user made it: a label change, or a mask edit of an image."""

    kind: str  # LABEL or MASK
    image_id: int
    change: LabelChange | None = None


class EditTimeline(QObject):
    """Orders label changes and mask edits; ``undo``/``redo`` replay the newest one that applies.

    Signals: ``state_changed()`` when what can be undone/redone changed,
    ``message(text)`` for the status bar, ``label_restored(image_id)`` after
    an undo/redo wrote a label (the window shows that image).
    """

    state_changed = Signal()
    message = Signal(str)
    label_restored = Signal(int)

    def __init__(self, labelling: ClassLabelling, editor: "SegmentationEditor", parent: QObject | None = None):
        super().__init__(parent)
        self.labelling = labelling
        self.editor = editor
        self.done: list[TimelineEntry] = []
        self.undone: list[TimelineEntry] = []
        self._replaying = False
        labelling.changed.connect(self._on_label_change)
        editor.mask_edited.connect(self._on_mask_edit)
        editor.state_changed.connect(self.state_changed)

    # -- what can be done ------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return any(e.kind == LABEL for e in self.done) or self.editor.can_undo

    @property
    def can_redo(self) -> bool:
        return any(e.kind == LABEL for e in self.undone) or self.editor.can_redo

    def clear(self) -> None:
        """Forget every edit (another project was opened)."""
        self.done.clear()
        self.undone.clear()
        self.state_changed.emit()

    # -- undo / redo -----------------------------------------------------------------------
    def undo(self) -> bool:
        """Undo the newest label change (any image) or mask edit (image on screen); True when done."""
        entry = self._newest(self.done, lambda: self.editor.can_undo)
        if entry is None:
            if self.editor.can_undo:  # mask history the timeline does not know
                return self._replay_mask(self.editor.undo, self.undone)
            self.message.emit("Nothing to undo")
            return False
        self.done.remove(entry)
        if entry.kind == MASK:
            ok = self._replay_mask(self.editor.undo, None)
        else:
            assert entry.change is not None
            ok = self._write_label(entry.change.image_id, entry.change.before, "human", "Undo")
        if ok:
            self.undone.append(entry)
        self.state_changed.emit()
        return ok

    def redo(self) -> bool:
        """Redo the newest undone label change or mask edit of the image on screen."""
        entry = self._newest(self.undone, lambda: self.editor.can_redo)
        if entry is None:
            if self.editor.can_redo:
                return self._replay_mask(self.editor.redo, self.done)
            self.message.emit("Nothing to redo")
            return False
        self.undone.remove(entry)
        if entry.kind == MASK:
            ok = self._replay_mask(self.editor.redo, None)
        else:
            change = entry.change
            assert change is not None
            origin = change.after.origin if change.after is not None else "human"
            ok = self._write_label(change.image_id, change.after, origin, "Redo")
        if ok:
            self.done.append(entry)
        self.state_changed.emit()
        return ok

    # -- internals -------------------------------------------------------------------------
    def _current_image(self) -> int | None:
        document = self.editor.document
        return None if document is None else int(document.image_id)

    def _newest(self, stack: list[TimelineEntry], mask_available: Callable[[], bool]) -> TimelineEntry | None:
        """The newest entry of ``stack`` that applies here; stale mask entries of this image are dropped."""
        current = self._current_image()
        for entry in reversed(list(stack)):
            if entry.kind == LABEL:
                return entry
            if entry.image_id == current:
                if mask_available():
                    return entry
                stack.remove(entry)  # the editor no longer holds this edit (e.g. its document was rebuilt)
        return None

    def _replay_mask(self, action: Callable[[], bool], record_in: list[TimelineEntry] | None) -> bool:
        image_id = self._current_image()
        self._replaying = True
        try:
            ok = bool(action())
        finally:
            self._replaying = False
        if ok and record_in is not None and image_id is not None:
            record_in.append(TimelineEntry(MASK, image_id))
        self.state_changed.emit()
        return ok

    def _write_label(self, image_id: int, state: Any, origin: str, verb: str) -> bool:
        if not self.labelling.restore(image_id, state, origin=origin):
            return False
        self.message.emit(f"{verb}: label of image {image_id} is {state_text(state)}")
        self.label_restored.emit(image_id)
        return True

    def _record(self, entry: TimelineEntry) -> None:
        self.done.append(entry)
        del self.done[:-TIMELINE_LIMIT]
        self.undone.clear()
        self.state_changed.emit()

    def _on_label_change(self, change: LabelChange) -> None:
        self._record(TimelineEntry(LABEL, change.image_id, change))

    def _on_mask_edit(self, image_id: int, _slice_index: object) -> None:
        if not self._replaying:  # undo/redo of the editor itself is not a new edit
            self._record(TimelineEntry(MASK, int(image_id)))
