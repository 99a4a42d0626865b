"""`python -m medtl_gui` starts the desktop app."""

from medtl_gui.gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
