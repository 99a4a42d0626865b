"""Image domains of a project (source hospital/scanner vs a target one) for domain adaptation.

Every image belongs to one domain. The domain is the ``images.domain``
column (part of the schema since version 1, so projects of every schema
version carry it): ``NULL`` means the default domain ``"source"``; any other
name marks the image as belonging to that domain (e.g. ``"target"`` or
``"scanner-b"``). Marking ``"source"`` clears the tag, so there is one way
to store it. Each change is an ``image-info`` history entry (old and new
value); a bulk change is one transaction.

A whole imported folder is marked at import time (``medtl import PROJECT
FOLDER --domain target``) or later by its source path
(:func:`mark_source_folder`, ``medtl domain PROJECT target --folder DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtl_gui.core.project.errors import ProjectError

if TYPE_CHECKING:
    from medtl_gui.core.project.project import Project

#: the domain of every image without a domain tag
DEFAULT_DOMAIN = "source"


def stored_domain(domain: str | None) -> str | None:
    """The value stored for ``domain`` (``"source"``, ``None`` and ``""`` are stored as NULL)."""
    if domain is None:
        return None
    name = domain.strip()
    if not name or name == DEFAULT_DOMAIN:
        return None
    return name


def domain_of(tag: str | None) -> str:
    """An image's domain name from its stored tag."""
    return tag or DEFAULT_DOMAIN


def mark_images(project: "Project", image_ids: Iterable[int], domain: str | None, *,
                user: str | None = None) -> int:
    """Put the given images into ``domain`` (one transaction); returns how many changed.

    Unknown ids raise :class:`ProjectError` and nothing changes.
    """
    value = stored_domain(domain)
    ids = [int(i) for i in image_ids]
    changed = 0
    with project.transaction():
        for image_id in ids:
            before = project.image(image_id).domain
            if before == value:
                continue
            project.update_image(image_id, domain=value, user=user)
            changed += 1
    return changed


def images_from_folder(project: "Project", folder: str | os.PathLike) -> list[int]:
    """Ids of the images imported from ``folder`` (their source path lies inside it)."""
    root = str(Path(folder).expanduser().resolve())
    prefix = root.rstrip(os.sep) + os.sep
    found = []
    for record in project.images():
        source = record.source or ""
        if source == root or source.startswith(prefix):
            found.append(record.id)
    return found


def mark_source_folder(project: "Project", folder: str | os.PathLike, domain: str | None, *,
                       user: str | None = None) -> int:
    """Put every image imported from ``folder`` into ``domain``; returns how many changed.

    Raises :class:`ProjectError` when no image came from that folder.
    """
    ids = images_from_folder(project, folder)
    if not ids:
        raise ProjectError(Path(folder), "no image of the project was imported from this folder")
    return mark_images(project, ids, domain, user=user)


def domain_counts(project: "Project") -> dict[str, dict[str, int]]:
    """Images per domain: ``{domain: {"images": n, "labelled": n, "unlabelled": n}}``, source first."""
    conn = project.database.connection()
    rows = conn.execute(
        "SELECT IFNULL(NULLIF(i.domain, ''), ?), COUNT(*), SUM(CASE WHEN l.class_id IS NULL THEN 0 ELSE 1 END)"
        " FROM images i LEFT JOIN labels l ON l.image_id = i.id GROUP BY 1 ORDER BY 1",
        (DEFAULT_DOMAIN,),
    ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for name, images, labelled in sorted(rows, key=lambda r: (r[0] != DEFAULT_DOMAIN, r[0])):
        labelled = int(labelled or 0)
        counts[name] = {"images": int(images), "labelled": labelled, "unlabelled": int(images) - labelled}
    return counts


def describe_counts(counts: dict[str, Any]) -> str:
    """One line for ``medtl info``: ``source 120 (100 labelled), target 40 (0 labelled)``."""
    return ", ".join(f"{name} {c['images']} ({c['labelled']} labelled)" for name, c in counts.items())
