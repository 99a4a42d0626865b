"""Classification labelling of the image on screen: class keys, uncertain/skip, confirm suggestion, notes.

Every change goes straight to the project store (one transaction with its
history row); there is no Save button. Each change is announced as a
``LabelChange`` (before and after) so that the window's undo timeline
(``edit_timeline.py``) can write the old label back through the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from PySide6.QtCore import QObject, Signal

from medtl_gui.gui.label_panel import LabelPanel
from medtl_gui.gui.label_styles import class_for_key, styled_classes

if TYPE_CHECKING:  # the store is imported when a project is opened, not at start-up
    from medtl_gui.core.project import LabelClass


class LabelState(NamedTuple):
    """What an image's label row holds (None stands for "no label")."""

    class_name: str | None
    status: str
    note: str | None
    origin: str

    def text(self) -> str:
        """How the state reads in a status message ("lesion", "uncertain", "lesion (uncertain)")."""
        if self.status == "labelled":
            return self.class_name or "unlabelled"
        return f"{self.class_name} ({self.status})" if self.class_name else self.status


@dataclass(frozen=True)
class LabelChange:
    """One label edit of one image: the label before and after (None: unlabelled)."""

    image_id: int
    before: LabelState | None
    after: LabelState | None


def state_text(state: LabelState | None) -> str:
    """A label state for messages ("unlabelled" for none)."""
    return "unlabelled" if state is None else state.text()


