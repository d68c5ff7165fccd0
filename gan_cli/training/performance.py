"""How a run uses its device (config ``trainer:``): precision, memory layout, compiled and fused
kernels. Every setting has an ``auto`` that is on where it is safe and pays — on a CUDA GPU —
and ``gan bench --compare`` turns them all off to measure what they buy.

Small GANs are bound by kernel-launch overhead, large ones by arithmetic and memory traffic:
bf16 autocast halves the traffic and uses the tensor cores, channels-last avoids layout
transposes around cuDNN convolutions, fused Adam replaces a dozen kernels per parameter with
one, and ``torch.compile`` fuses the elementwise tails of each layer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gan_cli.errors import GanError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# The plain eager float32 baseline of ``gan bench --compare``.
PLAIN = [
    "trainer.precision=fp32",
    "trainer.channels_last=off",
    "trainer.fused_adam=off",
    "trainer.compile=false",
    "trainer.cudnn_benchmark=false",
]


def _switch(value: str, auto: bool) -> bool:
    return auto if value == "auto" else value == "on"


@dataclass(frozen=True)
class Performance:
    device: torch.device
    precision: str  # fp32, bf16 or fp16 (auto resolved)
    channels_last: bool
    fused_adam: bool
    compile: bool

    @classmethod
    def from_config(cls, trainer: dict[str, Any], device: torch.device) -> Performance:
        cuda = device.type == "cuda"
        precision = trainer["precision"]
        if precision == "auto":
            precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
        if precision == "fp16" and not cuda:
            raise GanError("trainer.precision=fp16 needs a CUDA device; on the CPU use bf16 or fp32")
        if cuda:
            torch.backends.cudnn.benchmark = trainer["cudnn_benchmark"]
        return cls(
            device,
            precision,
            channels_last=_switch(trainer["channels_last"], cuda),
            fused_adam=_switch(trainer["fused_adam"], cuda),
            compile=trainer["compile"],
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision around a training step (a no-op in fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.precision])

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """fp16's narrow exponent needs loss scaling; bf16 has fp32's range and does not."""
        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    def prepare(self, model: nn.Module) -> None:
        """Memory layout and compilation, in place (parameter names, so checkpoints, unchanged)."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.compile:
            for net in (model.generator, model.discriminator):
                net.compile()

    def adam(self, params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
        # foreach (the default) already batches the update on the CPU; fused is one CUDA kernel.
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True if self.fused_adam else None)

    def describe(self) -> str:
        switches = [name for name in ("channels_last", "fused_adam", "compile") if getattr(self, name)]
        return f"{self.precision}" + "".join(f", {s}" for s in switches)
