"""Which torch device to use: the one definition for training, evaluation and live inference."""
from __future__ import annotations

import torch

from .errors import ConfigError, DeviceError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when PyTorch sees a GPU, else the CPU; ``cpu``, ``cuda`` or ``cuda:N`` as asked.

    Asking for CUDA on a machine without it is an error (RuntimeError), as is any other name (ValueError).
    """
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for, but PyTorch sees no CUDA GPU")
    if not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise ConfigError(f"device must be auto, cpu or cuda[:N], not {name!r}")
    return torch.device(name)
