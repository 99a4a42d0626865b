"""Colours, shortcut keys and names of classes and segmentation labels as the GUI shows them (no Qt).

The project store can add and rename classes and add segmentation labels,
but (as of this writing) has no call to change an existing class's colour or
shortcut key, or an existing segmentation label's name or colour. Until it
has (``Project.update_class`` / ``Project.update_seg_label``, used here as
soon as they exist), such edits are kept as display overrides in the
project's own settings table (``Project.set_meta``), so they live with the
project and every GUI session sees them; the stored classes are untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store is imported when a project is opened, not at start-up
    from medtl_gui.core.project import LabelClass, SegLabel

CLASS_STYLE_KEY = "gui.class_style"
SEG_LABEL_STYLE_KEY = "gui.seg_label_style"
SHORTCUT_KEYS: tuple[str, ...] = tuple(str(k) for k in range(1, 10))
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _overrides(project: Any, key: str) -> dict[str, dict[str, Any]]:
    raw = project.meta(key)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _check_color(color: str) -> str:
    if not isinstance(color, str) or not _COLOR.match(color):
        raise ValueError(f"colour must look like '#rrggbb', not {color!r}")
    return color.lower()


def styled_classes(project: Any) -> list[LabelClass]:
    """The project's classes with GUI colour/shortcut overrides applied, by index."""
    styles = _overrides(project, CLASS_STYLE_KEY)
    result = []
    for cls in project.classes():
        style = styles.get(cls.name, {})
        result.append(replace(cls, color=style.get("color", cls.color),
                              shortcut=style["shortcut"] if "shortcut" in style else cls.shortcut))
    return result


def class_for_key(classes: list[LabelClass], key: str) -> LabelClass | None:
    """The class whose shortcut is ``key``; else, for a digit key, the class at that position."""
    for cls in classes:
        if cls.shortcut == key:
            return cls
    if key.isdigit() and not any(c.shortcut for c in classes):
        index = int(key) - 1
        if 0 <= index < len(classes):
            return classes[index]
    return None


def set_class_style(project: Any, name: str, *, color: str | None = None, shortcut: str | None | object = ...,
                    ) -> None:
    """Change a class's colour and/or shortcut key ("1".."9", or None for no key)."""
    classes = {c.name: c for c in styled_classes(project)}
    if name not in classes:
        raise ValueError(f"unknown class {name!r}")
    if color is not None:
        color = _check_color(color)
    if shortcut is not ...:
        if shortcut is not None and shortcut not in SHORTCUT_KEYS:
            raise ValueError(f"a class shortcut must be one of 1..9 or none, not {shortcut!r}")
        used = {c.shortcut: c.name for c in classes.values() if c.name != name and c.shortcut}
        if shortcut is not None and shortcut in used:
            raise ValueError(f"shortcut {shortcut} is already used by class {used[shortcut]!r}")
    update = getattr(project, "update_class", None)
    if update is not None:  # the core can store it itself
        kwargs: dict[str, Any] = {}
        if color is not None:
            kwargs["color"] = color
        if shortcut is not ...:
            kwargs["shortcut"] = shortcut
        update(name, **kwargs)
        return
    styles = _overrides(project, CLASS_STYLE_KEY)
    entry = styles.setdefault(name, {})
    if color is not None:
        entry["color"] = color
    if shortcut is not ...:
        entry["shortcut"] = shortcut
    project.set_meta(CLASS_STYLE_KEY, json.dumps(styles, sort_keys=True))


def rename_class(project: Any, old: str, new: str) -> None:
    """Rename a class in the store and carry its display overrides along."""
    project.rename_class(old, new)
    styles = _overrides(project, CLASS_STYLE_KEY)
    if old in styles:
        styles[new.strip()] = styles.pop(old)
        project.set_meta(CLASS_STYLE_KEY, json.dumps(styles, sort_keys=True))


def styled_seg_labels(project: Any) -> list[SegLabel]:
    """The project's segmentation labels with GUI name/colour overrides applied, by value."""
    styles = _overrides(project, SEG_LABEL_STYLE_KEY)
    result = []
    for label in project.seg_labels():
        style = styles.get(str(label.value), {})
        result.append(replace(label, name=style.get("name", label.name), color=style.get("color", label.color)))
    return result


def set_seg_label_style(project: Any, value: int, *, name: str | None = None, color: str | None = None) -> None:
    """Rename and/or recolour the segmentation label of mask value ``value``."""
    labels = {s.value: s for s in styled_seg_labels(project)}
    if int(value) not in labels:
        raise ValueError(f"no segmentation label has value {value}")
    if name is not None:
        name = name.strip()
        if not name:
            raise ValueError("a segmentation label name must not be empty")
        clash = [s.name for v, s in labels.items() if v != int(value) and s.name == name]
        if clash:
            raise ValueError(f"segmentation label {name!r} already exists")
    if color is not None:
        color = _check_color(color)
    update = getattr(project, "update_seg_label", None)
    if update is not None:
        kwargs = {k: v for k, v in (("name", name), ("color", color)) if v is not None}
        update(int(value), **kwargs)
        return
    styles = _overrides(project, SEG_LABEL_STYLE_KEY)
    entry = styles.setdefault(str(int(value)), {})
    if name is not None:
        entry["name"] = name
    if color is not None:
        entry["color"] = color
    project.set_meta(SEG_LABEL_STYLE_KEY, json.dumps(styles, sort_keys=True))
