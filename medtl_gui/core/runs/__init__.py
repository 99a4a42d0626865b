"""Run folders: :class:`RunRecord` alone reads and writes the files inside ``runs/<id>/``.

Every other module (training, inference, reporting, the GUI, the CLI) goes
through a :class:`RunRecord`; ``tests/test_run_record.py`` scans the
source for file names of a run folder used anywhere else.
"""

from medtl_gui.core.runs.environment import code_version, environment_record, package_versions, utc_now
from medtl_gui.core.runs.record import RunRecord

__all__ = ["RunRecord", "code_version", "environment_record", "package_versions", "utc_now"]