class ClassLabelling(QObject):
    """Connects the ``LabelPanel`` and the class keys to the project store.

    ``edited(image_id, advance)`` after a label change (advance: the user
    expects the next image); ``changed(LabelChange)`` after a user's edit
    (not after ``restore``); ``message(text)`` for the status bar;
    ``vanished(image_id)`` when the image is no longer in the project
    (another window or process removed it): nothing is stored then, and the
    window refreshes its list (``vanished_images.py``).
    """

    edited = Signal(int, bool)
    changed = Signal(object)  # LabelChange
    message = Signal(str)
    vanished = Signal(int)

    def __init__(self, panel: LabelPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.project: Any = None
        self.image_id: int | None = None
        self.classes: list["LabelClass"] = []
        panel.label_requested.connect(self.assign)
        panel.status_requested.connect(self.mark)
        panel.clear_requested.connect(lambda: self.assign(None))
        panel.confirm_requested.connect(self.confirm)
        panel.note_edited.connect(self.save_note)

    def set_project(self, project: Any) -> None:
        """Label images of this project from now on."""
        self.project = project
        self.image_id = None
        self.reload_classes()

    def reload_classes(self) -> None:
        """Re-read the classes (after the label-set editor changed them)."""
        self.classes = styled_classes(self.project) if self.project is not None else []
        self.panel.set_classes([(c.name, c.color, c.shortcut) for c in self.classes])
        self.show_state()

    def set_image(self, image_id: int | None) -> None:
        """The image the keys now label."""
        self.image_id = image_id
        self.show_state()

    # -- edits -----------------------------------------------------------------------
    def _store(self, write: Callable[[], Any]) -> bool:
        """Run one store write on the image; False (and ``vanished``) when the image is gone meanwhile."""
        from medtl_gui.core.project import ProjectError

        try:
            write()
        except ProjectError:
            if not self._vanish():
                raise
            return False
        return True

    def _vanish(self) -> bool:
        """If the image on the keys is no longer in the project: forget it, emit ``vanished``, True."""
        from medtl_gui.gui.image_loading import image_is_gone

        image_id = self.image_id
        if image_id is None or not image_is_gone(self.project, image_id):
            return False
        self.image_id = None
        self.panel.show_state("", None, None, enabled=False)
        self.vanished.emit(image_id)
        return True

    def assign(self, class_name: str | None, advance: bool = True) -> bool:
        """Give the image a class (None clears its label); True when stored."""
        if self.project is None or self.image_id is None:
            return False
        before = self.label_state(self.image_id)
        image_id = self.image_id
        if not self._store(lambda: self.project.set_label(image_id, class_name, origin="human")):
            return False
        self.message.emit(f"Labelled {class_name}" if class_name else "Label cleared")
        self._after(advance and class_name is not None, before)
        return True

    def assign_key(self, key: str) -> bool:
        """A class shortcut key ("1".."9") was pressed."""
        cls = class_for_key(self.classes, key)
        if cls is None:
            self.message.emit(f"No class has the key {key} (Edit ▸ Classes…)")
            return False
        return self.assign(cls.name)

    def mark(self, status: str) -> bool:
        """Mark the image "uncertain" or "skipped" (keeping no class) and move on."""
        if self.project is None or self.image_id is None:
            return False
        before = self.label_state(self.image_id)
        image_id = self.image_id
        if not self._store(lambda: self.project.set_label(image_id, None, origin="human", status=status)):
            return False
        self.message.emit(f"Marked {status}")
        self._after(True, before)
        return True

    def confirm(self) -> bool:
        """Accept the model's suggestion as the label (origin "model-confirmed")."""
        if self.project is None or self.image_id is None:
            self.message.emit("No model suggestion to confirm")
            return False
        if self.project.proposal(self.image_id) is None:
            if not self._vanish():
                self.message.emit("No model suggestion to confirm")
            return False
        before = self.label_state(self.image_id)
        image_id, confirmed = self.image_id, []
        if not self._store(lambda: confirmed.append(self.project.confirm_proposal(image_id))):
            return False
        self.message.emit(f"Confirmed suggestion {confirmed[0].class_name}")
        self._after(True, before)
        return True

    def label_state(self, image_id: int) -> LabelState | None:
        """The image's label as stored (None: unlabelled)."""
        record = self.project.label(image_id)
        if record is None:
            return None
        return LabelState(record.class_name, record.status, record.note, record.origin)

    def restore(self, image_id: int, state: LabelState | None, origin: str = "human") -> bool:
        """Write ``state`` back as the image's label through the store (undo/redo: one history row,
        ``origin``); False with a message when it cannot be (e.g. its class was deleted meanwhile)."""
        from medtl_gui.core.project import ProjectError

        if self.project is None:
            return False
        try:
            if state is None:
                self.project.set_label(image_id, None, origin=origin)
            else:
                self.project.set_label(image_id, state.class_name, origin=origin, note=state.note,
                                       status=state.status)
        except (ProjectError, ValueError) as exc:
            self.message.emit(f"Cannot restore the label of image {image_id}: {exc}")
            return False
        if image_id == self.image_id:
            self.show_state()
        self.edited.emit(image_id, False)
        return True

    def save_note(self, text: str) -> None:
        """Store the note of the image (empty clears it)."""
        if self.project is not None and self.image_id is not None:
            image_id = self.image_id
            if self._store(lambda: self.project.set_note(image_id, text)):
                self.message.emit("Note saved")

    # -- display -----------------------------------------------------------------------
    def show_state(self) -> None:
        """Show the image's label, the model's suggestion and the note in the panel."""
        if self.project is None or self.image_id is None:
            self.panel.show_state("", None, None, enabled=False)
            return
        from medtl_gui.core.project import ProjectError

        try:
            label = self.project.label(self.image_id)
            proposal = self.project.proposal(self.image_id)
            note = self.project.note(self.image_id)
        except ProjectError:
            if not self._vanish():
                raise
            return
        text = ""
        if label is not None:
            text = label.class_name or ""
            if label.status != "labelled":
                text = f"{text} ({label.status})" if text else label.status
            if label.origin != "human":
                text += f" — {label.origin}"
        suggestion = None
        if proposal is not None:
            prob = (proposal.probabilities or {}).get(proposal.class_name)
            suggestion = proposal.class_name + (f" ({prob:.0%})" if prob is not None else "")
        self.panel.show_state(text, suggestion, note)

    def _after(self, advance: bool, before: LabelState | None) -> None:
        image_id = self.image_id
        self.show_state()
        if image_id is not None:
            after = self.label_state(image_id)
            if after != before:
                self.changed.emit(LabelChange(image_id, before, after))
            self.edited.emit(image_id, advance)
