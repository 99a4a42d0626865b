"""Every project folder holds ``project.medtl``, the file the installers associate with MedTL."""

from __future__ import annotations

from pathlib import Path

from medtl_gui.core.project import Project
from medtl_gui.core.project.project import PROJECT_MARKER


def test_new_project_has_marker_and_opens_through_it(tmp_path: Path) -> None:
    folder = tmp_path / "chest"
    with Project.create(folder) as project:
        project.add_class("normal")
    marker = folder / PROJECT_MARKER
    assert marker.is_file()
    with Project.open(marker) as project:
        assert project.folder == folder.resolve() and [c.name for c in project.classes()] == ["normal"]


def test_older_project_gets_the_marker_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    Project.create(folder).close()
    (folder / PROJECT_MARKER).unlink()
    Project.open(folder).close()
    assert (folder / PROJECT_MARKER).is_file()
    assert Project.open(folder).check().problems == []
