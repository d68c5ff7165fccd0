"""The contract every model family meets: shapes, a train step that moves weights, state round trip."""

import pytest
import torch

from gan_cli import components
from gan_cli.config import group_options
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.training.steps import update
from tests.conftest import tiny_config

SHAPES = {
    "dcgan": [(1, 16, 16), (3, 32, 32)],
    "mlp": [(2,), (1, 16, 16)],
    "sagan": [(1, 16, 16), (3, 32, 32)],
    "biggan": [(1, 16, 16), (3, 32, 32)],
    "progan": [(1, 16, 16), (3, 32, 32)],
    "stylegan": [(1, 16, 16), (3, 32, 32)],
    "stacked_dcgan": [(1, 16, 16), (3, 28, 28)],
    "r3gan": [(1, 16, 16), (3, 16, 16)],
    "began": [(1, 16, 16), (3, 32, 32)],
    "srgan": [(1, 16, 16), (3, 32, 32)],
    "infogan": [(1, 16, 16), (3, 28, 28)],
    "ssgan": [(1, 16, 16), (3, 28, 28)],
}
# Scalars a family's step logs beside the shared ones (SRGAN's content loss).
STEP_SCALARS = {"srgan": {"content"}, "infogan": {"info"}, "ssgan": {"supervised", "train_error"}}
# A family that learns from labels is built for this many classes and trains on labelled data.
CLASSES = {"ssgan": 10}
# A family whose D only its own loss can read (BEGAN's energies) trains with that loss here.
OWN_LOSS = {"began": ["loss=began"]}
# Two-domain families draw two-domain batches and meet their contract in tests/test_<family>.py.
TWO_DOMAIN = ("cogan", "cyclegan", "pix2pix")


def test_every_model_option_is_covered_here():
    assert sorted([*SHAPES, *TWO_DOMAIN]) == group_options("model")


def cases():
    return [(m, s) for m in group_options("model") if m not in TWO_DOMAIN for s in SHAPES[m]]


@pytest.mark.parametrize("model_name,shape", cases())
def test_generator_and_discriminator_shapes(model_name, shape, tmp_path):
    cfg = tiny_config(tmp_path, f"model={model_name}", *OWN_LOSS.get(model_name, []))
    parts = components.build(cfg, shape, CLASSES.get(model_name, 0))
    inputs = parts.inputs(5, torch.Generator().manual_seed(0), data=Data(torch.rand(16, *shape) * 2 - 1))
    fake = parts.model.generate(inputs)
    assert fake.shape == (5, *shape)
    if len(shape) == 3:
        assert fake.min() >= -1 and fake.max() <= 1
    assert parts.model.discriminator(fake).shape == (5,)


@pytest.mark.parametrize("model_name,shape", cases())
def test_one_train_step_moves_both_networks_and_state_round_trips(model_name, shape, tmp_path):
    cfg = tiny_config(tmp_path, f"model={model_name}", *OWN_LOSS.get(model_name, []))
    classes = CLASSES.get(model_name, 0)
    parts = components.build(cfg, shape, classes)
    model = parts.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    data = Data(torch.rand(16, *shape) * 2 - 1, torch.arange(16) % classes if classes else None)
    scalars = step(1, Batches(data, 8, seed=0))
    own = set(parts.loss.scalars()) | STEP_SCALARS.get(model_name, set())  # a loss's own values (BEGAN's k)
    assert set(scalars) == {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", *own}
    assert scalars["d_grad_norm"] > 0 and scalars["g_grad_norm"] > 0
    assert all(torch.isfinite(v) for v in scalars.values())
    for net in ("generator", "discriminator"):
        moved = [
            k
            for k, v in model.state_dict().items()
            if k.startswith(net) and v.is_floating_point() and not torch.equal(v, before[k])
        ]
        assert moved, f"{net} did not change"

    rebuilt = components.build(cfg, shape, classes).model
    rebuilt.load_state_dict(model.state_dict())
    inputs = parts.inputs(3, torch.Generator().manual_seed(0), data=data)
    model.eval(), rebuilt.eval()
    assert torch.equal(model.generate(inputs), rebuilt.generate(inputs))


def test_dcgan_refuses_shapes_it_cannot_make():
    with pytest.raises(GanError, match="power-of-two"):
        MODELS.build({"name": "dcgan"}, data_shape=(1, 28, 28))
    with pytest.raises(GanError, match="square images"):
        MODELS.build({"name": "dcgan"}, data_shape=(2,))


def test_dcgan_doubles_from_4x4_to_the_resolution():
    model = MODELS.build({"name": "dcgan", "g_channels": 8, "d_channels": 8}, data_shape=(3, 64, 64))
    convs = [m for m in model.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [64, 32, 16, 8, 3]


@pytest.mark.parametrize("option", ["g_activation=leaky_relu", "d_downsample=avgpool"])
def test_dcgan_sparse_gradient_options(option, tmp_path):
    key, value = option.split("=")
    model = MODELS.build(
        {"name": "dcgan", "g_channels": 4, "d_channels": 4, key: value}, data_shape=(1, 16, 16)
    )
    kinds = {type(m) for m in model.modules()}
    assert (torch.nn.LeakyReLU in {type(m) for m in model.generator.modules()}) == (key == "g_activation")
    assert (torch.nn.AvgPool2d in kinds) == (key == "d_downsample")
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert model.discriminator(model.generate(Inputs({"z": torch.randn(3, 100)}))).shape == (3,)


def test_truncated_latents_stay_within_the_bound_and_keep_their_seed(tmp_path):
    parts = components.build(tiny_config(tmp_path, "model=mlp"), (2,), 0)
    z = parts.latent(500, "cpu", torch.Generator().manual_seed(3), truncation=0.5)
    assert z.abs().max() <= 0.5 and not (z.abs() == 0.5).any()  # redrawn, not clipped to the edge
    assert torch.equal(z, parts.latent(500, "cpu", torch.Generator().manual_seed(3), truncation=0.5))
    with pytest.raises(GanError, match="truncation must be positive"):
        parts.latent(2, truncation=0.0)


def test_update_steps_the_optimizer_and_returns_the_gradient_norm():
    weight = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([weight], lr=0.5)
    x = torch.tensor([3.0, 0.0, 4.0])
    norm = update((weight * x).sum(), optimizer)
    assert norm.item() == pytest.approx(5.0)
    assert torch.allclose(weight.detach(), -0.5 * x)
