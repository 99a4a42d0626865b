"""Start-up steps shared by the frozen entry points (``entry_gui.py``, ``entry_cli.py``).

Only runs inside an installer build: copies the weights bundled with the app
into the user's weight store (once; later starts find them there and read
two small manifests). A failure here never stops the app: it is printed and
the user can still import weights by hand (``medtl weights import``).
"""

from __future__ import annotations

import sys


def prepare_frozen_app() -> None:
    """Install bundled weights into the user's weight store; warn on stderr if that fails."""
    if not getattr(sys, "frozen", False):
        return
    try:
        from medtl_gui.selftest.bundle import install_bundled_weights

        added = install_bundled_weights()
    except Exception as exc:  # noqa: BLE001 - the app must start even if the user's store is read-only
        if sys.stderr is not None:
            print(f"MedTL: bundled weights were not installed into the weight store: {exc}", file=sys.stderr)
        return
    if added and sys.stderr is not None:
        print(f"MedTL: installed bundled weights {', '.join(added)} into the weight store", file=sys.stderr)
