"""Frozen entry point of ``medtl-gui`` (the desktop app); PyInstaller builds it from installer/medtl.spec."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # before anything else: a spawned child must not start the GUI
    from installer_startup import prepare_frozen_app

    prepare_frozen_app()
    from medtl_gui.gui.app import main

    sys.exit(main())
