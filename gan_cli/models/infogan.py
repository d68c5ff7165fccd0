"""InfoGAN: latent codes that a Q network must be able to read back from G's images.

Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets", arXiv:1606.03657. G's inputs are
named: noise ``z`` (uniform on [-1, 1] as in the authors' code, ``prior``), a categorical code ``category`` (one of ``categories``) and continuous codes
``continuous`` (uniform on [-1, 1]). Q shares D's body and predicts the codes from an image; the
variational lower bound of the mutual information I(c; G(z, c)) — the log-likelihood of the
codes under Q, cross-entropy for the category and a unit-variance Gaussian for each continuous
code — is maximised by G and by D's body and Q (weight λ), as the authors' code adds it to both
losses. Without any label, the category comes to mean the digit and the continuous codes
rotation and width.

The MNIST networks of the paper (appendix C.1): G: FC 1024 -> FC 7×7×128 -> 4×4 up-conv 64 ->
4×4 up-conv to the image (BN + ReLU between); D: 4×4 conv 64 -> 4×4 conv 128 (BN) -> FC 1024 (BN),
then D's score and Q's FC 128 (BN) -> the codes. 62 noise dimensions, 10 categories, 2
continuous codes; Adam at 2e-4 for D, 1e-3 for G (``+experiment=infogan_mnist``). As in the
authors' code (openai/InfoGAN, ``custom_ops.py``): LeakyReLU 0.01 (the paper's text says 0.1),
weights drawn from N(0, 0.02) and batch-norm scales from N(1, 0.02) — PyTorch's default
initialisation instead left the category to encode style rather than the digit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch, DataSource
from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator, init_dcgan_weights
from gan_cli.models.inputs import Inputs, Prior
from gan_cli.models.latents import LatentPrior, prior_tricks
from gan_cli.registry import MODELS
from gan_cli.schema import AtLeastTwo, NonNegativeFloat, NonNegativeInt, PositiveInt
from gan_cli.training.steps import Step

LEAK = 0.01  # the authors' code's LeakyReLU slope (custom_ops.leaky_rectify)


class InfoDiscriminator(Discriminator):
    """D's body (convs, FC 1024) with two heads: D's score, and Q's codes."""

    def __init__(self, channels: int, size: int, width: int, dense: int, codes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(LEAK, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(LEAK, True),
            nn.Flatten(),
            nn.Linear(2 * width * (size // 4) ** 2, dense),
            nn.BatchNorm1d(dense),
            nn.LeakyReLU(LEAK, True),
        )
        self.head = nn.Linear(dense, 1)
        self.q = nn.Sequential(
            nn.Linear(dense, 128), nn.BatchNorm1d(128), nn.LeakyReLU(LEAK, True), nn.Linear(128, codes)
        )


class InfoGenerator(nn.Module):
    def __init__(self, inputs: int, channels: int, size: int, width: int, dense: int):
        super().__init__()
        self.side = size // 4
        self.net = nn.Sequential(
            nn.Linear(inputs, dense),
            nn.BatchNorm1d(dense),
            nn.ReLU(True),
            nn.Linear(dense, 2 * width * self.side**2),
            nn.BatchNorm1d(2 * width * self.side**2),
            nn.ReLU(True),
            nn.Unflatten(1, (2 * width, self.side, self.side)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class InfoStep(Step):
    """One D update (its loss plus λ times Q's error on the codes of detached fakes), then one G
    update (adversarial plus λ times Q's error on the codes of the same fakes)."""

    hooks_not_called = ("data_shape", "d_steps")  # Q reads the images as G made them, one D step

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        model, D, tricks = self.model, self.model.discriminator, self.tricks
        tricks.on_step(step)
        real = next_batch().images
        inputs = model.training_inputs(len(real), self.latent, real.device)
        fake = model.generator(model.g_input(inputs))
        d_loss, d_phase = self.d_phase(step, D, real, fake)
        d_info = model.info_loss(fake.detach(), inputs)
        d_grad_norm = self.update_d(d_loss + model.info_weight * d_info)

        adversarial, g_phase = self.g_phase(d_phase, fake)
        info = model.info_loss(fake, inputs)
        g_loss = (
            tricks.g_adversarial_weight * adversarial + tricks.g_penalty(g_phase) + model.info_weight * info
        )
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(d_loss, g_loss, [d_phase], d_grad_norm, g_grad_norm, info=info)


@MODELS.register("infogan")
class InfoGAN(GAN):
    step_class = InfoStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        z_dim: PositiveInt = 62,  # noise dimensions (the paper's MNIST: 62)
        prior: LatentPrior = "uniform",  # the noise: U[-1, 1] (the authors' code) or N(0, I)
        categories: AtLeastTwo = 10,  # values of the categorical code
        continuous: NonNegativeInt = 2,  # continuous codes, each uniform on [-1, 1]
        info_weight: NonNegativeFloat = 1.0,  # λ of the mutual-information term
        g_channels: PositiveInt = 64,  # G's last up-conv input maps (the first has twice as many)
        d_channels: PositiveInt = 64,  # D's first conv maps (the second has twice as many)
        dense: PositiveInt = 1024,  # the FC layers of G and D
    ):
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2] or data_shape[1] % 4:
            raise GanError(f"infogan needs square images whose side divides by 4, got {tuple(data_shape)}")
        channels, size = data_shape[0], data_shape[1]
        self.z_dim, self.categories, self.continuous = z_dim, categories, continuous
        self.info_weight, self.prior = info_weight, prior
        self.generator = InfoGenerator(z_dim + categories + continuous, channels, size, g_channels, dense)
        self.discriminator = InfoDiscriminator(channels, size, d_channels, dense, categories + continuous)
        self.apply(init_dcgan_weights)  # the authors' N(0, 0.02) weights, N(1, 0.02) batch-norm scales

    def implied_tricks(self) -> list:
        return prior_tricks(self.prior)

    def codes(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> dict:
        """n draws of the codes: categories uniformly, continuous codes uniform on [-1, 1]."""
        category = torch.randint(self.categories, (n,), generator=generator)
        continuous = torch.rand(n, self.continuous, generator=generator) * 2 - 1
        return {"category": category.to(device), "continuous": continuous.to(device)}

    def training_inputs(self, n: int, prior: Prior, device: torch.device) -> Inputs:
        return Inputs({"z": prior(n), **self.codes(n, device=device)})

    def draw_inputs(
        self,
        n: int,
        prior: Prior,
        generator: torch.Generator,
        labels: torch.Tensor | None = None,
        data: DataSource | None = None,
    ) -> Inputs:
        """n noise vectors with random continuous codes; the categories in order, a grid row
        (``row_length``) of each, cycling when n is not a multiple of the categories."""
        inputs = Inputs({"z": prior(n), **self.codes(n, generator)})
        inputs.named["category"] = torch.arange(n) // self.row_length(n) % self.categories
        return inputs

    def g_input(self, inputs: Inputs) -> torch.Tensor:
        z = inputs["z"]
        category = F.one_hot(inputs["category"].to(z.device), self.categories).to(z.dtype)
        return torch.cat([z, category, inputs["continuous"].to(z)], dim=1)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        return self.current_generator(ema)(self.g_input(inputs))

    def row_length(self, n: int, label: int | None = None) -> int | None:
        return max(1, n // self.categories)

    def read_codes(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's answer: the category logits and the continuous codes' means."""
        D = self.discriminator
        out = D.q(D.body(images))
        return out[:, : self.categories], out[:, self.categories :]

    def info_loss(self, images: torch.Tensor, inputs: Inputs) -> torch.Tensor:
        """−(the lower bound of I(c; G(z, c))) up to the codes' constant entropy: the categorical
        cross-entropy plus half the squared error of each continuous code (unit-variance Gaussian)."""
        logits, continuous = self.read_codes(images)
        loss = F.cross_entropy(logits, inputs["category"])
        if self.continuous:
            loss = loss + 0.5 * (continuous - inputs["continuous"]).pow(2).sum(1).mean()
        return loss

    def traversal(self, code: str, z: torch.Tensor, values: torch.Tensor, ema: bool = True) -> torch.Tensor:
        """The figure of the paper: a row per category, the continuous code ``code`` (c1, c2...)
        taking ``values`` along the row, the noise ``z`` (one vector) and the other codes at 0."""
        names = [f"c{i + 1}" for i in range(self.continuous)]
        if code not in names:
            raise GanError(
                f"unknown code '{code}'; this model's continuous codes: {', '.join(names) or 'none'}"
            )
        rows, cols = self.categories, len(values)
        continuous = torch.zeros(rows * cols, self.continuous, device=z.device)
        continuous[:, names.index(code)] = values.to(z.device).repeat(rows)
        category = torch.arange(rows, device=z.device).repeat_interleave(cols)
        inputs = Inputs({"z": z.expand(rows * cols, -1), "category": category, "continuous": continuous})
        return self.generate(inputs, ema)
