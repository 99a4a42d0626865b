"""Where and in which precision a run executes: device auto-selection and mixed precision.

``auto`` picks CUDA, then Apple MPS, then the CPU, and says why when it
falls back. Precision ``auto`` uses bfloat16 autocast where the hardware
computes it natively (CUDA GPUs with bf16 support; CPUs with AVX512-BF16
or AMX), float16 with a gradient scaler on older CUDA GPUs, else float32.
A short trial forward/backward pass confirms the choice and falls back to
float32 with a message if it fails.
"""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class ExecutionPlan:
    """The resolved device, precision and memory format of a run."""

    device: torch.device
    precision: str  # "fp32" | "bf16" | "fp16"
    channels_last: bool
    messages: list[str] = field(default_factory=list)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype, ``None`` for float32."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes (a no-op in float32)."""
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def needs_grad_scaler(self) -> bool:
        """float16 on CUDA needs loss scaling; bfloat16 does not."""
        return self.precision == "fp16" and self.device.type == "cuda"

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """Move an input batch, in channels-last layout for 4-D tensors when planned."""
        tensor = tensor.to(self.device, non_blocking=True)
        if self.channels_last and tensor.ndim == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def describe(self) -> str:
        """e.g. ``cpu, bf16 autocast, channels-last``."""
        parts = [str(self.device), f"{self.precision} autocast" if self.precision != "fp32" else "fp32"]
        if self.channels_last:
            parts.append("channels-last")
        return ", ".join(parts)


#: most DataLoader worker processes chosen automatically for a GPU run
AUTO_GPU_WORKERS = 8


def loader_workers(requested: int | None, device: torch.device | str | None = None) -> int:
    """DataLoader worker processes to use for a run on ``device``.

    ``requested`` (the config's ``num_workers``) wins when set. ``None``
    means automatic: none when training on the CPU (worker processes would
    take cores from the arithmetic; measured slower on 2 cores), and up to
    :data:`AUTO_GPU_WORKERS` on a GPU, where the CPU only prepares and
    augments images and one process cannot keep up (benchmarks/RESULTS.md,
    bench_engine on CUDA). Automatic workers are used only where processes
    fork (Linux): elsewhere they would re-import the app and pickle the data
    sources. A frozen (installer) build always loads in the main process: its
    child processes would start another copy of the app executable.
    """
    import os
    import sys

    if getattr(sys, "frozen", False):
        return 0
    if requested is not None:
        return requested
    if torch.device(device or "cpu").type != "cuda" or platform.system() != "Linux":
        return 0
    return max(0, min(AUTO_GPU_WORKERS, (os.cpu_count() or 1) - 2))


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX on x86 Linux)."""
    if platform.system() != "Linux":
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool({"avx512_bf16", "amx_bf16"} & flags)
    return False


def select_device(request: str = "auto") -> tuple[torch.device, list[str]]:
    """The device for ``request`` ("auto", "cpu", "cuda", "cuda:N", "mps") and fallback messages."""
    messages: list[str] = []
    request = request.lower()
    mps_available = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if request == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), messages
        if mps_available:
            return torch.device("mps"), messages
        messages.append("no CUDA or MPS GPU available: training on the CPU")
        return torch.device("cpu"), messages
    if request.startswith("cuda"):
        if not torch.cuda.is_available():
            messages.append(f"device {request!r} requested but CUDA is not available: falling back to the CPU")
            return torch.device("cpu"), messages
        device = torch.device(request)
        if device.index is not None and device.index >= torch.cuda.device_count():
            messages.append(f"{request} does not exist ({torch.cuda.device_count()} GPUs): using cuda:0")
            return torch.device("cuda:0"), messages
        return device, messages
    if request == "mps":
        if not mps_available:
            messages.append("device 'mps' requested but MPS is not available: falling back to the CPU")
            return torch.device("cpu"), messages
        return torch.device("mps"), messages
    if request == "cpu":
        return torch.device("cpu"), messages
    raise ValueError(f"unknown device {request!r}; expected auto, cpu, cuda, cuda:N or mps")


def _auto_precision(device: torch.device) -> str:
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_supports_bf16() else "fp32"
    return "fp32"


def _trial_step(plan: ExecutionPlan) -> None:
    """A tiny conv forward/backward under the plan; raises if the combination is unsupported."""
    conv = torch.nn.Conv2d(3, 4, 3).to(plan.device)
    x = plan.to_device(torch.randn(2, 3, 8, 8))
    if plan.channels_last:
        conv = conv.to(memory_format=torch.channels_last)
    with plan.autocast():
        y = conv(x).float().mean()
    y.backward()


def plan_execution(device: str = "auto", precision: str = "auto", channels_last: bool | None = None) -> ExecutionPlan:
    """Resolve device, precision and channels-last, with fallbacks and messages."""
    resolved_device, messages = select_device(device)
    wanted = _auto_precision(resolved_device) if precision == "auto" else precision
    if wanted == "fp16" and resolved_device.type == "cpu":
        messages.append("fp16 autocast is not useful on the CPU: using bf16 where supported, else fp32")
        wanted = "bf16" if cpu_supports_bf16() else "fp32"
    if wanted == "bf16" and resolved_device.type == "cpu" and precision == "bf16" and not cpu_supports_bf16():
        messages.append("this CPU has no native bfloat16 (AVX512-BF16/AMX): bf16 autocast will be slow")
    use_channels_last = (wanted != "fp32" and resolved_device.type in ("cpu", "cuda")) if channels_last is None else channels_last
    plan = ExecutionPlan(resolved_device, wanted, use_channels_last, messages)
    if wanted != "fp32" or use_channels_last:
        try:
            _trial_step(plan)
        except (RuntimeError, TypeError) as exc:
            messages.append(f"{plan.describe()} failed a trial step ({exc}); falling back to fp32")
            plan = ExecutionPlan(resolved_device, "fp32", False, messages)
    return plan
