"""Exports leave the project de-identified unless the user opts out, and every export is in the audit log."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.imaging.dicom_writer import write_dicom_series
from medtl_gui.core.privacy import export_labels_csv, export_masks, project_salt, pseudonym
from medtl_gui.core.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Two DICOM series of a named patient (folders named after him), labelled, one with a mask."""
    with Project.create(tmp_path / "proj") as created:
        created.add_class("normal")
        created.add_class("lesion")
        for k in range(2):
            folder = tmp_path / "scans" / f"Smith_John_{k}"
            write_dicom_series(folder, np.full((3, 8, 8), k, np.uint16))
            image_id = created.add_image(folder)
            created.update_image(image_id, patient_id="MRN-7731")
            created.set_label(image_id, ("normal", "lesion")[k])
        created.set_mask(1, np.eye(8, dtype=np.uint8), slice_index=1)
    opened = Project.open(tmp_path / "proj")
    yield opened
    opened.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_labels_csv_is_deidentified_and_logged(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "out" / "labels.csv"
    record = export_labels_csv(project, target, user="dr.lee")
    text = target.read_text()
    assert "MRN-7731" not in text and "Smith" not in text
    for image in project.images():
        assert image.series_uid not in text
    rows = read_csv(target)
    assert [r["label"] for r in rows] == ["normal", "lesion"]
    assert {r["patient_id"] for r in rows} == {pseudonym("MRN-7731", project_salt(project))}
    assert (record.what, record.deidentified, record.n_items, record.user) == ("labels-csv", True, 2, "dr.lee")
    assert record.destination == str(target.resolve()) and project.exports() == [record]


def test_opting_out_is_possible_and_logged_as_identified(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "identified.csv"
    record = export_labels_csv(project, target, deidentify=False)
    assert "MRN-7731" in target.read_text() and "Smith_John_0" in target.read_text()
    assert record.deidentified is False and project.exports()[-1].deidentified is False


def test_masks_export_with_manifest(project: Project, tmp_path: Path) -> None:
    record = export_masks(project, tmp_path / "masks_out")
    files = sorted(p.name for p in (tmp_path / "masks_out").iterdir())
    assert files == ["image1_z1.png", "manifest.csv"]
    manifest = read_csv(tmp_path / "masks_out" / "manifest.csv")
    assert manifest[0]["mask_file"] == "image1_z1.png" and manifest[0]["slice"] == "1"
    assert "MRN-7731" not in (tmp_path / "masks_out" / "manifest.csv").read_text()
    assert (record.what, record.n_items, record.deidentified) == ("masks", 1, True)


def test_the_export_log_is_append_only(project: Project) -> None:
    project.record_export("report", "/tmp/report.pdf", deidentified=True, n_items=1, details={"run": "r1"})
    conn = sqlite3.connect(project.folder / "project.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE exports SET deidentified = 0")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM exports")
    conn.close()
    assert project.exports()[0].details == {"run": "r1"}
    with pytest.raises(ValueError):
        project.record_export(" ", "/tmp/x", deidentified=True)


def test_a_version_1_project_gets_the_export_log_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    Project.create(folder).close()
    conn = sqlite3.connect(folder / "project.sqlite")  # make it look like a project written by schema version 1
    conn.executescript("DROP TRIGGER exports_no_update; DROP TRIGGER exports_no_delete; DROP TABLE exports;"
                       "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    conn.close()
    with Project.open(folder) as project:
        assert project.exports() == []
        project.record_export("labels-csv", tmp_path / "x.csv", deidentified=True)
        assert len(project.exports()) == 1 and project.check().problems == []


def test_cli_exports_and_audit_log(project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(project.folder)
    project.close()
    assert main(["export-labels", folder, str(tmp_path / "a.csv")]) == 0
    assert "de-identified" in capsys.readouterr().out
    assert main(["export-labels", folder, str(tmp_path / "b.csv"), "--identified", "--split", "unassigned"]) == 0
    assert "NOT de-identified" in capsys.readouterr().out
    assert main(["export-masks", folder, str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert main(["exports", folder, "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [(e["what"], e["deidentified"]) for e in log] == [("labels-csv", True), ("labels-csv", False), ("masks", True)]
    assert main(["exports", folder]) == 0
    assert "IDENTIFIED" in capsys.readouterr().out
