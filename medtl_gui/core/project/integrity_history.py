"""Does the append-only history agree with the current labels and masks?

Every change writes its history row in the same transaction, so in a
healthy project the last history row about an image's label (or one of its
masks) describes the current label (mask). A disagreement means the
database was changed behind MedTL's back (or restored from an older copy).
History cannot be rewritten; the repair appends a row with origin
``"repair"`` that records the current state, after which they agree again.

:func:`chain_problems` checks the history's own hash chain
(:mod:`.history_chain`): rows altered or deleted behind MedTL's back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from medtl_gui.core.project.history import record_history
from medtl_gui.core.project.history_chain import ACCEPT_ACTION, chain_breaks
from medtl_gui.core.project.integrity import MASK_ACTIONS, REPAIR_ORIGIN, IntegrityProblem

if TYPE_CHECKING:
    from medtl_gui.core.project.project import Project

_LABEL_ACTIONS = ("label", "confirm")
_KIND_OF_MASK_ACTION = {"mask": "label", "confirm-mask": "label", "mask-proposal": "proposal", "fov-mask": "fov"}


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _renamed(name: str | None, after_id: int, renames: list[tuple[int, str, str]]) -> str | None:
    """A class name as it is called now, following the renames made after history row ``after_id``."""
    for rename_id, old, new in renames:
        if rename_id > after_id and name == old:
            name = new
    return name


def history_problems(project: "Project") -> list[IntegrityProblem]:
    """Labels and masks whose last history row does not describe them."""
    conn = project.database.connection()
    renames = [(r[0], _decode(r[1]), _decode(r[2])) for r in conn.execute(
        "SELECT id, old_value, new_value FROM history WHERE action = 'class-rename' ORDER BY id")]
    last_label: dict[int, tuple[int, Any]] = {}
    last_mask: dict[tuple[int, str, int], Any] = {}
    rows = conn.execute(
        "SELECT id, image_id, action, old_value, new_value FROM history WHERE image_id IS NOT NULL"
        " AND action IN ('label', 'confirm', 'mask', 'confirm-mask', 'mask-proposal', 'fov-mask') ORDER BY id")
    for history_id, image_id, action, old_text, new_text in rows:
        new_value = _decode(new_text)
        if action in _LABEL_ACTIONS:
            last_label[image_id] = (history_id, new_value)
            continue
        described = new_value if isinstance(new_value, dict) else _decode(old_text)
        slice_index = described.get("slice") if isinstance(described, dict) else None
        key = (image_id, _KIND_OF_MASK_ACTION[action], -1 if slice_index is None else int(slice_index))
        last_mask[key] = new_value.get("sha256") if isinstance(new_value, dict) else None

    problems: list[IntegrityProblem] = []
    # rows of images that do not exist are orphans (reported and removed by the database check)
    images = {row[0] for row in conn.execute("SELECT id FROM images")}
    labels = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT l.image_id, c.name, l.status FROM labels l LEFT JOIN label_classes c ON c.id = l.class_id")}
    for image_id in sorted((set(labels) | set(last_label)) & images):
        current = labels.get(image_id)
        history_id, recorded_value = last_label.get(image_id, (0, None))
        recorded = None
        if isinstance(recorded_value, dict):
            recorded = (_renamed(recorded_value.get("class"), history_id, renames), recorded_value.get("status"))
        if current != recorded:
            value = None if current is None else {"class": current[0], "status": current[1]}
            problems.append(IntegrityProblem(
                "history-label", f"image {image_id}: history says its label is {_label_text(recorded)}, "
                                 f"the label is {_label_text(current)}",
                repair="append a history row recording the current label",
                fix=_append_history(project, "label", image_id, recorded_value, value)))

    masks = {(r[0], r[1], r[2]): r[3] for r in conn.execute("SELECT image_id, kind, slice_index, sha256 FROM masks")}
    for key in sorted(k for k in set(masks) | set(last_mask) if k[0] in images):
        current, recorded = masks.get(key), last_mask.get(key)
        if current == recorded:
            continue
        image_id, kind, slice_index = key
        where = "" if slice_index == -1 else f" (slice {slice_index})"
        slice_value = None if slice_index == -1 else slice_index
        problems.append(IntegrityProblem(
            "history-mask",
            f"image {image_id}: history says its {kind} mask{where} is {_short(recorded)}, the mask is {_short(current)}",
            repair="append a history row recording the current mask",
            fix=_append_history(project, MASK_ACTIONS[kind], image_id,
                                None if recorded is None else {"sha256": recorded, "slice": slice_value},
                                None if current is None else {"sha256": current, "slice": slice_value})))
    return problems


def chain_problems(project: "Project") -> list[IntegrityProblem]:
    """Breaks of the history hash chain (none before the schema has the chain: version 4)."""
    conn = project.database.connection()
    columns = {row[1] for row in conn.execute("PRAGMA main.table_info(history)")}
    if "chain_hash" not in columns:
        return []
    return [IntegrityProblem(
        "history-chain", brk.message + "; the history was altered outside MedTL",
        repair="record the break in the history (a 'history-chain-accepted' row; the break stays visible)",
        fix=_append_history(project, ACCEPT_ACTION, None, None, {"break": brk.key, "message": brk.message}))
        for brk in chain_breaks(conn)]


def _label_text(label: tuple[str | None, str] | None) -> str:
    return "absent" if label is None else f"{label[0]!r} ({label[1]})"


def _short(sha256: str | None) -> str:
    return "absent" if sha256 is None else f"sha256 {sha256[:12]}"


def _append_history(project: "Project", action: str, image_id: int, old: Any, new: Any):  # noqa: ANN202
    def fix() -> None:
        with project.database.write() as conn:
            record_history(conn, action=action, image_id=image_id, old_value=old, new_value=new,
                           origin=REPAIR_ORIGIN, user=None)
    return fix
