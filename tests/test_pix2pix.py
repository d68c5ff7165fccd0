"""pix2pix and paired data: U-Net shapes, dropout as noise, the conditional D, one step, pairs kept."""

import pytest
import torch
from PIL import Image

from gan_cli import components
from gan_cli.datasets.base import Batch
from gan_cli.datasets.mnist_domains import outline
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS, LOSSES, MODELS
from gan_cli.tricks.base import TrickSet

SHAPE = (1, 16, 16)


def tiny_pix2pix(**params):
    config = {"name": "pix2pix", "g_channels": 4, "g_depth": 4, "d_channels": 4, "d_layers": 2, **params}
    return MODELS.build(config, data_shape=SHAPE)


def test_unet_keeps_the_shape_and_dropout_stays_on_when_sampling():
    model = tiny_pix2pix(g_depth=4).eval()
    x = torch.rand(3, *SHAPE) * 2 - 1
    y1, y2 = model.translate(x, "AtoB"), model.translate(x, "AtoB")
    assert y1.shape == x.shape and not torch.equal(y1, y2)  # dropout is the noise, in eval mode too
    quiet = tiny_pix2pix(dropout=0.0).eval()
    assert torch.equal(quiet.translate(x, "AtoB"), quiet.translate(x, "AtoB"))
    # D sees input and output side by side: 2 channels here
    assert model.discriminator(torch.cat([x, y1], 1)).shape == (3 * 2 * 2,)
    with pytest.raises(GanError, match="multiple of 32"):
        tiny_pix2pix(g_depth=5)


def test_one_step_trains_on_the_adversarial_term_plus_l1_to_the_target():
    model = tiny_pix2pix()
    parts = components.Components(model, LOSSES.build({"name": "ns"}), TrickSet([]), [])
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    a = torch.rand(8, *SHAPE) * 2 - 1
    with torch.random.fork_rng():
        torch.manual_seed(1)
        expected_l1 = (model.generator.g(a) - (-a)).abs().mean()
    torch.manual_seed(1)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    scalars = step(1, lambda: Batch(a, None, -a))
    assert torch.allclose(scalars["l1"], expected_l1)
    assert scalars["g_loss"] > 100 * scalars["l1"] - 1e-4  # λ = 100 plus a positive adversarial term
    for net in ("generator.g", "discriminator"):
        assert any(not torch.equal(model.state_dict()[k], v) for k, v in before.items() if k.startswith(net))
    inputs = model.draw_inputs(
        4, None, torch.Generator().manual_seed(0), data=TwoDomainData(a, other=-a, paired=True)
    )
    assert torch.equal(inputs.targets, -inputs["source"])  # paired: each source's counterpart
    images, nrow = model.picture(inputs)
    assert images.shape == (3 * 4, *SHAPE) and nrow == 4  # sources, outputs, targets
    assert torch.equal(images[8:], inputs.targets)


def test_paired_folders_match_names_and_crops_cut_both_images_alike(tmp_path, caplog):
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
    for i in range(4):
        shade = 40 * i + 20
        Image.new("L", (20, 20), shade).save(tmp_path / "A" / f"{i}.png")
        Image.new("L", (20, 20), 255 - shade).save(tmp_path / "B" / f"{i}.jpg")  # other extension, same name
    Image.new("L", (20, 20), 0).save(tmp_path / "A" / "lonely.png")
    data = DATASETS.build(
        {
            "name": "paired",
            "path": str(tmp_path),
            "resolution": 8,
            "channels": 1,
            "crop": "random",
            "flip": True,
        }
    )
    assert len(data) == 4 and "left out 1 image" in caplog.text
    batches = data.batches(4, seed=0)
    for _ in range(3):
        batch = batches()
        assert torch.allclose(batch.other, -batch.images, atol=0.02)  # pairs stay pairs, in order


def test_side_by_side_images_split_into_left_a_and_right_b(tmp_path):
    img = Image.new("RGB", (32, 16), (255, 0, 0))
    img.paste((0, 0, 255), (16, 0, 32, 16))
    img.save(tmp_path / "ab.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    data = DATASETS.build(
        {"name": "paired", "path": str(tmp_path), "layout": "side_by_side", "resolution": 8}
    )
    assert len(data) == 1
    assert torch.equal(data.samples[0, :, 4, 4], torch.tensor([1.0, -1.0, -1.0]))
    assert torch.equal(data.other[0, :, 4, 4], torch.tensor([-1.0, -1.0, 1.0]))
    (tmp_path / "ab.png").unlink()
    with pytest.raises(GanError, match="no readable image pairs"):
        DATASETS.build({"name": "paired", "path": str(tmp_path), "layout": "side_by_side"})


def test_mnist_domains_pair_each_digit_with_its_outline_or_split_them(tmp_path):
    paired = DATASETS.build({"name": "mnist_domains", "paired": True, "download": False}, root=str(tmp_path))
    batch = paired.batches(16, seed=0)()
    assert torch.equal(batch.other, outline(batch.images))
    assert (batch.other > 0).any() and ((batch.other > 0) & (batch.images > 0)).sum() == 0  # outside the ink
    unpaired = DATASETS.build(
        {"name": "mnist_domains", "domain": "rotated", "download": False}, root=str(tmp_path)
    )
    assert len(unpaired) + len(unpaired.other) == 10_000  # disjoint halves of the bundled split
    assert torch.equal(unpaired.other_labels[:5], paired.labels[1:10:2])
