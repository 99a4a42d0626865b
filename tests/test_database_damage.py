"""Damaged, tampered, older and read-only project databases: `medtl check`, the history chain, migrations.

`medtl check` never raises on a damaged database and never writes to one
(only ``REINDEX`` when the damage is confined to indexes); ``--rebuild-into``
copies what is readable into a new project. History rows carry a hash chain,
so a row rewritten behind dropped-and-recreated triggers is found. Read-only
commands leave an older project's schema as it is; the first write migrates
it after a backup copy. A project on read-only storage opens for viewing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from medtl_gui.cli import main
from medtl_gui.core.project import SCHEMA_VERSION, Project, ProjectError

from conftest import make_small_project, run_cli


def _history_rows(path: Path) -> int | None:
    """Rows in the history of a database file (None when the file cannot be read)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None


def _integrity_ok(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def _make_old(folder: Path, version: int = 2) -> None:
    """Turn a fresh project into one written by schema ``version`` (the tables added since dropped)."""
    conn = sqlite3.connect(folder / "project.sqlite")
    statements = ["DROP TABLE IF EXISTS review_ranking"]
    if version < 2:
        statements += ["DROP TRIGGER exports_no_update", "DROP TRIGGER exports_no_delete", "DROP TABLE exports"]
    # schema version 3 and older: no chain column, the original guard trigger
    statements += ["DROP TRIGGER history_chain", "DROP TRIGGER history_no_update",
                   "ALTER TABLE history DROP COLUMN chain_hash",
                   "CREATE TRIGGER history_no_update BEFORE UPDATE ON history BEGIN"
                   " SELECT RAISE(ABORT, 'history is append-only: UPDATE refused'); END",
                   f"UPDATE meta SET value = '{version}' WHERE key = 'schema_version'"]
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _stored_version(folder: Path) -> str:
    conn = sqlite3.connect(f"file:{folder / 'project.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    finally:
        conn.close()


# -- damaged databases -----------------------------------------------------------------------
def test_check_on_byte_flipped_copies_never_raises_nor_writes_history(tmp_path: Path, capsys) -> None:
    original = make_small_project(tmp_path, 3)
    database = original / "project.sqlite"
    data = database.read_bytes()
    rng = random.Random(17)
    damaged_seen = 0
    for seed in range(20):
        copy = tmp_path / f"copy{seed}"
        shutil.copytree(original, copy)
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 40)):
            position = rng.randrange(100, len(flipped))  # past the header: the file still opens as SQLite
            flipped[position] ^= 1 << rng.randrange(8)
        (copy / "project.sqlite").write_bytes(bytes(flipped))
        damaged = not _integrity_ok(copy / "project.sqlite")
        damaged_seen += damaged
        before = _history_rows(copy / "project.sqlite")
        before_bytes = (copy / "project.sqlite").read_bytes()
        for args in ([], ["--repair"], ["--json"], ["--repair", "--json"]):
            code = main(["check", str(copy), *args])  # must return, whatever the damage
            assert code in (0, 1, 2)
        out = capsys.readouterr()
        assert "Traceback" not in out.err
        if damaged:
            assert _history_rows(copy / "project.sqlite") == before, f"seed {seed}: history written to a damaged db"
            if "index" not in out.out:
                assert (copy / "project.sqlite").read_bytes() == before_bytes, f"seed {seed}: damaged db changed"
    assert damaged_seen >= 3, "the flips should damage several copies"


