"""Fuzz campaign for damaged project databases: ``medtl check`` on corrupted ``project.sqlite`` files.

Each input is a copy of a tiny project (three 8x10 PNGs, two classes, a
label, a mask, a split) whose ``project.sqlite`` got random bit flips, byte
overwrites, zeroed runs or a truncation. The target runs the CLI's own entry
(``medtl_gui.cli.main``, with its error handling) for ``check --json`` and
``check --repair --json``. Contract: neither raises (exit 0, 1 or 2 only),
and when SQLite's integrity check fails for more than index entries,
``--repair`` leaves ``project.sqlite`` byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

from medtl_gui.core.imaging.fuzzing.contract import ContractViolation, Outcome
from medtl_gui.core.imaging.fuzzing.runner import FuzzCampaign

_MODULE = "medtl_gui.core.project.database_fuzzing"
_INDEX_WORDS = ("missing from index", "entries in index", "UNIQUE index")


def _integrity(path: Path) -> tuple[bool, bool]:
    """(damaged, index damage only) as an independent read-only connection sees it."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            lines = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(50)")]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError):  # SQLite's message may quote damaged bytes
        return True, False
    if lines == ["ok"]:
        return False, False
    return True, all(any(word in line for word in _INDEX_WORDS) for line in lines)


def target_check_database(path: str) -> Outcome:
    """``medtl check`` and ``medtl check --repair`` on the project folder ``path``."""
    from medtl_gui.cli import main

    folder = Path(path)
    database = folder / "project.sqlite"
    damaged, index_only = _integrity(database)
    before = database.read_bytes()
    codes = []
    for args in (["check", str(folder), "--json"], ["check", str(folder), "--repair", "--json"]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            codes.append(main(args))
    if any(code not in (0, 1, 2) for code in codes):
        raise ContractViolation(f"medtl check exited with {codes}")
    if damaged and not index_only and database.read_bytes() != before:
        raise ContractViolation("check --repair changed a damaged database")
    return ("rejected" if damaged else "read"), f"damaged={damaged} index_only={index_only} exit={codes}"


def _corrupt(data: bytes, rng: random.Random) -> bytes:
    raw = bytearray(data)
    how = rng.random()
    if how < 0.1:
        return bytes(raw[: rng.randrange(0, len(raw))])  # truncated
    start = 0 if rng.random() < 0.05 else 100  # the header, rarely
    for _ in range(rng.choice((1, 2, 4, 8, 32, 128))):
        position = rng.randrange(start, len(raw))
        kind = rng.random()
        if kind < 0.6:
            raw[position] ^= 1 << rng.randrange(8)
        elif kind < 0.85:
            raw[position] = rng.randrange(256)
        else:
            length = min(rng.choice((4, 16, 64, 512)), len(raw) - position)
            raw[position:position + length] = bytes(length)
    return bytes(raw)


class DatabaseInput:
    """A copy of the seed project whose database is corrupted (the seed is built once, on first use)."""

    def __init__(self) -> None:
        self._seed: Path | None = None

    def _seed_project(self) -> Path:
        if self._seed is None:
            import numpy as np
            from PIL import Image

            from medtl_gui.core.project import Project

            root = Path(tempfile.mkdtemp(prefix="medtl-fuzz-db-seed-"))
            (root / "src").mkdir()
            for k in range(3):
                Image.fromarray(np.full((8, 10), 40 * k, np.uint8)).save(root / "src" / f"img{k}.png")
            with Project.create(root / "project") as project:
                project.add_class("normal")
                project.add_class("lesion")
                ids = [project.add_image(root / "src" / f"img{k}.png", copy=True) for k in range(3)]
                project.set_label(ids[0], "lesion", user="dr.a")
                project.set_label(ids[1], "normal", user="dr.a")
                project.set_mask(ids[0], np.eye(8, 10, dtype=np.uint8), user="dr.a")
                project.set_split(ids[2], "test")
            self._seed = root / "project"
        return self._seed

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        target = folder / "project"
        shutil.copytree(self._seed_project(), target)
        database = target / "project.sqlite"
        database.write_bytes(_corrupt(database.read_bytes(), rng))
        return target


def database_campaigns() -> list[FuzzCampaign]:
    """The damaged-database campaign."""
    return [FuzzCampaign("check-database", f"{_MODULE}:target_check_database", DatabaseInput(),
                         ("medtl_gui.core.project", "medtl_gui.cli"), bare_worker=True)]
