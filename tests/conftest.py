"""Shared test fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip when it is absent (e.g. a clone elsewhere)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_project_template(tmp_path_factory):
    """A small demo project made once per session; copy it before changing it."""
    from medtl_gui.core.project import create_demo_project

    folder = tmp_path_factory.mktemp("demo-template") / "demo"
    project = create_demo_project(folder, n_images=12, size=128, seed=1)
    project.close()
    return folder


@pytest.fixture
def demo_project_dir(demo_project_template, tmp_path) -> Path:
    """A private copy of the small demo project."""
    import shutil

    target = tmp_path / "demo"
    shutil.copytree(demo_project_template, target)
    return target


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    """QSettings (recent projects, preferences, the window's layout) written under ``tmp_path``, not the user's
    own; for every test, so no window restores a layout another test (or the user) saved."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return tmp_path / "settings"


@pytest.fixture
def main_window(qtbot, demo_project_dir, isolated_settings):
    """The real MainWindow, shown, on a private copy of the small demo project, first image on screen."""
    from medtl_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        assert win.open_project(demo_project_dir)
    yield win
    win.close()


def make_small_project(tmp_path: Path, n_images: int = 2) -> Path:
    """A project of ``n_images`` small PNGs: the first copied in (labelled "lesion", with a mask), the
    second imported in place, the others copied in."""
    import numpy as np
    from PIL import Image

    from medtl_gui.core.project import Project

    source = tmp_path / "src"
    source.mkdir()
    for k in range(n_images):
        Image.fromarray(np.full((8, 10), 40 * k, np.uint8)).save(source / f"img{k}.png")
    folder = tmp_path / "proj"
    with Project.create(folder) as project:
        project.add_class("normal")
        project.add_class("lesion")
        first = project.add_image(source / "img0.png", copy=True)
        for k in range(1, n_images):
            project.add_image(source / f"img{k}.png", copy=k > 1)
        project.set_label(first, "lesion", user="dr.a")
        project.set_mask(first, np.eye(8, 10, dtype=np.uint8), user="dr.a")
    return folder


def run_cli(args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 240):
    """``python -m medtl_gui.cli ARGS`` in a child process (the DDP launcher starts its own children)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", MEDTL_DDP_TIMEOUT_S="60", **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "medtl_gui.cli", *args], capture_output=True, text=True,
                          env=env, cwd=root, timeout=timeout)


def save_splits_npz(path: Path, images, labels) -> Path:
    """A MedMNIST-style .npz: the first half of the images train, the next quarter validate, the rest test."""
    import numpy as np

    n = len(images)
    half, quarter = n // 2, n // 4
    np.savez(path, train_images=images[:half], train_labels=labels[:half, None],
             val_images=images[half:half + quarter], val_labels=labels[half:half + quarter, None],
             test_images=images[half + quarter:], test_labels=labels[half + quarter:, None])
    return path
