"""Guard against PySide6 releases that lose references to Python's singletons.

PySide6 6.12.0 lost a reference to ``True`` on every ``signal.emit()`` and to
``None`` on every empty ``QModelIndex.data()``; after enough calls Python
aborts ("Fatal Python error: bool_dealloc") - in the app after a long
labelling session. pyproject.toml excludes that release; this test fails if a
leaking release is installed again.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, QStringListModel, Signal

    app = QCoreApplication([])

    class Probe(QObject):
        ping = Signal()

    probe = Probe()
    signal = probe.ping
    before = sys.getrefcount(True)
    for _ in range(2000):
        signal.emit()
    lost_true = before - sys.getrefcount(True)
    model = QStringListModel(["a"])
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        index.data(1234)  # a role with no data: returns None
    lost_none = before - sys.getrefcount(None)
    print(lost_true, lost_none)
    """
)


def test_installed_pyside_keeps_singleton_references():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    lost_true, lost_none = (int(v) for v in result.stdout.split())
    assert lost_true < 100, f"signal.emit() leaks references to True ({lost_true} per 2000 calls)"
    assert lost_none < 100, f"QModelIndex.data() leaks references to None ({lost_none} per 2000 calls)"
