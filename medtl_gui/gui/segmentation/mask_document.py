"""The masks of one image while it is being edited, with unlimited undo and redo (no Qt).

A ``MaskDocument`` holds one uint8 label array per slice (``None`` for a 2D
image, 0..n-1 for a volume or multi-frame file) and the model's proposed
masks, read-only. Edits are recorded as ``MaskEdit`` patches (the changed
box before and after), so undo history stays small however many strokes
there are. The document is the editor's working copy; saving it to the
project is the caller's job (see ``mask_saver.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medtl_gui.gui.segmentation.painting import Box, changed_box

#: a slice of an image: None for a 2D image, else the index along the first axis
SliceKey = int | None


@dataclass(frozen=True)
class MaskEdit:
    """One undoable change of one slice's mask."""

    slice_index: SliceKey
    box: Box
    before: np.ndarray
    after: np.ndarray
    description: str
    origin: str = "human"


class MaskDocument:
    """Label masks (and proposals) of one image with an undo/redo history shared by its slices."""

    def __init__(
        self,
        image_id: int,
        plane_shape: tuple[int, int],
        n_slices: int = 1,
        masks: dict[SliceKey, np.ndarray] | None = None,
        proposals: dict[SliceKey, np.ndarray] | None = None,
    ):
        self.image_id = int(image_id)
        self.plane_shape = (int(plane_shape[0]), int(plane_shape[1]))
        self.n_slices = max(1, int(n_slices))
        self._masks: dict[SliceKey, np.ndarray] = {}
        self._proposals: dict[SliceKey, np.ndarray] = {}
        for key, array in (masks or {}).items():
            self._masks[self._check_key(key)] = self._checked(array, f"mask of slice {key}").copy()
        for key, array in (proposals or {}).items():
            self._proposals[self._check_key(key)] = self._checked(array, f"proposal of slice {key}")
        self._undo: list[MaskEdit] = []
        self._redo: list[MaskEdit] = []
        self._snapshot: tuple[SliceKey, np.ndarray] | None = None

    # -- reading ---------------------------------------------------------------
    def mask(self, slice_index: SliceKey) -> np.ndarray:
        """The editable mask of a slice (created empty on first use)."""
        key = self._check_key(slice_index)
        array = self._masks.get(key)
        if array is None:
            array = np.zeros(self.plane_shape, dtype=np.uint8)
            self._masks[key] = array
        return array

    def existing_mask(self, slice_index: SliceKey) -> np.ndarray | None:
        """The mask array of a slice if one was loaded or painted (may be all zero), else None."""
        return self._masks.get(self._check_key(slice_index))

    def stored_mask(self, slice_index: SliceKey) -> np.ndarray | None:
        """The mask of a slice if it has one with any labelled pixel, else None (no allocation)."""
        array = self._masks.get(self._check_key(slice_index))
        return array if array is not None and array.any() else None

    def proposal(self, slice_index: SliceKey) -> np.ndarray | None:
        """The model's proposed mask of a slice, or None."""
        return self._proposals.get(self._check_key(slice_index))

    def labelled_slices(self) -> list[SliceKey]:
        """Slices whose mask has any labelled pixel, in order."""
        keys = [k for k, a in self._masks.items() if a.any()]
        return sorted(keys, key=lambda k: -1 if k is None else k)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_depth(self) -> int:
        """How many edits can be undone."""
        return len(self._undo)

    # -- editing ---------------------------------------------------------------
    def begin(self, slice_index: SliceKey) -> np.ndarray:
        """Start an edit of a slice (e.g. on mouse press); returns the mask to change in place."""
        array = self.mask(slice_index)
        self._snapshot = (self._check_key(slice_index), array.copy())
        return array

    @property
    def editing(self) -> bool:
        """True between ``begin`` and ``commit``/``cancel``."""
        return self._snapshot is not None

    def commit(self, description: str, origin: str = "human") -> MaskEdit | None:
        """Finish the edit begun with ``begin``; record it (None when nothing changed)."""
        if self._snapshot is None:
            return None
        key, before = self._snapshot
        self._snapshot = None
        return self._record(key, before, self.mask(key), description, origin)

    def cancel(self) -> None:
        """Drop the edit begun with ``begin`` and restore the slice as it was."""
        if self._snapshot is None:
            return
        key, before = self._snapshot
        self._snapshot = None
        self.mask(key)[...] = before

    def replace(self, slice_index: SliceKey, new_mask: np.ndarray, description: str,
                origin: str = "human") -> MaskEdit | None:
        """Set a slice's whole mask (e.g. accept a proposal, clear) as one undoable edit."""
        new_mask = self._checked(new_mask, "new mask")
        array = self.mask(slice_index)
        before = array.copy()
        array[...] = new_mask
        return self._record(self._check_key(slice_index), before, array, description, origin)

    def undo(self) -> MaskEdit | None:
        """Revert the last edit; returns it (its slice needs saving) or None."""
        if self._snapshot is not None:
            self.cancel()
        if not self._undo:
            return None
        edit = self._undo.pop()
        self.mask(edit.slice_index)[edit.box.slices] = edit.before
        self._redo.append(edit)
        return edit

    def redo(self) -> MaskEdit | None:
        """Re-apply the last undone edit; returns it or None."""
        if not self._redo:
            return None
        edit = self._redo.pop()
        self.mask(edit.slice_index)[edit.box.slices] = edit.after
        self._undo.append(edit)
        return edit

    # -- internals -------------------------------------------------------------
    def _record(self, key: SliceKey, before: np.ndarray, after: np.ndarray, description: str,
                origin: str) -> MaskEdit | None:
        box = changed_box(before, after)
        if box is None:
            return None
        edit = MaskEdit(key, box, before[box.slices].copy(), after[box.slices].copy(), description, origin)
        self._undo.append(edit)
        self._redo.clear()
        return edit

    def _check_key(self, slice_index: SliceKey) -> SliceKey:
        if self.n_slices == 1:
            if slice_index not in (None, 0):
                raise ValueError(f"image {self.image_id} is 2D: slice must be None, not {slice_index}")
            return None
        if slice_index is None or not 0 <= int(slice_index) < self.n_slices:
            raise ValueError(f"image {self.image_id} has {self.n_slices} slices: slice {slice_index} is out of range")
        return int(slice_index)

    def _checked(self, array: np.ndarray, what: str) -> np.ndarray:
        array = np.asarray(array)
        if array.shape != self.plane_shape:
            raise ValueError(f"image {self.image_id}: {what} has shape {array.shape}, expected {self.plane_shape}")
        return array.astype(np.uint8, copy=False)
