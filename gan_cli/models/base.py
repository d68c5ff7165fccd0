"""What every model family provides to the training loop, sampling and checkpoints."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.datasets.base import DataSource
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs, Prior
from gan_cli.training.steps import AdversarialStep


class Discriminator(nn.Module):
    """D(x) = head(body(x)), one score per sample.

    Tricks that work on D's features (feature matching, minibatch discrimination, minibatch
    standard deviation) use ``body`` and replace ``head``.
    """

    body: nn.Module
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


class GAN(nn.Module):
    """A generator and a discriminator built together from one config.

    Subclasses set ``generator``, ``discriminator`` (a ``Discriminator``) and ``z_dim`` in
    ``__init__``. Constructors receive ``data_shape`` (what G makes) and may take
    ``d_input_shape`` (what D sees, when a trick such as PacGAN packs samples). A family whose
    training differs from one D update + one G update (two domains, progressive growing)
    names its own ``step_class`` instead of branching the training loop.

    Class-conditional families set ``num_classes`` and override ``condition``: the step hands
    it each real batch's labels (the fakes of that step are made for the same labels), and G
    and D — including the EMA copy — read them on their following calls. Conditioning through
    this one call rather than an extra argument keeps every trick that calls D (gradient
    penalties, mixed batches, unrolling) working for conditional models unchanged.
    """

    generator: nn.Module
    discriminator: Discriminator
    z_dim: int
    num_classes = 0  # > 0: class-conditional
    truncates_in_w = False  # truncation acts in the model's own latent space (StyleGAN's W), not on z
    learns_from_few_labels = False  # trains on partly labelled data (dataset.labelled)
    step_class = AdversarialStep

    def condition(self, labels: torch.Tensor | None) -> None:
        """The class labels the next calls of G and D are for (unconditional: ignored)."""

    def prepare(self, data: DataSource, root: str) -> None:
        """What the family takes from the data before training, once the model is on its device
        (SRGAN: the dataset classifier its content loss measures in); ``root`` is the data root,
        where such networks are cached. Most families take nothing."""

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities of real ``images``, for a family whose D learns to classify (the
        semi-supervised GAN): such a family overrides this."""
        raise GanError(f"{self.registered_name} does not classify images")

    @property
    def classifies(self) -> bool:
        """Whether this family's D classifies images (it overrides ``classify``)."""
        return type(self).classify is not GAN.classify

    def implied_tricks(self) -> list:
        """Tricks that are part of this model's objective (AC-GAN's class loss). They join the
        run's trick set once the model is built, so they cannot change the shape D sees."""
        return []

    def draw_inputs(
        self,
        n: int,
        prior: Prior,
        generator: torch.Generator,
        labels: torch.Tensor | None = None,
        data: DataSource | None = None,
    ) -> Inputs:
        """A batch of n inputs: here n latents from ``prior`` and the classes to make (``labels``,
        from ``sample_labels``). A family whose inputs come from the data draws them from ``data``
        with ``generator``, and refuses in one line when there is none."""
        return Inputs({"z": prior(n)}, labels=labels)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        """Samples from the EMA generator when there is one (``ema_generator``, set by the ema
        trick) and ``ema`` is true, else from G; for ``inputs.labels`` when conditional."""
        if self.num_classes:
            if inputs.labels is None:
                raise GanError("this model is class-conditional: give the labels to sample")
            self.condition(inputs.labels)
        return self.current_generator(ema)(inputs["z"])

    def current_generator(self, ema: bool = True) -> nn.Module:
        """The EMA generator when the run keeps one and ``ema``, else G."""
        ema_generator = getattr(self, "ema_generator", None)  # a submodule, so no class default
        return ema_generator if ema and ema_generator is not None else self.generator

    def picture(self, inputs: Inputs, ema: bool = True) -> tuple[torch.Tensor, int | None]:
        """The images of a sample grid of ``inputs`` and their count per row (None: as square as
        possible). A family whose grid shows more than its outputs (a translator's sources and
        targets) overrides."""
        images = self.generate(inputs, ema)
        return images, self.row_length(len(images))

    def reference(self, data: DataSource) -> DataSource:
        """The real data the outputs should resemble, for the metrics: the training data, or a
        translator's target domain."""
        return data

    def sample_labels(self, n: int, label: int | None = None) -> torch.Tensor | None:
        """Labels for n samples: None when unconditional; all ``label`` when given; else the
        classes in order, n // num_classes each (a grid with one row per class)."""
        if not self.num_classes:
            if label is not None:
                raise GanError("--label needs a class-conditional model; this one is unconditional")
            return None
        if label is not None:
            if not 0 <= label < self.num_classes:
                raise GanError(
                    f"label {label} out of range: this model has classes 0..{self.num_classes - 1}"
                )
            return torch.full((n,), label, dtype=torch.long)
        return torch.arange(self.num_classes).repeat_interleave(max(1, n // self.num_classes))

    def row_length(self, n: int, label: int | None = None) -> int | None:
        """Images per row in a grid of n generated images (None: as square as possible).
        Conditional: one row per class; a family whose samples come in groups (CoGAN's pairs)
        overrides."""
        return n // self.num_classes if self.num_classes and label is None else None


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for conv/linear weights, N(1, 0.02) for norm scales (Radford et al. 2015)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
