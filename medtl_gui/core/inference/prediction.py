"""Run a trained model on images: labelled sets (for evaluation) or scans that may fail to read.

:func:`predict_images` returns the probability matrix of a
:class:`LabelledImages` (evaluation). :func:`predict_scans` takes scans to
be read one by one (files, DICOM series, project images): each unreadable
or unusable scan becomes a row with its reason, and the rest are predicted
in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.evaluation.classification import predict_labels
from medtl_gui.core.inference.model_scope import ScopeCheck
from medtl_gui.core.inference.trained_model import TrainedModel


@dataclass
class ScanToPredict:
    """One scan to predict: where it comes from and how to read it.

    ``load()`` returns a :class:`~medtl_gui.core.imaging.scan.Scan` (or a
    pixel array) and may raise. ``image_id`` is set for project images;
    identifiers given here win over those read from the scan. ``files``:
    the files the scan is read from (a DICOM series' instances), when known.
    """

    source: str
    load: Callable[[], Any]
    image_id: int | None = None
    patient_id: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    files: tuple[str, ...] = ()


@dataclass
class PredictionRow:
    """The prediction for one scan, or why there is none (``error``).

    ``predicted`` is a class name (classification) or a value
    (regression); ``probabilities`` maps class names to probabilities
    (empty for regression and for errors).
    """

    source: str
    image_id: int | None = None
    patient_id: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    predicted: str | float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    outside_scope: list[str] = field(default_factory=list)  # why it is outside the model's scope (if it is)

    @property
    def ok(self) -> bool:
        """True when the scan was predicted."""
        return self.error is None

    @property
    def skipped_for_scope(self) -> bool:
        """Not predicted because it is outside the model's scope (not because it could not be read)."""
        return self.error is not None and bool(self.outside_scope)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "source": self.source, "image_id": self.image_id, "patient_id": self.patient_id,
            "study_uid": self.study_uid, "series_uid": self.series_uid, "predicted": self.predicted,
            "probabilities": self.probabilities, "error": self.error, "outside_scope": self.outside_scope,
        }


class ModelRunner:
    """A trained model placed on a device, turning prepared [0, 1] tensors into probabilities.

    The model's test-time augmentation (``trained.tta``) is applied here:
    the probabilities of the transformed batches are averaged.
    """

    def __init__(self, trained: TrainedModel, device: str = "auto"):
        import torch

        from medtl_gui.core.inference.tta import check_tta_mode
        from medtl_gui.core.training.device import plan_execution

        self.trained = trained
        self.tta = check_tta_mode(getattr(trained, "tta", "none"))
        self.plan = plan_execution(device, trained.config.precision, trained.config.channels_last)
        self.model = trained.model.to(self.plan.device).eval()
        if self.plan.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def probabilities(self, normalised) -> np.ndarray:
        """Class probabilities (or regression values) of a normalised batch (n, C, S, S)."""
        import torch

        from medtl_gui.core.inference.tta import averaged_probabilities
        from medtl_gui.core.training.losses import output_probabilities

        def predict(batch):
            return output_probabilities(self.model(batch), self.model.head_kind)

        with torch.no_grad(), self.plan.autocast():
            outputs = averaged_probabilities(predict, self.plan.to_device(normalised), self.tta)
        return outputs.cpu().numpy().astype(np.float64)

    def prepare(self, loaded: Any):
        """The normalised model input (C, S, S) of a scan or pixel array."""
        prep = self.trained.preprocessing
        return prep.normalise(prep.prepare(loaded))

    def batch_probabilities(self, prepared: list) -> np.ndarray:
        """Probabilities of a list of :meth:`prepare` results."""
        import torch

        return self.probabilities(torch.stack(prepared))


def model_runner(trained: Any, device: str = "auto") -> Any:
    """A :class:`ModelRunner`, or an ``EnsembleRunner`` for an ensemble (``load_trained_model`` of its folder)."""
    from medtl_gui.core.inference.ensemble import EnsembleModel

    if isinstance(trained, EnsembleModel):
        from medtl_gui.core.inference.ensemble_prediction import EnsembleRunner

        return EnsembleRunner(trained, device)
    return ModelRunner(trained, device)


