"""What machine this is, as results name it: its CPU, the cores this process may use, the device a run asks for."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``) and the cores this process may use, e.g.
    'Intel(R) Xeon(R) Processor ×2'; times are only comparable on the same one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ×{cores()}"
    except OSError:
        pass
    return f"{platform.processor() or 'unknown CPU'} ×{cores()}"


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' → CUDA if available, else MPS, else CPU; anything else as given."""
    import torch  # here, so reading the CPU's name never loads torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)
