"""Label-mask overlay on the viewer: RGBA lookup-table ImageItems over the scan.

Two layers sit above the scan image: the clinician's label mask (filled or
outlined, adjustable opacity, per-label visibility) and the model's
proposed mask, always drawn as a bright cyan outline so the two are never
confused. Both are uint8 label arrays shown through a 256-entry RGBA lookup
table with fixed levels (0, 255): pyqtgraph's fast path, no rescaling.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pyqtgraph as pg

from medtl_gui.gui.segmentation.painting import label_outline

#: colour of the model's proposed mask (outline)
PROPOSAL_COLOR = "#00e5ff"

#: colours for mask values that have no segmentation label yet
FALLBACK_COLORS: tuple[str, ...] = (
    "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#e377c2", "#bcbd22", "#17becf", "#8c564b",
)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as an (r, g, b) tuple of 0..255."""
    text = color.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"colour must look like '#rrggbb', not {color!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def label_lut(colors: Mapping[int, str], hidden: Collection[int] = ()) -> np.ndarray:
    """(256, 4) uint8 RGBA table: value 0 transparent, named values in their colour, hidden ones transparent."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    for value in range(1, 256):
        color = colors.get(value) or FALLBACK_COLORS[(value - 1) % len(FALLBACK_COLORS)]
        lut[value, :3] = hex_to_rgb(color)
        lut[value, 3] = 0 if value in hidden else 255
    return lut


def proposal_lut() -> np.ndarray:
    """RGBA table of the proposal layer: every non-zero value in ``PROPOSAL_COLOR``."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:, :3] = hex_to_rgb(PROPOSAL_COLOR)
    lut[1:, 3] = 255
    return lut


class MaskOverlay:
    """The label and proposal layers of one ``pg.ViewBox`` (above the scan's ImageItem)."""

    def __init__(self, view: pg.ViewBox):
        self.label_item = pg.ImageItem(axisOrder="row-major")
        self.label_item.setZValue(10)
        self.proposal_item = pg.ImageItem(axisOrder="row-major")
        self.proposal_item.setZValue(11)
        view.addItem(self.label_item, ignoreBounds=True)
        view.addItem(self.proposal_item, ignoreBounds=True)
        self.colors: dict[int, str] = {}
        self.hidden: set[int] = set()
        self.opacity = 0.5
        self.outline = False
        self.visible = True
        self.proposal_visible = True
        self._mask: np.ndarray | None = None
        self._proposal: np.ndarray | None = None
        self._lut = label_lut(self.colors)
        self._proposal_lut = proposal_lut()
        self.label_item.setOpacity(self.opacity)
        self.proposal_item.setOpacity(0.95)

    # -- content -------------------------------------------------------------------
    def show(self, mask: np.ndarray | None, proposal: np.ndarray | None = None) -> None:
        """Show these arrays (kept by reference: call ``refresh`` after changing them in place)."""
        self._mask = mask
        self._proposal = proposal
        self.refresh()
        self._refresh_proposal()

    def refresh(self) -> None:
        """Redraw the label layer (after the mask changed in place)."""
        mask = self._mask
        if mask is None or not self.visible:
            self.label_item.clear()
            self.label_item.setVisible(False)
            return
        shown = label_outline(mask) if self.outline else mask
        self.label_item.setImage(shown, autoLevels=False, levels=(0, 255), lut=self._lut)
        self.label_item.setVisible(True)

    @property
    def shown_mask(self) -> np.ndarray | None:
        """The label array the overlay currently draws from (None when none)."""
        return self._mask

    # -- style ---------------------------------------------------------------------
    def set_colors(self, colors: Mapping[int, str]) -> None:
        """Colours of the mask values (segmentation labels)."""
        self.colors = dict(colors)
        self._rebuild_lut()

    def set_hidden(self, values: Collection[int]) -> None:
        """Mask values not to draw (per-label visibility)."""
        self.hidden = set(int(v) for v in values)
        self._rebuild_lut()

    def set_label_visible(self, value: int, visible: bool) -> None:
        """Show or hide one label value."""
        hidden = set(self.hidden)
        (hidden.discard if visible else hidden.add)(int(value))
        self.set_hidden(hidden)

    def set_opacity(self, opacity: float) -> None:
        """Opacity of the label layer, 0..1."""
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        self.label_item.setOpacity(self.opacity)

    def set_outline(self, outline: bool) -> None:
        """Draw only the borders of the labelled regions."""
        self.outline = bool(outline)
        self.refresh()

    def set_visible(self, visible: bool) -> None:
        """Show or hide the whole label layer."""
        self.visible = bool(visible)
        self.refresh()

    def set_proposal_visible(self, visible: bool) -> None:
        """Show or hide the model's proposal layer."""
        self.proposal_visible = bool(visible)
        self._refresh_proposal()

    def displayed_rgba(self) -> np.ndarray | None:
        """The RGBA colours the label layer maps the current mask to (tests, screenshots)."""
        if self._mask is None or not self.visible:
            return None
        shown = label_outline(self._mask) if self.outline else self._mask
        return self._lut[shown]

    # -- internals -------------------------------------------------------------------
    def _rebuild_lut(self) -> None:
        self._lut = label_lut(self.colors, self.hidden)
        self.refresh()

    def _refresh_proposal(self) -> None:
        proposal = self._proposal
        if proposal is None or not self.proposal_visible:
            self.proposal_item.clear()
            self.proposal_item.setVisible(False)
            return
        self.proposal_item.setImage(label_outline(proposal), autoLevels=False, levels=(0, 255),
                                    lut=self._proposal_lut)
        self.proposal_item.setVisible(True)
