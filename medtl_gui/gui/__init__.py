"""PySide6 + pyqtgraph front end. Thin: turns user intent into calls on core."""
