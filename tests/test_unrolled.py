"""The unrolled GAN's look-ahead is D's own Adam, k steps ahead, differentiated through — and D,
its optimizer and its batch-norm statistics come out of it untouched."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import GanError
from gan_cli.registry import LOSSES
from gan_cli.tricks.base import Phase, TrickSet
from gan_cli.tricks.unrolled import LookAheadDiscriminator
from tests.conftest import tiny_dcgan, tiny_mlp, trick

NS = LOSSES.build({"name": "ns"})
OPTIMIZERS = {
    "foreach": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9)),
    "for-loop": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), foreach=False),
    "fused": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), fused=True),
    "l2": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.5, 0.9), weight_decay=0.1),
}


def d_update(D: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor) -> None:
    """One real step of D, on the loss the look-ahead repeats."""
    real_out, fake_out = D(real), D(fake.detach())
    loss = NS.d_loss(real_out, fake_out, torch.ones_like(real_out), torch.zeros_like(fake_out))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def trained(D: nn.Module, make_optimizer, steps: int) -> torch.optim.Optimizer:
    """D's optimizer after ``steps`` real updates, so that its moments and step count are not trivial."""
    optimizer, dtype = make_optimizer(D.parameters()), next(D.parameters()).dtype
    for _ in range(steps):
        d_update(D, optimizer, torch.randn(8, 2, dtype=dtype) + 1.0, torch.randn(8, 2, dtype=dtype))
    return optimizer


def g_phase(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, model: nn.Module | None = None) -> Phase:
    """G's phase as the step asks g_discriminator about it: D as it is, no output read yet."""
    return Phase("g", 1, model, D, real, fake)


def unrolled(k: int, optimizer: torch.optim.Optimizer):
    tricks = TrickSet([trick("unrolled", k=k)])
    tricks.configure(None, optimizer)
    return tricks


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("steps_before", [0, 3])
@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_look_ahead_is_k_real_adam_steps_of_ds_optimizer(kind, steps_before, k):
    torch.manual_seed(0)
    D = nn.Linear(2, 1)
    optimizer = trained(D, OPTIMIZERS[kind], steps_before)
    real, fake = torch.randn(8, 2) + 1.0, torch.randn(8, 2, requires_grad=True)
    look_ahead = unrolled(k, optimizer).g_discriminator(g_phase(D, real, fake), NS)

    # The same D and Adam state, stepped for real (deepcopy keeps the optimizer on the copy's parameters).
    D_copy, optimizer_copy = copy.deepcopy((D, optimizer))
    for _ in range(k):
        d_update(D_copy, optimizer_copy, real, fake)
    for name, p in D_copy.named_parameters():
        torch.testing.assert_close(look_ahead.tensors[name], p, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(look_ahead.tensors["weight"], D.weight)


def test_k_0_scores_with_d_as_it_is():
    model, x = tiny_mlp(), torch.randn(5, 2)
    optimizer = torch.optim.Adam(model.discriminator.parameters())
    fake = model.generator(torch.randn(8, 4))
    D = unrolled(0, optimizer).g_discriminator(
        g_phase(model.discriminator, torch.randn(8, 2), fake, model), NS
    )
    assert D is model.discriminator
    assert torch.equal(D(x), model.discriminator(x))


def g_gradient(model, D, z) -> torch.Tensor:
    model.generator.zero_grad(set_to_none=True)
    F.softplus(-D(model.generator(z))).mean().backward()
    return torch.cat([p.grad.flatten() for p in model.generator.parameters()])


@pytest.mark.parametrize("make", [tiny_mlp, tiny_dcgan])
@pytest.mark.parametrize("steps_before", [0, 2])
def test_look_ahead_leaves_d_and_its_optimizer_alone_and_changes_gs_gradient(make, steps_before):
    torch.manual_seed(0)
    model = make()
    shape = (2,) if make is tiny_mlp else (1, 16, 16)
    real, x, z = torch.randn(8, *shape), torch.randn(5, *shape), torch.randn(6, 4)
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for _ in range(steps_before):
        d_update(model.discriminator, optimizer, real, model.generator(torch.randn(8, 4)))
    d_before = copy.deepcopy(model.discriminator.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())

    fake = model.generator(torch.randn(len(real), 4))
    look_ahead = unrolled(3, optimizer).g_discriminator(g_phase(model.discriminator, real, fake, model), NS)
    for name, tensor in model.discriminator.state_dict().items():  # batch-norm statistics too
        assert torch.equal(tensor, d_before[name]), name
    assert len(optimizer.state) == len(optimizer_before["state"])  # no entries added before D's first step
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            assert torch.equal(value, optimizer_before["state"][index][key]), (index, key)
    assert not torch.allclose(look_ahead(x), model.discriminator(x))

    plain = g_gradient(model, model.discriminator, z)
    through_look_ahead = g_gradient(model, look_ahead, z)
    # Scoring with the look-ahead D but not differentiating through the look-ahead steps:
    detached = {name: t.detach() for name, t in look_ahead.tensors.items()}
    first_order = g_gradient(model, LookAheadDiscriminator(model.discriminator, detached), z)
    assert torch.isfinite(through_look_ahead).all()
    assert not torch.allclose(through_look_ahead, plain)
    assert not torch.allclose(through_look_ahead, first_order)  # the paper's second-order term


@pytest.mark.parametrize("steps_before", [0, 3])
def test_gs_gradient_through_the_adam_look_ahead_matches_finite_differences(steps_before):
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()  # finite differences need it
    optimizer = trained(D, lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3), steps_before)
    real = torch.randn(8, 2, dtype=torch.float64) + 1.0
    fake = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    tricks = unrolled(2, optimizer)

    # As in G's step, the same fakes drive the look-ahead and are scored by it.
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return NS.g_loss(tricks.g_discriminator(g_phase(D, real, fake), NS)(fake), None)

    assert torch.autograd.gradcheck(g_loss, (fake,))


def test_gs_gradient_stays_finite_when_a_weight_of_d_gets_no_gradient():
    # A dead ReLU unit: its weights' gradient and second moment are 0, where sqrt has no derivative.
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        D[0].weight[0].zero_()
        D[0].bias[0] = -1.0
    fake = torch.randn(8, 2, requires_grad=True)
    tricks = unrolled(2, torch.optim.Adam(D.parameters()))
    look_ahead = tricks.g_discriminator(g_phase(D, torch.randn(8, 2), fake), NS)
    (grad,) = torch.autograd.grad(NS.g_loss(look_ahead(fake), None), fake)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_unrolled_refuses_what_it_cannot_unroll():
    with pytest.raises(GanError, match="trick 'unrolled': k must be an integer >= 0"):
        trick("unrolled", k=-1)
    with pytest.raises(GanError, match="trick 'unrolled' has no parameter 'lr'"):
        trick("unrolled", lr=0.1)  # the look-ahead takes D's learning rate now
    params = nn.Linear(2, 1).parameters
    with pytest.raises(GanError, match="D's optimizer is SGD"):
        trick("unrolled").configure(None, torch.optim.SGD(params(), lr=0.1))
    with pytest.raises(GanError, match="amsgrad=True"):
        trick("unrolled").configure(None, torch.optim.Adam(params(), amsgrad=True))
    with pytest.raises(GanError, match="configure"):
        trick("unrolled").g_discriminator(g_phase(nn.Linear(2, 1), torch.randn(4, 2), torch.randn(4, 2)), NS)
