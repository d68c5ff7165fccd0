"""Choosing the torch device a command runs on, with refusals worded for the command at hand.

``gan train`` takes the device as a Hydra override (``device=cpu``), ``gan sample``, ``gan eval``
and ``gan translate`` as an option (``--device cpu``): the caller passes how its user writes
the setting, so that the fix a message suggests can be typed as it is shown.
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError

OVERRIDE = "device="  # gan train, gan resume, gan bench: a Hydra override
OPTION = "--device "  # gan sample, gan eval, gan translate: a command-line option


def pick_device(name: str, setting: str = OVERRIDE) -> torch.device:
    """``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    ``setting`` is how the user sets the device in this command (``OVERRIDE`` or ``OPTION``);
    every refusal is one ``GanError`` line that names it, e.g. "... (use --device cpu)".
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise GanError(f"unknown device '{name}' (use {setting}auto, cpu, cuda or cuda:N)") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanError(f"{setting}{name} requested but CUDA is not available (use {setting}cpu)")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise GanError(
                f"{setting}{name} requested but this machine has {count} CUDA device(s): "
                f"use {setting}cuda:0{f' to {setting}cuda:{count - 1}' if count > 1 else ''}"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise GanError(f"{setting}{name} requested but MPS is not available (use {setting}cpu)")
    elif device.type != "cpu":
        raise GanError(f"unsupported device '{name}' (use {setting}auto, cpu, cuda or cuda:N)")
    return device
