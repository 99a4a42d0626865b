"""GUI-free core of MedTL. Never imports Qt (tests/test_core_no_qt.py enforces it)."""
