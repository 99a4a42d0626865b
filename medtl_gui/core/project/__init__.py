"""The project store: a folder with ``project.sqlite`` plus images, masks, runs and a cache.

Public API (the GUI and the training engine code against these names)::

    from medtl_gui.core.project import Project, ProjectError, import_sources, create_demo_project

    with Project.open_or_create("~/projects/chest") as project:
        report = import_sources(project, ["~/scans/by-class"])  # also assigns splits (report.splits)
        project.set_label(image_id, "pneumonia", user="dr.lee")

Never imports Qt or torch.
"""

from medtl_gui.core.project.demo import create_demo_project
from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.importing import ImportReport, import_sources
from medtl_gui.core.project.project import Project
from medtl_gui.core.project.records import (
    LABEL_STATUSES,
    ORIGINS,
    SPLITS,
    ExportRecord,
    HistoryEntry,
    ImageRecord,
    LabelClass,
    LabelRecord,
    MaskRecord,
    ProposalRecord,
    SegLabel,
)
from medtl_gui.core.project.schema import SCHEMA_VERSION

__all__ = [
    "LABEL_STATUSES",
    "ORIGINS",
    "SCHEMA_VERSION",
    "SPLITS",
    "ExportRecord",
    "HistoryEntry",
    "ImageRecord",
    "ImportReport",
    "LabelClass",
    "LabelRecord",
    "MaskRecord",
    "Project",
    "ProjectError",
    "ProposalRecord",
    "SegLabel",
    "create_demo_project",
    "import_sources",
]
