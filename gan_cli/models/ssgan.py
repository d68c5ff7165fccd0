"""The semi-supervised GAN: D is a K-class classifier whose "fake" class is implicit.

Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen 2016, "Improved Techniques for Training
GANs", arXiv:1606.03498, section 5, and the authors' code (openai/improved-gan,
``train_mnist_feature_matching.py``). D outputs K class logits l_1..l_K; the K+1-th, "fake",
logit is fixed at 0, so D's probability that x is real is Z / (Z + 1) with Z = Σ exp(l_k), and
its real-vs-fake logit is log Z (``forward``). Hence:

- the unsupervised loss on unlabelled reals and fakes is the ordinary GAN loss of D on that
  logit (``loss=ns``), halved as the paper writes it, times ``unsupervised_weight``;
- the supervised loss is the cross-entropy of the K logits on a batch of the few labelled
  images (``dataset.labelled=N``);
- G is trained by feature matching on D's last hidden layer (an implied trick): the paper's
  best classifier, though not its best samples.

The authors' MNIST networks: D an MLP 1000-500-250-250-250 with weight-normalized layers
(initialised from the data so each unit starts at zero mean and unit variance), ReLU, and
Gaussian noise on the input (σ 0.3 of the [0, 1] pixel scale, so 0.6 here) and after each
hidden layer (σ 0.5); G an MLP 500-500 with batch norm and softplus from 100 uniform inputs.
Test error is read from a slow running average of D's weights (rate ``average_rate``, bias-
corrected as Adam's moments are), with no noise. ``unsupervised_weight=0`` trains the same D
as a plain classifier on the labelled images alone: the baseline.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch, DataSource
from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.models.latents import LatentPrior, prior_tricks
from gan_cli.registry import MODELS
from gan_cli.schema import Fraction, NonNegativeFloat, PositiveInt
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Trick
from gan_cli.tricks.feature_matching import FeatureMatching

INPUT_NOISE = 0.6  # the paper's σ 0.3 on [0, 1] pixels, on our [-1, 1] scale
HIDDEN_NOISE = 0.5
INIT_IMAGES = 500  # the data-dependent initialisation's batch, as in the authors' code


class GaussianNoise(nn.Module):
    """x + σ ε while training; the identity when evaluating."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training else x


