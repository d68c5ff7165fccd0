"""Unrolled discriminator for the generator's update.

Metz et al. 2016, "Unrolled Generative Adversarial Networks", arXiv:1611.02163: G is scored by
D after k look-ahead updates of D, and G's gradient is taken through those updates
(``create_graph=True``), so G is pushed towards fakes that stay good once D has reacted —
which discourages hopping between modes.

The look-ahead unrolls D's own optimizer, as the paper's code does: each of the k steps is the
update ``torch.optim.Adam`` would make, with the lr, betas, eps and weight decay of D's parameter
groups, starting from D's current Adam state (first and second moments, and the step count, so
bias correction carries on from D's; zeros and step 0 before D's first update). The moments are
recomputed inside G's graph, since they depend on gradients that depend on G's fakes. Only the
math is copied, so fused and foreach Adam unroll alike; AMSGrad, ``maximize`` and other
optimizers are refused. The steps run on copies of D's parameters
(``torch.func.functional_call``); D, its optimizer state and its batch-norm statistics are left
unchanged.

Each step minimizes the run's D loss with plain 1/0 targets on the real batch D was last updated
on and on G's current fakes as D sees them (after noise, augmentation or packing), which carry
G's graph, as the paper's second-order term needs. A loss whose G term reads D(real)
(``Loss.g_uses_real``) gets it from the look-ahead D as well, so G's fakes and the reals they
are compared with are scored by the same D.

Still unlike the paper: D's and G's updates alternate here (D's real steps come first, then G's
step through the look-ahead), where the paper's notebook updates both from the same point at
once; and the look-ahead loss leaves out what tricks add to D's own loss (target smoothing or
noise, penalties, mixed batches).
Cost: k extra D forward/backward passes per G update, and a second-order backward through them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.func import functional_call

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeInt
from gan_cli.tricks.base import Phase, Trick


class LookAheadDiscriminator(nn.Module):
    """D evaluated at other parameters than its own (the unrolled ones, or a kept copy) and copies
    of its buffers."""

    def __init__(self, discriminator: nn.Module, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.discriminator = discriminator
        self.tensors = tensors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.discriminator, self.tensors, (x,))


class AdamState(NamedTuple):
    """One look-ahead parameter with its Adam moments, all in G's graph after the first step."""

    param: torch.Tensor
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor
    step: float
    group: dict[str, Any]  # D's parameter group: lr, betas, eps, weight decay


def check_adam(optimizer: torch.optim.Optimizer) -> None:
    """Refuse what ``adam_step`` does not reproduce, rather than unroll the wrong update."""
    if not isinstance(optimizer, torch.optim.Adam):
        raise GanError(f"unrolled unrolls D's Adam; D's optimizer is {type(optimizer).__name__}")
    for group in optimizer.param_groups:
        for option in ("amsgrad", "maximize"):
            if group.get(option):
                raise GanError(f"unrolled unrolls plain Adam; D's optimizer has {option}=True")


MOMENTS = ("exp_avg", "exp_avg_sq")  # Adam's state besides the step count, zeros before D's first update


def adam_states(D: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, AdamState]:
    """D's parameters that its optimizer updates, each with its current Adam state."""
    groups = {p: group for group in optimizer.param_groups for p in group["params"]}
    named = [(name, p) for name, p in D.named_parameters() if p in groups and p.requires_grad]
    # .get: optimizer.state is a defaultdict, and indexing it would add entries to D's optimizer.
    states = [optimizer.state.get(p, {}) for _, p in named]
    return {
        name: AdamState(
            p, *(state[key] if state else torch.zeros_like(p) for key in MOMENTS), step, groups[p]
        )
        for (name, p), state, step in zip(named, states, step_counts(states))
    }


def step_counts(states: list[dict]) -> list[float]:
    """Each parameter's Adam step count (0 before its first update), read in one host sync:
    fused Adam keeps them on the GPU."""
    counted = [state["step"] for state in states if "step" in state]
    counts = iter(torch.stack(counted).tolist() if counted else [])
    return [next(counts) if "step" in state else 0.0 for state in states]


def adam_step(s: AdamState, grad: torch.Tensor) -> AdamState:
    """The update of ``torch.optim.Adam`` (its single-tensor code, without AMSGrad), out of place
    so that autograd follows it."""
    lr, weight_decay, eps = (float(s.group[key]) for key in ("lr", "weight_decay", "eps"))
    beta1, beta2 = (float(b) for b in s.group["betas"])
    step, param = s.step + 1, s.param
    if weight_decay and s.group.get("decoupled_weight_decay"):
        param = param * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * param
    exp_avg = s.exp_avg.lerp(grad, 1 - beta1)
    exp_avg_sq = torch.addcmul(s.exp_avg_sq * beta2, grad, grad, value=1 - beta2)
    denom = sqrt_zero_safe(exp_avg_sq) / (1 - beta2**step) ** 0.5 + eps
    param = param.addcdiv(exp_avg, denom, value=-lr / (1 - beta1**step))
    return AdamState(param, exp_avg, exp_avg_sq, step, s.group)


def sqrt_zero_safe(x: torch.Tensor) -> torch.Tensor:
    """``x.sqrt()`` with gradient 0 at 0 instead of inf: a weight with a zero gradient and zero
    second moment would otherwise make G's gradient NaN (inf times 0). Its first moment is 0
    too, so the exact derivative of the update has no term through the square root there."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, 1.0).sqrt(), 0.0)


@TRICKS.register("unrolled")
class Unrolled(Trick):
    def __init__(
        self,
        k: NonNegativeInt = 5,  # look-ahead D updates (the paper uses 1 to 10; 0 scores with D as it is)
    ):
        self.k = k
        self.d_optimizer: torch.optim.Optimizer | None = None  # whose update the look-ahead repeats

    def configure(self, g_optimizer, d_optimizer) -> None:
        check_adam(d_optimizer)
        self.d_optimizer = d_optimizer

    def g_discriminator(self, phase: Phase, loss) -> nn.Module | None:
        if self.k == 0:
            return None
        if self.d_optimizer is None:
            raise GanError("unrolled needs D's optimizer: configure() was not called")
        D, real, fake = phase.D, phase.real_in, phase.fake_in
        # Copies of the buffers, so batch-norm running statistics updated by the look-ahead stay
        # out of D; parameters D's optimizer does not update stay as they are, as in D's own step.
        tensors = {**dict(D.named_parameters()), **{name: b.clone() for name, b in D.named_buffers()}}
        states = adam_states(D, self.d_optimizer)
        for _ in range(self.k):
            real_out = functional_call(D, tensors, (real,))
            fake_out = functional_call(D, tensors, (fake,))
            d_loss = loss.d_loss(real_out, fake_out, torch.ones_like(real_out), torch.zeros_like(fake_out))
            params = [s.param for s in states.values()]
            grads = torch.autograd.grad(d_loss, params, create_graph=True, allow_unused=True)
            # Like Adam, skip parameters the loss does not reach (no gradient, no step).
            states = {
                name: s if g is None else adam_step(s, g) for (name, s), g in zip(states.items(), grads)
            }
            tensors.update({name: s.param for name, s in states.items()})
        return LookAheadDiscriminator(D, tensors)
