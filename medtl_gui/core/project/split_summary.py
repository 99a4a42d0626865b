"""Counts of images per split and class, and the table the CLI, the import report and the GUI show.

A :class:`SplitSummary` is either the project as it is (``Project.split_summary()``)
or as an assignment would leave it (``Project.preview_splits(...)``, which writes
nothing). ``table()`` is the plain-text table printed by ``medtl split`` and
after ``medtl import``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medtl_gui.core.project.records import SPLITS

#: rows of the table: the three splits, then images without a split
SPLIT_ROWS: tuple[str, ...] = (*SPLITS, "unassigned")
#: column of images without a class label
NO_CLASS = "no class"


@dataclass
class SplitSummary:
    """Images per split and class (``counts[split][class]``), images with a mask per split, and what changed."""

    classes: list[str]
    counts: dict[str, dict[str, int]]
    masked: dict[str, int] = field(default_factory=dict)
    grouping: str | None = None  # the grouping an assignment used (None: a plain count)
    settings: dict[str, Any] | None = None  # the SplitSettings of the assignment, as a dict
    changed: int = 0  # images whose split the assignment set or changed

    @classmethod
    def from_rows(cls, classes: list[str], rows: list[tuple[str | None, str | None, bool]], **extra: Any) -> "SplitSummary":
        """From ``(split or None, class name or None, has_mask)`` per image."""
        counts = {split: {name: 0 for name in (*classes, NO_CLASS)} for split in SPLIT_ROWS}
        masked = {split: 0 for split in SPLIT_ROWS}
        for split, class_name, has_mask in rows:
            row = split or "unassigned"
            column = class_name if class_name in counts[row] else NO_CLASS
            counts[row][column] += 1
            masked[row] += int(bool(has_mask))
        return cls(classes=list(classes), counts=counts, masked=masked, **extra)

    def total(self, split: str) -> int:
        """Images in ``split`` ("train", "val", "test" or "unassigned")."""
        return sum(self.counts.get(split, {}).values())

    def count(self, split: str, class_name: str) -> int:
        """Images of ``class_name`` (or ``NO_CLASS``) in ``split``."""
        return self.counts.get(split, {}).get(class_name, 0)

    def columns(self) -> list[str]:
        """The class columns worth showing: every class, plus "no class" when such images exist."""
        has_unclassed = any(self.counts[s][NO_CLASS] for s in SPLIT_ROWS)
        return [*self.classes, NO_CLASS] if has_unclassed or not self.classes else list(self.classes)

    def rows(self) -> list[str]:
        """The split rows worth showing: the three splits, plus "unassigned" when such images exist."""
        return list(SPLIT_ROWS) if self.total("unassigned") else list(SPLITS)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per split its images, per-class counts and masked images."""
        return {
            "grouping": self.grouping,
            "settings": self.settings,
            "changed": self.changed,
            "classes": list(self.classes),
            "splits": {
                split: {"images": self.total(split), "classes": dict(self.counts[split]),
                        "masked": self.masked.get(split, 0)}
                for split in SPLIT_ROWS
            },
        }

    def table(self) -> str:
        """A plain-text table: one row per split, one column per class, total (and masked images)."""
        columns = self.columns()
        show_masks = any(self.masked.values())
        header = ["split", *columns, "total", *(["masked"] if show_masks else [])]
        body = []
        for split in self.rows():
            cells = [split, *(str(self.count(split, c)) for c in columns), str(self.total(split))]
            if show_masks:
                cells.append(str(self.masked.get(split, 0)))
            body.append(cells)
        widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
                 for r in (header, *body)]
        return "\n".join(lines)

    def headline(self) -> str:
        """One line: what the assignment did, e.g. ``splits by patient (...): 24 images assigned``."""
        settings = self.settings or {}
        shares = ""
        if settings:
            val, test = settings.get("val_fraction", 0.0), settings.get("test_fraction", 0.0)
            shares = f", train {1 - val - test:.0%} / val {val:.0%} / test {test:.0%}, seed {settings.get('seed', 0)}"
        grouping = f" by {self.grouping}" if self.grouping else ""
        return f"splits{grouping}{shares}: {self.changed} image(s) assigned"