class WeightNormLinear(nn.Module):
    """y = g · (v x) / ‖v‖ + b per output unit (Salimans & Kingma 2016): the direction of each
    unit's weights learns apart from its scale g, which is learnt only with ``train_scale`` (in
    the authors' MNIST D, only the output layer's; the hidden layers keep the scale their
    initialisation from the data gives them)."""

    def __init__(self, inputs: int, outputs: int, train_scale: bool = True):
        super().__init__()
        self.v = nn.Parameter(torch.randn(outputs, inputs) * 0.1)
        self.g = nn.Parameter(torch.ones(outputs), requires_grad=train_scale)
        self.b = nn.Parameter(torch.zeros(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.v * (self.g / self.v.norm(dim=1)).unsqueeze(1), self.b)

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> None:
        """Scale and shift so that each unit's output on ``x`` has zero mean and unit variance."""
        self.g.fill_(1.0)
        self.b.zero_()
        out = self(x)
        std = out.std(0) + 1e-8
        self.g.div_(std)
        self.b.copy_(-out.mean(0) / std)


class LogSumExp(nn.Module):
    """log Σ_k exp(l_k): the real-vs-fake logit of K class logits with the fake logit at 0."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.logsumexp(1)


class ClassifierDiscriminator(Discriminator):
    """``body``: the noisy weight-normalized MLP up to its last hidden layer (the features G
    matches); ``classes``: noise and the K class logits; ``head``: those logits' log Σ exp."""

    def __init__(self, inputs: int, widths: list[int], classes: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten(), GaussianNoise(INPUT_NOISE)]
        for i, width in enumerate(widths):
            if i:
                layers.append(GaussianNoise(HIDDEN_NOISE))
            layers += [WeightNormLinear(widths[i - 1] if i else inputs, width, train_scale=False), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.classes = nn.Sequential(GaussianNoise(HIDDEN_NOISE), WeightNormLinear(widths[-1], classes))
        self.head = nn.Sequential(self.classes, LogSumExp())

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classes(self.body(x))

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> None:
        """Each weight-normalized layer in turn from the activations ``x`` leads to, noise
        included as in the authors' code."""
        for layer in [*self.body, *self.classes]:
            if isinstance(layer, WeightNormLinear):
                layer.initialise(x)
            x = layer(x)


class ClassifierAverage(Trick):
    """A running average of D's weights, bias-corrected, after every D update: the classifier the
    test error and ``gan classify`` use (the authors' code tests with such an average)."""

    def __init__(self, rate: float):
        self.rate, self.updates = rate, 0
        self.average: nn.Module | None = None

    def wrap(self, model: GAN) -> None:
        # A submodule of the model: .to(device) moves it; its weights are saved with the tricks.
        model.d_average = self.average = copy.deepcopy(model.discriminator).requires_grad_(False)

    @torch.no_grad()
    def after_d_step(self, model: GAN) -> None:
        self.updates += 1
        weight = self.rate / (1.0 - (1.0 - self.rate) ** self.updates)  # 1 at the first update
        for average, param in zip(self.average.parameters(), model.discriminator.parameters()):
            average.lerp_(param, weight)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "weights": self.average.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        self.average.load_state_dict(state["weights"])


class Generator(nn.Module):
    def __init__(self, z_dim: int, widths: list[int], shape: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            # Batch norm with a learnt scale, where the authors' has none: without it D won
            # outright in 9 of 10 runs, with the authors' other G choices too (docs/semi_supervised.md).
            layers += [nn.Linear(widths[i - 1] if i else z_dim, width), nn.BatchNorm1d(width), nn.Softplus()]
        layers += [WeightNormLinear(widths[-1], math.prod(shape)), nn.Tanh(), nn.Unflatten(1, shape)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class SemiSupervisedStep(AdversarialStep):
    """One D update — the cross-entropy of the labelled batch plus the weighted unsupervised GAN
    loss on the unlabelled batch and fakes — then one G update on the same unlabelled batch."""

    hooks_not_called = ("d_steps",)

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        model, G, tricks = self.model, self.model.generator, self.tricks
        tricks.on_step(step)
        batch = next_batch()
        images, labels = batch.labelled if batch.labelled is not None else (batch.images, batch.labels)
        with torch.no_grad():
            fake = G(self.latent(len(batch.images)))
        unsupervised, d_phase = self.d_phase(step, model.discriminator, batch.images, fake)
        logits = model.discriminator.logits(tricks.d_input(images))
        supervised = F.cross_entropy(logits, labels)
        d_loss = supervised + model.unsupervised_weight * 0.5 * unsupervised
        d_grad_norm = self.update_d(d_loss)

        adversarial, g_phase = self.g_phase(d_phase, G(self.latent(len(batch.images))))
        g_loss = tricks.g_adversarial_weight * adversarial + tricks.g_penalty(g_phase)
        g_grad_norm = self.update_g(g_loss)
        train_error = (logits.detach().argmax(1) != labels).float().mean()
        return self.scalars(
            d_loss,
            g_loss,
            [d_phase],
            d_grad_norm,
            g_grad_norm,
            supervised=supervised,
            train_error=train_error,
        )


@MODELS.register("ssgan")
class SemiSupervisedGAN(GAN):
    step_class = SemiSupervisedStep
    learns_from_few_labels = True

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset
        num_classes: int,  # injected: the dataset's classes, D's K
        z_dim: PositiveInt = 100,
        prior: LatentPrior = "uniform",  # G's inputs: U[-1, 1] as in the authors' code, or N(0, I)
        g_widths: list[PositiveInt] = (500, 500),
        d_widths: list[PositiveInt] = (1000, 500, 250, 250, 250),
        unsupervised_weight: NonNegativeFloat = 1.0,  # 0: D is a plain classifier of the labelled images
        average_rate: Fraction = 1e-4,  # of the running average of D's weights the test error uses
    ):
        super().__init__()
        if num_classes < 2:
            raise GanError("ssgan classifies: it needs a dataset with at least two classes")
        if not g_widths or not d_widths:
            raise GanError("ssgan needs at least one hidden layer in G and in D (g_widths, d_widths)")
        self.z_dim, self.prior, self.classes = z_dim, prior, num_classes
        self.unsupervised_weight, self.average_rate = unsupervised_weight, average_rate
        self.generator = Generator(z_dim, list(g_widths), tuple(data_shape))
        self.discriminator = ClassifierDiscriminator(math.prod(data_shape), list(d_widths), num_classes)

    def implied_tricks(self) -> list:
        return [FeatureMatching(), ClassifierAverage(self.average_rate), *prior_tricks(self.prior)]

    def prepare(self, data: DataSource, root: str) -> None:
        self.discriminator.initialise(data.head(INIT_IMAGES).float())

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities of ``images`` (N×C×H×W in [-1, 1]) by the averaged D, no noise."""
        average = getattr(self, "d_average", None)  # a submodule, so no class default
        D = self.discriminator if average is None else average
        was_training = D.training
        D.eval()
        with torch.no_grad():
            probabilities = D.logits(images).softmax(1)
        D.train(was_training)
        return probabilities
