"""Live preview of an augmentation preset: the same image augmented a few times, made in the background.

The samples are computed with the engine's own ``Augmenter`` and
``Preprocessing`` (so the preview shows exactly what training sees) in a
``BackgroundJob``: torch is imported there, never on the GUI thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from medtl_gui.gui.background import BackgroundJob

SAMPLES = 6
TILE = 72  # three in a row fit the dock column (290 px at 1280x720)


def augmented_samples(project: Any, image_id: int, preset: str, image_size: int, count: int = SAMPLES,
                      seed: int = 0, progress: Any = None, cancel: Any = None) -> list[np.ndarray]:
    """``count`` augmented versions of an image (uint8 grey, ``image_size`` square); the first is unaugmented."""
    import torch

    from medtl_gui.core.data.augmentation import Augmenter
    from medtl_gui.core.data.preprocessing import Preprocessing

    prep = Preprocessing(max(16, int(image_size)), 1, (0.5,), (0.25,))
    tensor = prep.prepare(project.read_image(image_id))
    augmenter = Augmenter(preset)
    torch.manual_seed(seed)
    samples = [tensor] + [augmenter(tensor) for _ in range(count - 1)]
    return [np.round(s[0].clamp(0, 1).numpy() * 255).astype(np.uint8) for s in samples]


def grey_pixmap(pixels: np.ndarray, size: int = TILE) -> QPixmap:
    """A scaled pixmap of a uint8 grey image."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


class AugmentationPreview(QWidget):
    """A grid of augmented samples; ``request(...)`` recomputes them (stale results are dropped)."""

    ready = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("Augmentation preview: press Preview")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #9aa0a6; font-size: 8pt;")
        grid = QGridLayout()
        grid.setSpacing(3)
        self.tiles: list[QLabel] = []
        for i in range(SAMPLES):
            tile = QLabel()
            tile.setFixedSize(TILE, TILE)
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setStyleSheet("background: #111;")
            grid.addWidget(tile, i // 3, i % 3)
            self.tiles.append(tile)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.caption)
        self.samples: list[np.ndarray] = []
        self._generation = 0
        self._job: BackgroundJob | None = None

    def request(self, project: Any, image_id: int | None, preset: str, image_size: int) -> None:
        """Compute ``SAMPLES`` augmentations of ``image_id`` with ``preset`` in the background."""
        if project is None or image_id is None:
            self.caption.setText("Augmentation preview: select an image in the browser first")
            return
        self._generation += 1
        generation = self._generation
        self.caption.setText(f"Augmenting image {image_id} with '{preset}'…")
        job = BackgroundJob(augmented_samples, project, image_id, preset, image_size)
        job.succeeded.connect(lambda samples: self._show(generation, image_id, preset, samples))
        job.failed.connect(lambda message, _details: self._failed(generation, message))
        self._job = job.start()

    def _show(self, generation: int, image_id: int, preset: str, samples: list[np.ndarray]) -> None:
        if generation != self._generation:
            return
        self.samples = samples
        for tile, pixels in zip(self.tiles, samples):
            tile.setPixmap(grey_pixmap(pixels))
        self.caption.setText(f"Image {image_id}: original (top left) and {len(samples) - 1} draws of '{preset}'")
        self.ready.emit()

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.caption.setText(f"No preview: {message}")
