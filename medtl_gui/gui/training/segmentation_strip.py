"""A strip of validation images with the predicted mask (filled) over the true mask (outline), per epoch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from medtl_gui.gui.training.training_data import SegmentationOverlay

#: overlay colours: prediction (filled, blended) and truth (outline)
PREDICTED_RGB = np.array([255, 140, 0], dtype=np.float32)
TRUE_RGB = np.array([80, 220, 120], dtype=np.uint8)
TILE = 128


def outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of a boolean mask that touch the background (4-neighbourhood)."""
    m = np.asarray(mask, dtype=bool)
    padded = np.pad(m, 1, mode="constant")
    inner = padded[1:-1, :-2] & padded[1:-1, 2:] & padded[:-2, 1:-1] & padded[2:, 1:-1]
    return m & ~inner


def overlay_rgb(overlay: SegmentationOverlay, alpha: float = 0.45) -> np.ndarray:
    """(H, W, 3) uint8: the image, the prediction blended in orange, the truth outlined in green."""
    image = overlay.image
    rgb = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]
    out = rgb.astype(np.float32)
    predicted = overlay.predicted_mask > 0
    out[predicted] = (1 - alpha) * out[predicted] + alpha * PREDICTED_RGB
    out = out.round().clip(0, 255).astype(np.uint8)
    out[outline(overlay.true_mask > 0)] = TRUE_RGB
    return np.ascontiguousarray(out)


def rgb_pixmap(rgb: np.ndarray, size: int = TILE) -> QPixmap:
    """A pixmap of an (H, W, 3) uint8 array scaled to fit ``size``."""
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


class SegmentationStrip(QWidget):
    """Validation images with predicted (orange) vs true (green outline) masks; refreshed each epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Validation images: prediction (orange) vs truth (green outline)")
        self.row = QHBoxLayout()
        self.row.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(self.row, 1)
        self.tiles: list[QLabel] = []
        self.overlays: list[SegmentationOverlay] = []
        self._rgb: list[np.ndarray] = []

    def set_overlays(self, overlays: Sequence[SegmentationOverlay], epoch: int | None = None) -> None:
        """Replace the strip's images."""
        self.overlays = list(overlays)
        while len(self.tiles) < len(self.overlays):
            tile = QLabel()
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setMinimumSize(TILE // 2, TILE // 2)
            tile.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # may shrink below the pixmap
            self.row.addWidget(tile)
            self.tiles.append(tile)
        self._rgb = [overlay_rgb(o) for o in self.overlays]
        self._render()
        for i, tile in enumerate(self.tiles):
            if i < len(self.overlays):
                o = self.overlays[i]
                dice = "–" if o.dice is None else f"{o.dice:.2f}"
                tile.setToolTip(f"image {o.image_id}: Dice {dice}")
                tile.show()
            else:
                tile.hide()
        where = f" — epoch {epoch + 1}" if epoch is not None else ""
        self.title.setText(f"Validation images{where}: prediction (orange) vs truth (green outline)")

    def clear(self) -> None:
        self.set_overlays([])

    def tile_size(self) -> int:
        """Pixel size of each tile: as large as the strip allows (at least ``TILE // 2``)."""
        n = max(1, len(self._rgb))
        width = (self.width() - 6 * n) // n
        height = self.height() - self.title.sizeHint().height() - 8
        return max(TILE // 2, min(width, height))

    def _render(self) -> None:
        size = self.tile_size()
        for tile, rgb in zip(self.tiles, self._rgb):
            tile.setPixmap(rgb_pixmap(rgb, size))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._rgb:
            self._render()