def predict_images(trained: TrainedModel, images: LabelledImages, device: str = "auto",
                   batch_size: int = 64) -> np.ndarray:
    """Probabilities (classification, shape (n, classes)) or values (regression) on ``images``."""
    from torch.utils.data import DataLoader

    from medtl_gui.core.data.torch_dataset import ImageTensorDataset
    from medtl_gui.core.inference.ensemble import EnsembleModel

    if isinstance(trained, EnsembleModel):
        from medtl_gui.core.inference.ensemble_prediction import ensemble_probabilities

        return ensemble_probabilities(trained, images, device, batch_size=batch_size)

    runner = ModelRunner(trained, device)
    dataset = ImageTensorDataset(images, trained.preprocessing, None, cache=False)
    outputs = [runner.probabilities(inputs) for inputs, _ in DataLoader(dataset, batch_size=batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, max(1, len(trained.class_names))))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _prepared(runner: Any, scan: ScanToPredict, check: ScopeCheck | None = None) -> tuple[Any, PredictionRow]:
    """Read, scope-check and prepare one scan; when it is not predicted the tensor is None and the row says why."""
    row = PredictionRow(scan.source, scan.image_id, scan.patient_id, scan.study_uid, scan.series_uid)
    try:
        loaded = scan.load()
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported for this scan only
        row.error = f"unreadable: {_one_line(exc)}"
        return None, row
    for name in ("patient_id", "study_uid", "series_uid"):
        if getattr(row, name) is None:
            setattr(row, name, getattr(loaded, name, None))
    if check is not None:
        row.outside_scope = check.reasons(loaded)
        if row.outside_scope and not check.include:
            row.error = "outside the model's scope: " + "; ".join(row.outside_scope)
            return None, row
    try:
        tensor = runner.prepare(loaded)
    except Exception as exc:  # noqa: BLE001 - e.g. pixels that cannot become a 2D image
        row.error = f"cannot be used as model input: {_one_line(exc)}"
        return None, row
    return tensor, row


def _fill(trained: TrainedModel, rows: list[PredictionRow], probabilities: np.ndarray) -> None:
    names = trained.class_names
    if not names:
        for row, values in zip(rows, probabilities):
            row.predicted = float(values[0])
        return
    labels = predict_labels(probabilities, trained.threshold)
    for row, label, values in zip(rows, labels, probabilities):
        row.predicted = names[int(label)]
        row.probabilities = {name: float(p) for name, p in zip(names, values)}


def iter_predictions(trained: TrainedModel, scans: Iterable[ScanToPredict], device: str = "auto",
                     batch_size: int = 32, check: ScopeCheck | None = None) -> Iterator[PredictionRow]:
    """Rows in input order, predicting ``batch_size`` readable scans at a time (memory stays bounded).

    ``check``: the model's scope; scans outside it are skipped with the reasons unless it includes them.
    """
    runner = model_runner(trained, device)
    pending: list[tuple[Any, PredictionRow]] = []

    def flush() -> Iterator[PredictionRow]:
        good = [(t, r) for t, r in pending if t is not None]
        if good:
            _fill(trained, [r for _, r in good], runner.batch_probabilities([t for t, _ in good]))
        yield from (r for _, r in pending)
        pending.clear()

    for scan in scans:
        pending.append(_prepared(runner, scan, check))
        if sum(t is not None for t, _ in pending) >= batch_size:
            yield from flush()
    yield from flush()


def predict_scans(trained: TrainedModel, scans: Iterable[ScanToPredict], device: str = "auto",
                  batch_size: int = 32, progress: Callable[[int], None] | None = None,
                  check: ScopeCheck | None = None) -> list[PredictionRow]:
    """One row per scan, in order; unreadable (and out-of-scope) scans get ``error``, the rest are predicted."""
    rows = []
    for row in iter_predictions(trained, scans, device, batch_size, check):
        rows.append(row)
        if progress is not None:
            progress(len(rows))
    return rows
