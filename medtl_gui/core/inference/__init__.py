"""Using trained runs: rebuild a run's model, predict on scans or a project, export with a model card.

Light at import time (no torch); the functions load torch when called.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "TrainedModel": "trained_model",
    "load_trained_model": "trained_model",
    "predict_images": "prediction",
    "predict_scans": "prediction",
    "PredictionRow": "prediction",
    "ScanToPredict": "prediction",
    "scans_in_paths": "scan_discovery",
    "predict_project": "project_prediction",
    "predict_locations": "location_prediction",
    "write_predictions_csv": "prediction_table",
    "write_predictions": "prediction_table",
    "export_run": "export",
    "EXPORT_FORMATS": "export",
    "build_model_card": "model_card",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"medtl_gui.core.inference.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
