"""`medtl_gui.core` must work without Qt: import every core module with Qt made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph")

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"Qt is not allowed in medtl_gui.core (tried {name})")
            return None

    sys.meta_path.insert(0, BlockQt())
    import medtl_gui.core as core

    names = [m.name for m in pkgutil.walk_packages(core.__path__, "medtl_gui.core.")]
    for name in names:
        importlib.import_module(name)
    leaked = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    assert not leaked, leaked
    print(len(names))
    """
)


def test_core_imports_without_qt():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 3  # imaging, project and their modules


def test_blocker_really_blocks_qt():
    """The harness itself must fail when a core module imports Qt."""
    script = SCRIPT.replace("import medtl_gui.core as core", "import PySide6.QtCore\nimport medtl_gui.core as core")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Qt is not allowed" in result.stderr
