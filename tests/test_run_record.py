"""RunRecord: the one reader and writer of a run folder's files, and a scan that keeps it the only one."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import medtl_gui
from medtl_gui.core.runs import RunRecord, environment_record, utc_now
from medtl_gui.core.training.config import ConfigError, TrainConfig

PACKAGE = Path(medtl_gui.__file__).resolve().parent


# --------------------------------------------------------------------------- opening a folder
def test_create_makes_unique_folders_with_a_checkpoint_folder(tmp_path: Path) -> None:
    first = RunRecord.create(tmp_path / "runs", "resnet18-linear")
    second = RunRecord.create(tmp_path / "runs", "resnet18-linear")
    assert first.path != second.path and first.path.parent == second.path.parent == tmp_path / "runs"
    assert first.run_id.endswith("-resnet18-linear") and second.run_id == first.run_id + "-1"
    assert first.checkpoints == first.path / "checkpoints" and first.checkpoints.is_dir()


def test_at_refuses_a_folder_holding_a_run_and_existing_needs_one(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.checkpoints.is_dir() and not RunRecord.is_run(folder.path)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        RunRecord.existing(folder.path)
    folder.write_config({"run_id": "run", "config": {}})
    assert RunRecord.is_run(folder.path)
    assert RunRecord.existing(folder.path).path == folder.path
    with pytest.raises(FileExistsError, match="already holds a run"):
        RunRecord.at(folder.path)


# --------------------------------------------------------------------------- records
def test_config_round_trip_and_tolerant_read(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.config_or_none() is None
    with pytest.raises(OSError):
        folder.read_config()
    record = {"run_id": folder.run_id, "task": "classification", "config": {"epochs": 3}}
    folder.write_config(record)
    assert folder.read_config() == record and folder.config_or_none() == record
    (folder.path / RunRecord.CONFIG).write_text("{not json", encoding="utf-8")
    assert folder.config_or_none() is None
    with pytest.raises(ValueError):
        folder.read_config()
    (folder.path / RunRecord.CONFIG).write_text("[1, 2]", encoding="utf-8")
    assert folder.config_or_none() is None


def test_train_config_comes_from_the_record_and_names_the_file_when_it_cannot(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    config = TrainConfig(epochs=2, lr=0.01)
    folder.write_config({"run_id": folder.run_id, "config": config.to_dict()})
    assert folder.train_config().to_dict() == config.to_dict()
    assert folder.train_config({"config": config.to_dict() | {"epochs": 5}}).epochs == 5  # a record already read
    (folder.path / RunRecord.CONFIG).write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="config.json"):
        folder.train_config()
    folder.write_config({"run_id": folder.run_id, "config": config.to_dict() | {"epochs": 0}})
    with pytest.raises(ConfigError, match="epochs"):
        folder.train_config()
    folder.write_config({"run_id": folder.run_id})
    with pytest.raises(ConfigError, match="no training config"):
        folder.train_config()


def test_task_comes_from_the_record_then_its_config_then_classification(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.task == "classification"  # no record yet
    folder.write_config({"run_id": "x", "task": "segmentation", "config": {"task": "classification"}})
    assert folder.task == "segmentation"
    folder.write_config({"run_id": "x", "config": {"task": "regression"}})
    assert folder.task == "regression"
    folder.write_config({"run_id": "x", "config": {}})
    assert folder.task == "classification"
    (folder.path / RunRecord.CONFIG).write_text("damaged", encoding="utf-8")
    assert folder.task == "classification"
    assert RunRecord.task_of({"task": "segmentation"}) == "segmentation" and RunRecord.task_of(None) == "classification"


def test_metrics_append_read_truncate_and_tolerant_read(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.read_metrics() == [] and folder.readable_metrics() == [] and not folder.has_metrics
    for epoch in range(4):
        folder.append_metrics({"epoch": epoch, "train_loss": 1.0 / (epoch + 1)})
    assert folder.has_metrics
    assert [r["epoch"] for r in folder.read_metrics()] == [0, 1, 2, 3]
    folder.truncate_metrics(2)
    assert [r["epoch"] for r in folder.read_metrics()] == [0, 1]
    with open(folder.path / RunRecord.METRICS, "a", encoding="utf-8") as stream:
        stream.write('[1]\n{"epoch": 2, "train_lo')  # a list, then a line cut off while being written
    assert [r["epoch"] for r in folder.readable_metrics()] == [0, 1]
    with pytest.raises(ValueError):
        folder.read_metrics()


def test_report_and_scope_round_trip_and_tolerant_reads(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.read_report() is None and folder.report_or_none() is None and folder.read_scope() is None
    folder.write_report({"status": "completed", "best_epoch": 1})
    folder.write_scope({"modalities": ["CR"]})
    assert folder.read_report() == folder.report_or_none() == {"status": "completed", "best_epoch": 1}
    assert folder.read_scope() == {"modalities": ["CR"]}
    (folder.path / RunRecord.REPORT).write_text("{", encoding="utf-8")
    (folder.path / RunRecord.SCOPE).write_text('"a string"', encoding="utf-8")
    assert folder.report_or_none() is None and folder.read_scope() is None
    with pytest.raises(ValueError):
        folder.read_report()


def test_ensemble_record(tmp_path: Path) -> None:
    folder = RunRecord(tmp_path / "ensemble")
    assert not folder.is_ensemble and folder.ensemble_or_none() is None
    with pytest.raises(FileNotFoundError):
        folder.read_ensemble()
    manifest = {"format": "medtl-ensemble", "members": [{"run": "../a"}], "combination": "mean"}
    folder.write_ensemble(manifest)  # creates the folder
    assert folder.is_ensemble and not RunRecord.is_run(folder.path)
    assert folder.read_ensemble() == manifest == folder.ensemble_or_none()
    assert folder.task == "classification"
    (folder.path / RunRecord.ENSEMBLE).write_text("{", encoding="utf-8")
    assert folder.ensemble_or_none() is None
    with pytest.raises(ValueError):
        folder.read_ensemble()


def test_failure_records_traceback_and_failed_report(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.error_text() == ""
    try:
        raise RuntimeError("out of memory")
    except RuntimeError as exc:
        reason, report = folder.record_failure(exc)
    assert reason == "RuntimeError: out of memory"
    assert report["status"] == "failed" and report["run_id"] == folder.run_id
    assert folder.read_report() == report
    assert "RuntimeError: out of memory" in folder.error_text() and "Traceback" in folder.error_text()
    path = folder.append_gui_error("first\n")
    assert folder.append_gui_error("second\n") == path == folder.path / RunRecord.GUI_ERROR_LOG
    assert path.read_text(encoding="utf-8") == "first\nsecond\n"


def test_validation_figures_round_trip(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    assert folder.read_validation() is None
    folder.write_validation({"epoch": 3, "probabilities": [[0.2, 0.8]]})
    assert folder.read_validation() == {"epoch": 3, "probabilities": [[0.2, 0.8]]}


def test_set_aside_attempt_moves_checkpoints_metrics_report_and_error_but_keeps_config(tmp_path: Path) -> None:
    folder = RunRecord.at(tmp_path / "run")
    folder.write_config({"run_id": folder.run_id, "config": {}})
    folder.write_scope({"modalities": []})
    folder.append_metrics({"epoch": 0})
    folder.write_report({"status": "failed"})
    folder.write_error("Traceback")
    (folder.checkpoints / "last.safetensors").write_bytes(b"weights")
    aside = folder.set_aside_attempt()
    assert aside.parent == folder.path and aside.name.startswith(RunRecord.PREVIOUS_ATTEMPT)
    assert sorted(p.name for p in aside.iterdir()) == ["checkpoints", "error.log", "metrics.jsonl", "report.json"]
    assert (aside / "checkpoints" / "last.safetensors").read_bytes() == b"weights"
    assert folder.read_metrics() == [] and folder.read_report() is None and folder.error_text() == ""
    assert folder.checkpoints.is_dir() and not any(folder.checkpoints.iterdir())
    assert folder.read_config()["run_id"] == folder.run_id and folder.read_scope() == {"modalities": []}
    assert folder.set_aside_attempt() != aside  # a second restart in the same second gets its own folder


def test_environment_record_names_versions_and_time() -> None:
    record = environment_record()
    assert {"versions", "code_version", "command", "created"} <= set(record)
    assert "python" in record["versions"] and record["code_version"]
    stamp = utc_now()
    assert stamp.endswith("+00:00") and time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")


# --------------------------------------------------------------------------- nobody else opens the files
#: what names a file inside a run folder (RunRecord's constants); "gui-error.log" contains "error.log"
RUN_FOLDER_FILES = ("config.json", "metrics.jsonl", "report.json", "ensemble.json", "scope.json", "error.log",
                    RunRecord.VALIDATION)
#: the package that owns those files
OWNER = PACKAGE / "core" / "runs"


def _docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of the docstrings (first statement of a module, class or function, a string) of ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def run_folder_names_in(source: str) -> list[tuple[int, str]]:
    """(line, name) of every run-folder file name in a string constant of ``source`` that is not a docstring
    (f-strings included: their literal parts are constants too)."""
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    return [(node.lineno, name) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            for name in RUN_FOLDER_FILES if name in node.value]


def test_the_scan_finds_names_in_code_and_skips_docstrings() -> None:
    source = '''"""Writes config.json."""
def f(run):
    """Reads report.json."""
    note = f"see {run}/error.log"
    return run / "metrics.jsonl", note
'''
    assert sorted(run_folder_names_in(source)) == [(4, "error.log"), (5, "metrics.jsonl")]
    assert run_folder_names_in('x = "gui-error.log"') == [(1, "error.log")]
    assert run_folder_names_in('x = RECORD.CONFIG  # config.json') == []


def test_only_core_runs_names_the_files_of_a_run_folder() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if path.is_relative_to(OWNER):
            continue
        offenders += [f"medtl_gui/{relative}:{line}: {name}"
                      for line, name in run_folder_names_in(path.read_text(encoding="utf-8"))]
    assert not offenders, ("files of a run folder are read and written through medtl_gui.core.runs.RunRecord "
                           "(use its methods, or its constants such as RunRecord.CONFIG):\n" + "\n".join(offenders))


def test_the_owner_really_holds_the_names() -> None:
    """Guards the scan itself: if RunRecord stopped naming the files, the scan would look for nothing real."""
    names = {n for _, n in run_folder_names_in((OWNER / "record.py").read_text(encoding="utf-8"))}
    assert names == set(RUN_FOLDER_FILES)
