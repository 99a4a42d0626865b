"""Segmentation editing: mask painting, undo, overlay, background saving, and its dock panel."""
