"""The self-test's checks that need no display: imports, codecs, a training step, bundled weights.

Each check function returns a list of :class:`CheckResult` (one line of
the report each) and never raises: a failure becomes a FAIL line with the
reason. The GUI check lives in :mod:`medtl_gui.gui.selftest_gui` (Qt is
not imported here).
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"

#: third-party modules a working installation must be able to import
REQUIRED_MODULES = (
    "numpy", "PIL", "platformdirs", "pydicom", "gdcm", "pylibjpeg", "openjpeg", "jpeg_ls", "SimpleITK",
    "safetensors", "torch", "torchvision", "torchmetrics", "monai", "highdicom",
)


@dataclass
class CheckResult:
    """One line of the self-test report: ``status`` is PASS, FAIL or SKIP; ``detail`` says why."""

    group: str
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """True for a FAIL line."""
        return self.status == FAIL


def timed(group: str, name: str, action: Callable[[], str]) -> CheckResult:
    """Run ``action`` (returns a detail string) and turn its outcome into a result line."""
    start = time.perf_counter()
    try:
        detail = action()
        status = PASS
    except Exception as exc:  # noqa: BLE001 - every failure becomes a report line
        status, detail = FAIL, _reason(exc)
    return CheckResult(group, name, status, detail, time.perf_counter() - start)


def _reason(exc: BaseException) -> str:
    """``Type: message`` plus where it was raised (last frame), on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    message = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {message}{where}"


# --------------------------------------------------------------------------- imports
def medtl_modules(include_gui: bool) -> list[str]:
    """Names of every module of the medtl_gui package (the GUI's only with ``include_gui``)."""
    import medtl_gui

    names = []
    for info in pkgutil.walk_packages(medtl_gui.__path__, prefix="medtl_gui."):
        if not include_gui and (info.name == "medtl_gui.gui" or info.name.startswith("medtl_gui.gui.")):
            continue
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return sorted(names)


def check_imports(include_gui: bool = False) -> list[CheckResult]:
    """Import the third-party stack and every MedTL module; one line per failing module, one summary line."""
    results = [timed("import", module, lambda module=module: _import_version(module)) for module in REQUIRED_MODULES]
    failures = []
    start = time.perf_counter()
    names = medtl_modules(include_gui)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - listed in the report
            failures.append(CheckResult("import", name, FAIL, _reason(exc)))
    summary = CheckResult("import", "medtl_gui" + (" (with GUI)" if include_gui else ""),
                          FAIL if failures else PASS,
                          f"{len(names) - len(failures)}/{len(names)} modules imported", time.perf_counter() - start)
    return results + failures + [summary]


def _import_version(module: str) -> str:
    imported = importlib.import_module(module)
    version = getattr(imported, "__version__", None) or getattr(imported, "VERSION", None)
    if module == "gdcm":
        version = imported.Version.GetVersion()
    return f"version {version}" if version else "imported"


# --------------------------------------------------------------------------- codecs
def check_codecs(samples_dir: Path | None) -> list[CheckResult]:
    """Decode every codec sample with MedTL's reader and compare it with the phantom it encodes.

    ``samples_dir``: the build's bundled samples; None (source checkout)
    generates them into a temporary folder first, and encoders missing
    here become SKIP lines naming the reason.
    """
    from medtl_gui.selftest.samples import write_codec_samples

    if samples_dir is not None:
        return _decode_samples(samples_dir, bundled=True)
    with tempfile.TemporaryDirectory(prefix="medtl-selftest-") as temp:
        start = time.perf_counter()
        try:
            write_codec_samples(temp)
        except Exception as exc:  # noqa: BLE001
            return [CheckResult("codec", "generate samples", FAIL, _reason(exc), time.perf_counter() - start)]
        return _decode_samples(Path(temp), bundled=False)


