"""The browser's "Label next" mode: unlabelled images in the order of the project's stored ranking.

The ranking comes from ``core.review`` (``medtl rank`` or the GUI's
"Rank unlabelled images…"); rows carry their place in it
(``BrowserRow.review_rank``), so sorting and filtering stay in memory.
No Qt widgets here: the browser model, filter and box use these pieces.
"""

from __future__ import annotations

from typing import Any

#: the filter (and its sort) that lists ranked, still unlabelled images, best first
LABEL_NEXT = "Label next"
#: the pseudo-column the model sorts by for "Label next" (-1 is "order added")
LABEL_NEXT_COLUMN = -2
#: sort-box text of the ranking order
LABEL_NEXT_SORT_TEXT = "Sort: label next"

_UNRANKED = 1 << 62


def review_ranks(project: Any) -> dict[int, int]:
    """Image id -> rank (1 = label first) of the project's stored ranking; empty when none."""
    if project is None or not hasattr(project, "database"):
        return {}
    from medtl_gui.core.review.ranking_store import ranking_positions

    return ranking_positions(project)


def label_next_key(row: Any) -> tuple[int, int]:
    """Sort key: ranked images by rank, then unranked ones by id."""
    rank = getattr(row, "review_rank", None)
    return (rank if rank is not None else _UNRANKED, row.image_id)


def wants_labelling_next(row: Any) -> bool:
    """True for a ranked image that still has no class and was not marked uncertain or skipped."""
    return getattr(row, "review_rank", None) is not None and not row.label and row.status not in (
        "uncertain", "skipped")
