"""The ``--device`` argument of every command: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import re

from emoclip_clinic.errors import ConfigError

DEVICE_HELP = "auto (the GPU if there is one, else CPU), cpu, cuda or cuda:N."


def resolve_device(name: str) -> str:
    """The torch device string for a ``--device`` value, checked against this machine.

    Raises:
        ConfigError: an unknown name, or a CUDA device that this machine does not have (a
            typo such as ``gpu`` would otherwise fail deep inside torch, or run on the CPU).
    """
    import torch

    name = str(name).strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise ConfigError(f"unknown device {name!r}: use {DEVICE_HELP}")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: torch finds no CUDA GPU on this machine "
                          f"(use cpu, or auto to take a GPU only where there is one)")  # fmt: skip
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} "
                          f"CUDA GPU(s), numbered from 0")  # fmt: skip
    return name