def _decode_samples(folder: Path, bundled: bool) -> list[CheckResult]:
    from medtl_gui.selftest.samples import read_samples_manifest

    try:
        samples, skipped = read_samples_manifest(folder)
    except ValueError as exc:
        return [CheckResult("codec", "samples", FAIL, str(exc))]
    results = [timed("codec", sample.name, lambda sample=sample: _decode_one(folder, sample)) for sample in samples]
    for item in skipped:
        status = FAIL if bundled else SKIP
        results.append(CheckResult("codec", item["name"], status, f"no sample: the encoder failed ({item['reason']})"))
    if not samples:
        results.append(CheckResult("codec", "samples", FAIL, f"{folder}: no codec samples"))
    return results


def _decode_one(folder: Path, sample) -> str:
    from medtl_gui.core.imaging.dicom_file import read_dicom_file
    from medtl_gui.selftest.samples import phantom

    scan = read_dicom_file(folder / sample.file)
    decoded = np.asarray(scan.pixels, dtype=np.float64).squeeze()
    expected = phantom(sample.bits).astype(np.float64)
    if decoded.shape != expected.shape:
        raise ValueError(f"{sample.file}: decoded shape {decoded.shape}, expected {expected.shape}")
    error = float(np.abs(decoded - expected).mean())
    if error > sample.max_mean_error:
        raise ValueError(f"{sample.file}: mean error {error:.3g} exceeds {sample.max_mean_error:g}")
    quality = "exact" if error == 0 else f"mean error {error:.2f} (lossy, limit {sample.max_mean_error:g})"
    return f"{sample.transfer_syntax}: {quality}"


# --------------------------------------------------------------------------- training
def check_training_step() -> list[CheckResult]:
    """One optimiser step of the small baseline CNN on the CPU, in float32: the loss must be finite and fall."""
    return [timed("train", "one CPU training step (baseline_cnn)", _training_step)]


def _training_step() -> str:
    import torch

    from medtl_gui.core.models.builder import build_model
    from medtl_gui.core.training.device import plan_execution

    plan = plan_execution("cpu", "fp32", channels_last=False)
    torch.manual_seed(0)
    bundle = build_model("baseline_cnn", task="classification", n_classes=2, in_channels=1)
    model = bundle.model.to(plan.device).train()
    inputs = torch.randn(8, 1, 32, 32)
    targets = torch.tensor([0, 1] * 4)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(2):
        optimiser.zero_grad()
        logits = model(plan.to_device(inputs))
        if logits.shape[1] == 1:  # binary head: one logit
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.float())
        else:
            loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    if not all(np.isfinite(losses)):
        raise ValueError(f"loss is not finite: {losses}")
    if not losses[1] < losses[0]:
        raise ValueError(f"the loss did not fall after one step: {losses[0]:.4f} -> {losses[1]:.4f}")
    return f"{plan.describe()}, torch {torch.__version__}, loss {losses[0]:.4f} -> {losses[1]:.4f}"


# --------------------------------------------------------------------------- weights
def check_bundled_weights(weights_dir: Path | None) -> list[CheckResult]:
    """SHA-256 of every weights file in the build's bundled store against its manifest."""
    from medtl_gui.core.models.weights.manifest import read_manifest
    from medtl_gui.core.models.weights.store import WeightStore

    if weights_dir is None:
        return [CheckResult("weights", "bundled weights", PASS, "none bundled with this build")]
    try:
        entries = read_manifest(weights_dir)
    except Exception as exc:  # noqa: BLE001
        return [CheckResult("weights", "bundled manifest", FAIL, _reason(exc))]
    if not entries:
        return [CheckResult("weights", "bundled manifest", FAIL, f"{weights_dir}: the manifest lists no weights")]
    store = WeightStore(weights_dir, hub_dirs=[])
    return [timed("weights", entry.name, lambda entry=entry: _verify(store, entry)) for entry in entries]


def _verify(store, entry) -> str:
    if not entry.sha256:
        raise ValueError(f"{entry.file}: the bundled manifest records no SHA-256")
    digest = store.verify(entry)
    return f"{entry.architecture}, sha256 {digest[:12]}... matches"
