"""One entry point for pretraining a data source named by a path (the CLI and the GUI call it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.pretraining.config import PretrainConfig
from medtl_gui.core.pretraining.ssl_training import PretrainResult
from medtl_gui.core.training.control import RunControl


def pretrain_location(config: PretrainConfig, location: str | os.PathLike, events: Any = None,
                      control: RunControl | None = None, *, run_dir: str | os.PathLike | None = None,
                      weight_store: WeightStore | None = None) -> PretrainResult:
    """Pretrain on a project folder or ``.npz`` as ``config.method`` says; runs go to its ``runs/``.

    ``ssl`` uses every image (labels ignored; the test split only with
    ``config.include_test``); ``supervised`` trains on the labelled splits.
    """
    path = Path(location).expanduser()
    if config.method == "ssl":
        from medtl_gui.core.pretraining.image_sources import open_pretraining_images
        from medtl_gui.core.pretraining.ssl_training import pretrain_ssl

        images, source = open_pretraining_images(path, config.include_test)
        runs_dir = (path.parent if path.suffix.lower() == ".npz" else path) / "runs"
        return pretrain_ssl(config, images, events, control, source_name=source, run_dir=run_dir,
                            runs_dir=runs_dir, weight_store=weight_store)
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.pretraining.supervised import pretrain_supervised

    return pretrain_supervised(config, open_data_source(path), events, control, source_name=path.name,
                               run_dir=run_dir, weight_store=weight_store)
