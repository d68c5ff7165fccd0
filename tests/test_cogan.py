"""CoGAN: shared layers are one set of weights, pairs come from one z, grids put A above B."""

import torch

from gan_cli import components, sampling
from gan_cli.datasets.base import Batch
from gan_cli.models.inputs import Inputs
from gan_cli.registry import LOSSES, MODELS
from gan_cli.tricks.base import TrickSet

SHAPE = (1, 16, 16)


def tiny_cogan():
    return MODELS.build({"name": "cogan", "z_dim": 8, "g_channels": 4, "d_channels": 4}, data_shape=SHAPE)


def test_shared_layers_are_one_parameter_object_and_private_layers_are_not():
    model = tiny_cogan()
    G, D = model.generator, model.discriminator
    a, b = G(torch.randn(4, 8))
    assert a.shape == b.shape == (4, *SHAPE)
    a.sum().backward()  # domain A's output alone
    assert all(p.grad is not None for p in G.shared.parameters())
    assert all(p.grad is not None for p in G.out[0].parameters())
    assert all(p.grad is None for p in G.out[1].parameters())
    model.zero_grad(set_to_none=True)
    D(torch.rand(4, *SHAPE), domain=1).sum().backward()  # domain B's critic alone
    assert all(p.grad is not None for p in [*D.body.parameters(), *D.head.parameters()])
    assert all(p.grad is None for p in D.first[0].parameters())
    assert all(p.grad is not None for p in D.first[1].parameters())
    # the private layers start apart; the shared ones exist once in the optimiser's view
    assert not torch.equal(G.out[0][0].weight, G.out[1][0].weight)
    assert len({id(p) for p in G.parameters()}) == len(list(G.parameters()))
    z = torch.randn(4, 8)
    with torch.no_grad():
        a0, b0 = G(z)
        G.shared[0].weight.add_(0.5)  # one change to the shared trunk moves both domains
        a1, b1 = G(z)
    assert not torch.equal(a0, a1) and not torch.equal(b0, b1)


def test_a_pair_comes_from_one_latent_and_grids_put_a_above_b():
    model = tiny_cogan().eval()
    z = torch.randn(16, 8)
    a, b = model.generator(z)
    images = model.generate(Inputs({"z": z}))
    r = model.row_length(len(images))
    assert r == 8 and images.shape == (32, *SHAPE)
    assert torch.equal(images[:8], a[:8]) and torch.equal(images[8:16], b[:8])
    assert torch.equal(images[16:24], a[8:]) and torch.equal(images[24:], b[8:])
    assert model.row_length(2 * 6) == 6 and model.row_length(2 * 10) == 5  # rows stay paired


def test_one_step_moves_both_generators_and_both_critics():
    model = tiny_cogan()
    parts = components.Components(model, LOSSES.build({"name": "ns"}), TrickSet([]), [])
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    a = torch.rand(8, *SHAPE) * 2 - 1
    scalars = step(1, lambda: Batch(a, None, -a))
    assert scalars["d_grad_norm"] > 0 and scalars["g_grad_norm"] > 0
    for name in ("generator.out.0", "generator.out.1", "generator.shared", "discriminator.first.1"):
        assert any(not torch.equal(model.state_dict()[k], v) for k, v in before.items() if k.startswith(name))


def test_sampled_grid_has_an_a_row_above_each_b_row(tmp_path):
    model = tiny_cogan()
    parts = components.Components(model, LOSSES.build({"name": "ns"}), TrickSet([]), [])
    samples = sampling.draw(parts, 16, seed=0, device=torch.device("cpu"))
    out = tmp_path / "pairs.png"
    sampling.write(samples, out, "grid", model.row_length(len(samples)))
    from PIL import Image

    with Image.open(out) as grid:  # 8 pairs per row pair, 4 rows of 16-pixel images with 2-pixel gaps
        assert grid.size == (2 + 8 * 18, 2 + 4 * 18)
