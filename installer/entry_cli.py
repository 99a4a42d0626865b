"""Frozen entry point of ``medtl`` (the headless command line); PyInstaller builds it from installer/medtl.spec."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from installer_startup import prepare_frozen_app

    prepare_frozen_app()
    from medtl_gui.cli import main

    sys.exit(main())
