"""Several discriminator (critic) updates per generator update.

Arjovsky et al. 2017, arXiv:1701.07875 (n_critic = 5): a critic trained closer to optimality
gives G a more useful gradient. Each D update draws a fresh real batch.
"""

from __future__ import annotations

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick


@TRICKS.register("n_critic")
class NCritic(Trick):
    def __init__(self, n: PositiveInt = 5):  # D updates per G update
        self.d_steps = n