def test_damaged_database_repair_is_refused_with_a_rebuild_offer(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    conn = sqlite3.connect(folder / "project.sqlite")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'labels'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    raw = bytearray((folder / "project.sqlite").read_bytes())
    raw[(root - 1) * page_size] = 0x42  # not a b-tree page type: the labels table is damaged
    (folder / "project.sqlite").write_bytes(bytes(raw))
    before = (folder / "project.sqlite").read_bytes()
    assert main(["check", str(folder), "--repair"]) == 1
    out = capsys.readouterr().out
    assert "damaged" in out and "--rebuild-into" in out
    assert (folder / "project.sqlite").read_bytes() == before


def test_index_damage_is_repaired_with_reindex(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 3)
    conn = sqlite3.connect(folder / "project.sqlite")
    conn.execute("PRAGMA writable_schema = ON")  # make the index disagree with its table, as a torn write would
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX images_split ON images(patient_id)'"
                 " WHERE name = 'images_split'")
    conn.commit()
    conn.close()
    conn = sqlite3.connect(folder / "project.sqlite")
    conn.execute("UPDATE images SET patient_id = 'P' || id")
    conn.commit()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX images_split ON images(split)'"
                 " WHERE name = 'images_split'")
    conn.commit()
    conn.close()
    assert not _integrity_ok(folder / "project.sqlite")
    code = main(["check", str(folder), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and "database-index" in [d["code"] for d in result["details"]]
    assert main(["check", str(folder), "--repair"]) == 0
    assert "REINDEX" in capsys.readouterr().out
    assert _integrity_ok(folder / "project.sqlite")


def test_rebuild_into_copies_what_is_readable(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 3)
    with Project.open(folder) as project:
        project.set_split(3, "test")
    before = (folder / "project.sqlite").read_bytes()
    target = tmp_path / "rebuilt"
    assert main(["check", str(folder), "--rebuild-into", str(target)]) == 0
    assert "3 images" in capsys.readouterr().out
    assert (folder / "project.sqlite").read_bytes() == before
    with Project.open(target) as rebuilt:
        assert [r.label for r in rebuilt.images()] == ["lesion", None, None]
        assert rebuilt.image(3).split == "test"
        assert rebuilt.mask(1) is not None and rebuilt.read_image(1).pixels.shape == (8, 10)
        assert rebuilt.check().ok
    assert main(["check", str(folder), "--rebuild-into", str(target)]) == 2  # never into an existing project
    assert "not empty" in capsys.readouterr().err


# -- the history hash chain ------------------------------------------------------------------
def test_history_rewritten_behind_recreated_triggers_is_detected(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    assert main(["check", str(folder)]) == 0
    conn = sqlite3.connect(folder / "project.sqlite")
    triggers = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                                 " AND tbl_name = 'history'").fetchall())
    conn.execute("DROP TRIGGER history_no_update")
    conn.execute("UPDATE history SET user = 'dr.b' WHERE action = 'label'")
    conn.execute(triggers["history_no_update"])
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert main(["check", str(folder), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in result["details"]] == ["history-chain"]
    assert "altered" in result["problems"][0]


def test_deleted_history_rows_are_detected(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    conn = sqlite3.connect(folder / "project.sqlite")
    conn.execute("DROP TRIGGER history_no_delete")
    conn.execute("DELETE FROM history WHERE id = (SELECT MAX(id) FROM history)")  # the last row
    conn.commit()
    conn.close()
    code = main(["check", str(folder), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and "history-chain" in [d["code"] for d in result["details"]]


def test_new_history_rows_are_chained(tmp_path: Path) -> None:
    folder = make_small_project(tmp_path, 2)
    conn = sqlite3.connect(f"file:{folder / 'project.sqlite'}?mode=ro", uri=True)
    hashes = [r[0] for r in conn.execute("SELECT chain_hash FROM history ORDER BY id")]
    conn.close()
    assert hashes and all(h and len(h) == 64 for h in hashes) and len(set(hashes)) == len(hashes)


# -- versions ----------------------------------------------------------------------------
def test_info_leaves_an_older_schema_and_the_first_write_migrates_with_a_backup(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    _make_old(folder, 2)
    assert main(["info", str(folder)]) == 0
    assert main(["info", str(folder), "--json"]) == 0
    assert main(["check", str(folder)]) == 0, capsys.readouterr().out
    with Project.open(folder) as project:
        assert project.exports() == [] and project.info()["images"] == 2
    assert _stored_version(folder) == "2" and not (folder / "project.sqlite.bak-v2").exists()
    result = run_cli(["domain", str(folder), "target", "--ids", "2"])  # the first write, as a user runs it
    assert result.returncode == 0, result.stderr
    assert "migrated" in result.stderr and "project.sqlite.bak-v2" in result.stderr
    assert _stored_version(folder) == str(SCHEMA_VERSION)
    backup = sqlite3.connect(folder / "project.sqlite.bak-v2")
    assert backup.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    backup.close()
    assert main(["check", str(folder)]) == 0, "the chain starts at the migration: old rows are sealed then"


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_schema_values_are_one_line(tmp_path: Path, value: str, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    conn = sqlite3.connect(folder / "project.sqlite")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.commit()
    conn.close()
    for command in ("info", "check"):
        assert main([command, str(folder)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "project.sqlite" in err and "schema version" in err


# -- read-only storage ----------------------------------------------------------------------
def test_read_only_open_views_and_refuses_edits(tmp_path: Path) -> None:
    folder = make_small_project(tmp_path, 2)
    _make_old(folder, 2)
    before = (folder / "project.sqlite").read_bytes()
    with Project.open(folder, read_only=True) as project:
        assert project.read_only
        assert project.info()["images"] == 2 and project.image(1).label == "lesion"
        assert project.mask(1) is not None and project.exports() == []
        with pytest.raises(ProjectError, match="read-only"):
            project.set_label(2, "normal")
    assert (folder / "project.sqlite").read_bytes() == before
    assert _stored_version(folder) == "2"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (the flag path is tested above)")
def test_project_on_read_only_storage_opens_for_viewing(tmp_path: Path, capsys) -> None:
    folder = make_small_project(tmp_path, 2)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        assert main(["info", str(folder)]) == 0
        assert main(["domain", str(folder), "target", "--ids", "2"]) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_storage_that_cannot_be_written_opens_read_only_in_cli_and_gui(tmp_path: Path, monkeypatch, capsys,
                                                                        qtbot, isolated_settings) -> None:
    """What ``os.access`` reports on a read-only mount (root ignores chmod, so it is simulated here)."""
    import medtl_gui.core.project.project as project_module  # its open path asks storage_is_writable

    folder = make_small_project(tmp_path, 2)
    monkeypatch.setattr(project_module, "storage_is_writable", lambda root: False)
    assert main(["info", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["read_only"] is True
    assert main(["domain", str(folder), "target", "--ids", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "read-only" in err and str(folder) in err

    from medtl_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(folder)
    assert win.read_only_label.isVisible() and "Read-only" in win.read_only_label.text()
    assert not win.actions_by_name["edit_classes"].isEnabled()
    assert not win.actions_by_name["import_files"].isEnabled()
    assert win.project.read_only
    win.close()
