"""The phases every training step is made of: tricks read D's answers from them without another
forward pass, and G's update scores the reals with the same D that scores its fakes."""

import torch
import torch.nn.functional as F

from gan_cli.datasets.base import Batch
from gan_cli.losses.non_saturating import NonSaturating
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Phase, Trick, TrickSet
from gan_cli.tricks.unrolled import LookAheadDiscriminator
from tests.conftest import tiny_mlp, trick


class Reader(Trick):
    """Reads D's outputs in every phase, next to D applied afresh to what that phase's D saw."""

    def __init__(self):
        self.seen: list[tuple[Phase, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def d_outputs(self, phase: Phase) -> None:
        with torch.no_grad():
            again = phase.D(phase.real_in), phase.D(phase.fake_in)
        self.seen.append((phase, phase.real_out, phase.fake_out, *again))


class Relativistic(NonSaturating):
    """A relativistic G term (Jolicoeur-Martineau 2018, arXiv:1807.00734): the fakes' scores
    against the reals' mean score. Keeps the D(real) it is given."""

    g_uses_real = True

    def __init__(self):
        self.real_outs: list[torch.Tensor] = []

    def g_loss(self, fake_out, real_out):
        self.real_outs.append(real_out)
        return F.softplus(real_out.mean() - fake_out).mean()


def adversarial_step(model, tricks, loss=None) -> AdversarialStep:
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=0.01)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=0.01)
    tricks.configure(g_opt, d_opt)
    latent = lambda n: torch.randn(n, model.z_dim)  # noqa: E731
    return AdversarialStep(model, loss or NonSaturating(), tricks, g_opt, d_opt, latent)


def d_calls(model) -> list[int]:
    """A counter of D's forward passes from now on."""
    calls = [0]
    model.discriminator.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_a_trick_reads_ds_outputs_on_what_d_saw_in_both_phases():
    torch.manual_seed(0)
    model, reader = tiny_mlp(), Reader()
    # Instance noise: what D sees is not the batch, and a step's outputs are on what D saw.
    adversarial_step(model, TrickSet([trick("instance_noise", std=0.5), reader]))(
        3, lambda: Batch(torch.randn(8, 2))
    )
    (d, d_real, d_fake, d_real_again, d_fake_again), (g, g_real, g_fake, g_real_again, g_fake_again) = (
        reader.seen
    )
    assert (d.name, d.step, g.name, g.step) == ("d", 3, "g", 3)
    torch.testing.assert_close(d_real, d_real_again)
    torch.testing.assert_close(d_fake, d_fake_again)
    torch.testing.assert_close(g_fake, g_fake_again)
    torch.testing.assert_close(g_real, g_real_again)
    assert g.real_in is d.real_in  # G's phase scores the reals D was last updated on ...
    assert not torch.allclose(g_real, d_real)  # ... by D as its update left it


def test_gs_update_scores_the_reals_with_d_after_its_update_only_when_the_loss_reads_them():
    torch.manual_seed(0)
    real = torch.randn(8, 2) + 2.0
    model, loss = tiny_mlp(), Relativistic()
    with torch.no_grad():
        stale = model.discriminator(real)
    calls = d_calls(model)
    adversarial_step(model, TrickSet([]), loss)(1, lambda: Batch(real))
    assert calls[0] == 4  # D on reals and fakes, then on G's fakes and the reals
    (real_out,) = loss.real_outs
    with torch.no_grad():  # G's update leaves D as D's update left it
        torch.testing.assert_close(real_out, model.discriminator(real))
    assert not torch.allclose(real_out, stale)

    model = tiny_mlp()
    calls = d_calls(model)
    adversarial_step(model, TrickSet([]))(1, lambda: Batch(real))
    assert calls[0] == 3  # a loss that does not read D(real) in G's term pays no forward pass for it


def test_under_unrolled_gs_update_scores_the_reals_with_the_look_ahead_d():
    torch.manual_seed(0)
    real = torch.randn(8, 2) + 2.0
    model, loss, reader = tiny_mlp(), Relativistic(), Reader()
    adversarial_step(model, TrickSet([trick("unrolled", k=2), reader]), loss)(1, lambda: Batch(real))
    g, g_real, _, g_real_again, _ = reader.seen[-1]
    (real_out,) = loss.real_outs
    assert isinstance(g.D, LookAheadDiscriminator)
    assert real_out is g_real
    torch.testing.assert_close(real_out, g_real_again)
    with torch.no_grad():
        assert not torch.allclose(real_out, model.discriminator(real))
