"""Mask painting operations and the per-image undo history (no widgets)."""

from __future__ import annotations

import numpy as np
import pytest

from medtl_gui.gui.segmentation.mask_document import MaskDocument
from medtl_gui.gui.segmentation.painting import (
    changed_box,
    disk,
    fill_polygon,
    flood_fill,
    label_outline,
    paint_line,
    stamp,
)


def test_disk_is_round_and_symmetric():
    d = disk(4)
    assert d.shape == (9, 9)
    assert d[4, 4] and d[0, 4] and d[4, 0] and not d[0, 0]
    assert np.array_equal(d, d.T) and np.array_equal(d, d[::-1])
    assert disk(0).sum() == 1
    with pytest.raises(ValueError, match="radius"):
        disk(-1)


def test_stamp_clips_at_the_border():
    mask = np.zeros((10, 10), np.uint8)
    box = stamp(mask, 0, 0, 3, 2)
    assert mask[0, 0] == 2 and mask[3, 0] == 2 and mask[5, 5] == 0
    assert (box.row0, box.col0) == (0, 0) and box.row1 <= 4 and box.col1 <= 4
    assert stamp(mask, -20, -20, 3, 1) is None


def test_fast_stroke_is_continuous():
    mask = np.zeros((64, 200), np.uint8)
    box = paint_line(mask, (5.5, 30.5), (190.5, 30.5), 2, 1)
    assert mask[30, 5:191].all(), "a long segment leaves no gaps"
    assert not mask[30, 194:].any()
    assert box == changed_box(np.zeros_like(mask), mask)


def test_polygon_fill_uses_pixel_centres():
    mask = np.zeros((20, 20), np.uint8)
    fill_polygon(mask, [(5, 5), (15, 5), (15, 15), (5, 15)], 3)
    assert mask[5:15, 5:15].all() and mask.sum() // 3 >= 100
    assert mask[2, 2] == 0 and mask[17, 17] == 0
    assert fill_polygon(mask, [(1, 1), (2, 2)], 1) is None  # two points are no outline


def test_flood_fill_stays_inside_the_region():
    mask = np.zeros((30, 30), np.uint8)
    mask[10, 5:25] = mask[20, 5:25] = mask[10:21, 5] = mask[10:21, 24] = 1  # a closed rectangle outline
    box = flood_fill(mask, (15.5, 15.5), 2)
    assert (mask[11:20, 6:24] == 2).all()
    assert mask[0, 0] == 0 and mask[10, 10] == 1
    assert (box.row0, box.row1, box.col0, box.col1) == (11, 20, 6, 24)
    assert flood_fill(mask, (15.5, 15.5), 2) is None  # already that value
    assert flood_fill(mask, (99, 99), 2) is None  # outside the image


def test_flood_fill_with_intensity_tolerance():
    image = np.zeros((20, 20), np.float32)
    image[5:10, 5:10] = 100.0  # a bright square
    mask = np.zeros((20, 20), np.uint8)
    flood_fill(mask, (7.5, 7.5), 1, image=image, tolerance=10.0)
    assert mask.sum() == 25 and mask[5:10, 5:10].all()


def test_outline_keeps_only_borders():
    mask = np.zeros((12, 12), np.uint8)
    mask[2:10, 2:10] = 4
    outline = label_outline(mask)
    assert outline[2, 5] == 4 and outline[5, 2] == 4 and outline[5, 5] == 0
    assert set(np.unique(outline)) == {0, 4}


def test_undo_redo_across_slices_of_a_volume():
    doc = MaskDocument(7, (16, 16), n_slices=5)
    m = doc.begin(2)
    m[3:6, 3:6] = 1
    first = doc.commit("brush")
    m = doc.begin(4)
    m[0, 0] = 2
    doc.commit("brush")
    assert first is not None and doc.undo_depth == 2
    assert doc.undo().slice_index == 4 and doc.mask(4)[0, 0] == 0
    assert doc.undo().slice_index == 2 and not doc.mask(2).any()
    assert doc.undo() is None
    assert doc.redo().slice_index == 2 and doc.mask(2)[4, 4] == 1
    doc.replace(2, np.zeros((16, 16), np.uint8), "clear")
    assert not doc.can_redo, "a new edit clears the redo history"
    assert doc.labelled_slices() == []


def test_document_rejects_wrong_slices_and_shapes():
    doc = MaskDocument(1, (8, 8))
    with pytest.raises(ValueError, match="2D"):
        doc.mask(3)
    with pytest.raises(ValueError, match="shape"):
        MaskDocument(1, (8, 8), masks={None: np.zeros((4, 4), np.uint8)})
    m = doc.begin(None)
    m[:] = 9
    doc.cancel()
    assert not doc.mask(None).any() and not doc.can_undo
