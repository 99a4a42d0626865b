"""One pass of a trained classifier over scans: probabilities and backbone features.

Active learning needs both for every unlabelled image (uncertainty from
the probabilities, diversity from the features), and sometimes several
stochastic passes of the head (MC dropout). Unreadable scans are listed
with their reason and skipped; the rest are processed in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from medtl_gui.core.inference.prediction import ScanToPredict
from medtl_gui.core.inference.trained_model import TrainedModel

#: ``progress(done, total)`` after each batch
ProgressCallback = Callable[[int, int], None]


class RankingCancelled(Exception):
    """The caller's ``cancelled()`` returned True between batches."""


@dataclass
class ModelOutputs:
    """What the model said about the scans it could read.

    ``keys`` identify the scans (project image ids, or positions in the
    input when a scan has no id); ``probabilities`` is (n, classes);
    ``features`` (n, feature_dim) when asked for; ``mc_probabilities``
    (passes, n, classes) for MC dropout; ``skipped`` lists
    (source, reason) of scans that could not be used.
    """

    keys: list[int]
    probabilities: np.ndarray
    features: np.ndarray | None = None
    mc_probabilities: np.ndarray | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


def head_has_dropout(trained: TrainedModel) -> bool:
    """True when the run's head has a dropout layer with p > 0 (MC dropout possible)."""
    from torch import nn

    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in trained.model.head.modules())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def collect_outputs(trained: TrainedModel, scans: Sequence[ScanToPredict], *, device: str = "cpu",
                    batch_size: int = 64, with_features: bool = False, mc_passes: int = 0, seed: int = 0,
                    progress: ProgressCallback | None = None,
                    cancelled: Callable[[], bool] | None = None) -> ModelOutputs:
    """Probabilities (and optionally features, MC-dropout passes) of every readable scan.

    ``mc_passes`` > 0 runs the head that many extra times with its dropout
    active on the same backbone features (dropout in the backbone stays
    off: the passes differ only where the head drops units). Raises
    :class:`RankingCancelled` when ``cancelled()`` turns True.
    """
    import torch

    from medtl_gui.core.inference.prediction import ModelRunner
    from medtl_gui.core.training.losses import output_probabilities

    if trained.head_kind == "regression":
        raise ValueError(f"{trained.run_dir}: a regression run has no class probabilities to rank by")
    if mc_passes and not head_has_dropout(trained):
        raise ValueError(f"{trained.run_dir}: the run's head has no dropout (head_dropout = 0), so MC dropout "
                         "cannot sample it; train with head_dropout > 0 or rank by entropy/margin")
    runner = ModelRunner(trained, device)
    model, plan = runner.model, runner.plan
    generator = torch.Generator(device="cpu").manual_seed(seed)
    keys: list[int] = []
    probs: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    mc: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    pending: list[tuple[int, object]] = []
    total, done = len(scans), 0

    def flush() -> None:
        if not pending:
            return
        batch = plan.to_device(torch.stack([t for _, t in pending]))
        with torch.no_grad(), plan.autocast():
            features = model.forward_features(batch)
            probs.append(output_probabilities(model.head(features), model.head_kind).cpu().numpy())
            if with_features:
                feats.append(features.float().cpu().numpy())
            if mc_passes:
                model.head.train()
                try:
                    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state alone
                        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
                        passes = [output_probabilities(model.head(features), model.head_kind).cpu().numpy()
                                  for _ in range(mc_passes)]
                finally:
                    model.head.eval()
                mc.append(np.stack(passes))
        keys.extend(k for k, _ in pending)
        pending.clear()

    for position, scan in enumerate(scans):
        if cancelled is not None and cancelled():
            raise RankingCancelled("ranking cancelled")
        try:
            tensor = trained.preprocessing.normalise(trained.preprocessing.prepare(scan.load()))
        except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the ranking
            skipped.append((scan.source, _one_line(exc)))
        else:
            pending.append((scan.image_id if scan.image_id is not None else position, tensor))
        done += 1
        if len(pending) >= batch_size:
            flush()
            if progress is not None:
                progress(done, total)
    flush()
    if progress is not None:
        progress(total, total)
    n_classes = max(2, len(trained.class_names))
    return ModelOutputs(
        keys=keys,
        probabilities=np.concatenate(probs).astype(np.float64) if probs else np.zeros((0, n_classes)),
        features=(np.concatenate(feats) if feats else np.zeros((0, trained.model.feature_dim))) if with_features
        else None,
        mc_probabilities=(np.concatenate(mc, axis=1).astype(np.float64) if mc else None) if mc_passes else None,
        skipped=skipped,
    )
