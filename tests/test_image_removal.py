"""Removing images: rows, masks and the project's own copies go; originals and the audit trail stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtl_gui.cli import main
from medtl_gui.core.project import Project
from medtl_gui.core.project.errors import ProjectError

from conftest import make_small_project


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """Three images: a labelled copy with a mask and a proposal, one in place, one more copy."""
    folder = make_small_project(tmp_path, 3)
    with Project.open(folder) as project:
        project.set_proposal(project.images()[0].id, "normal", {"normal": 0.7, "lesion": 0.3}, run_id="r1")
    return folder


def test_removing_images_deletes_their_rows_masks_and_copies_but_not_originals(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        first, second, third = (r.id for r in project.images())
        copy = project.image_path(first)
        mask = project_dir / project.mask_record(first).path
        assert copy.is_file() and mask.is_file()
        original = project.image_path(second)
        assert project.remove_images([first, second]) == [first, second]
        assert [r.id for r in project.images()] == [third]
        assert project.label(first) is None and project.mask_record(first) is None
        assert not copy.exists() and not mask.exists()
        assert original.is_file(), "a file imported in place belongs to the user"
        assert project.image_path(third).is_file()
        removed = [h for h in project.history() if h.action == "image-removed"]
        assert sorted(h.image_id for h in removed) == [first, second]
        assert any(h.old_value["label"] == {"class": "lesion", "status": "labelled"} for h in removed)
        assert any(h.action == "label" and h.image_id == first for h in project.history()), "history is kept"
        assert project.check().problems == []
        next_id = project.add_image(original)
        assert next_id > third, "ids are never reused"


def test_an_unknown_id_removes_nothing(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        before = [r.id for r in project.images()]
        with pytest.raises(ProjectError, match="no image with id 999"):
            project.remove_images([before[0], 999])
        assert [r.id for r in project.images()] == before


def test_cli_remove_lists_what_went(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project_dir) as project:
        first = project.images()[0].id
    assert main(["remove", str(project_dir), "--ids", str(first), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == [first]
    assert main(["remove", str(project_dir), "--ids", "12345"]) == 2
    assert "no image with id 12345" in capsys.readouterr().err
    with Project.open(project_dir) as project:
        assert len(project.images()) == 2


def test_gui_removes_the_image_on_screen_and_the_images_shown(qtbot, main_window, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from medtl_gui.gui import image_removal
    from medtl_gui.gui.browser_model import ROW_ROLE

    window, project = main_window, main_window.project
    questions: list[str] = []

    def answer(parent, title, text, buttons, default):
        questions.append(text)
        return QMessageBox.StandardButton.Yes if len(questions) != 2 else QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(image_removal.QMessageBox, "question", answer)
    before = len(project.images())
    window.browser.select_row(2)
    qtbot.waitUntil(lambda: window.current_id is not None)
    target = window.current_id
    following = window.browser.proxy.index(3, 0).data(ROW_ROLE).image_id
    with qtbot.waitSignal(window.browser.rows_loaded, timeout=10_000):
        window.window_actions.actions["remove_image"].trigger()
    assert "this image" in questions[0]
    assert len(project.images()) == before - 1 and target not in {r.id for r in project.images()}
    assert len(window.browser.model.rows) == before - 1
    qtbot.waitUntil(lambda: window.current_id == following, timeout=5_000)

    window.browser.search.setText("cxr_00")  # the listed images: a subset
    shown = window.browser.shown_ids()
    assert 0 < len(shown) < before - 1
    assert image_removal.remove_shown_images(window) == []  # the second answer is Cancel
    assert len(project.images()) == before - 1
    with qtbot.waitSignal(window.browser.rows_loaded, timeout=10_000):
        window.window_actions.actions["remove_shown"].trigger()
    assert f"these {len(shown)} images" in questions[2]
    assert not ({r.id for r in project.images()} & set(shown))
    assert len(project.images()) == before - 1 - len(shown)
    assert project.check().problems == []


def test_a_crash_before_the_files_are_deleted_leaves_orphans_that_check_repairs(project_dir: Path,
                                                                                  monkeypatch) -> None:
    from medtl_gui.core.project import removal

    monkeypatch.setattr(removal, "_delete_quietly", lambda path, root: None)  # killed right after the commit
    with Project.open(project_dir) as project:
        first = project.images()[0].id
        copy, mask = project.image_path(first), project_dir / project.mask_record(first).path
        project.remove_images([first])
        assert copy.is_file() and mask.is_file()
        found = project.check()
        assert {p.code for p in found.problems} == {"orphan-file"}
        assert project.check(repair=True).problems and not copy.exists() and not mask.exists()
        assert project.check().problems == []
