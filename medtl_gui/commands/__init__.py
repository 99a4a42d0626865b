"""Sub-commands of the `medtl` CLI, one module per group (see medtl_gui/cli.py)."""

from __future__ import annotations

from pathlib import Path


class UsageError(Exception):
    """Bad input from the user: printed by `medtl` as one line, exit code 2."""


# -- shared by the command modules (imports stay inside: `medtl --help` must not load torch) --
def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean bad input (exit 2), the same for every command.

    Each names the file or setting and the reason: a bad config or option,
    unreadable data, refused or missing weights, an unknown architecture,
    an export or ensemble that cannot be made, a project that cannot be
    opened or changed, and an output folder that already exists.
    """
    from medtl_gui.core.data.errors import DataError
    from medtl_gui.core.models.weights.errors import WeightsError
    from medtl_gui.core.models.zoo import UnknownModelError
    from medtl_gui.core.inference.ensemble import EnsembleError
    from medtl_gui.core.inference.export import ExportError
    from medtl_gui.core.project.errors import ProjectError
    from medtl_gui.core.training.config import ConfigError

    return (ConfigError, DataError, WeightsError, UnknownModelError, ExportError, EnsembleError, ProjectError,
            FileExistsError)


def weight_store(directory: Path | None):
    """The weight store in ``directory`` (default: $MEDTL_WEIGHTS_DIR or the user data folder)."""
    from medtl_gui.core.models.weights import WeightStore

    return WeightStore(directory)


def open_data(location: str):
    """A project folder or .npz file as the engine's data source."""
    from medtl_gui.core.data.sources import open_data_source

    return open_data_source(location)
