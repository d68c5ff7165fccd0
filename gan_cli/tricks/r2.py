"""R2: the zero-centred gradient penalty of R1, on the generator's samples.

Mescheder, Geiger & Nowozin 2018, arXiv:1801.04406: (gamma/2) * E ||grad_x D(x)||^2 over
fake x (the samples D is updated on). Same parameters as ``r1``, including lazy ``every``.
"""

from __future__ import annotations

from gan_cli.registry import TRICKS
from gan_cli.tricks.r1 import R1


@TRICKS.register("r2")
class R2(R1):
    name = "r2"
    on_fakes = True
