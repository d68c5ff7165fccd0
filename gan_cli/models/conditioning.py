"""Class conditioning shared by every conditional model family.

How labels reach the networks: ``GAN.condition(labels)`` stores them in every ``LabelReader``
module of the model — G's, D's and the EMA generator's, which is a copy of G made after the
model was built — and those modules read them on their following calls. G and D therefore keep
their one-tensor signature, so every trick that calls D (gradient penalties, mixed batches,
unrolling) works for conditional models unchanged.

The three ways D reads the label:

- ``concat``: the label, one-hot, joins D's input (as extra channels for images) and G's latent —
  Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", arXiv:1411.1784.
- ``projection``: D(x, y) = psi(phi(x)) + <embed(y), phi(x)> with phi(x) D's pooled features —
  Miyato & Koyama 2018, "cGANs with Projection Discriminator", arXiv:1802.05637.
- ``auxiliary``: D also classifies its input; D learns the classes of real and fake samples and
  G is rewarded for fakes classified as their label — Odena, Olah & Shlens 2017, "Conditional
  Image Synthesis with Auxiliary Classifier GANs" (AC-GAN), arXiv:1610.09585. The class loss is
  ``gan_cli.tricks.auxiliary_classifier``, which the model implies.

Generators of the residual families (SAGAN, BigGAN) are conditioned through conditional batch
norm instead: the label (or a vector made from it) sets each batch-norm layer's gain and bias —
de Vries et al. 2017, "Modulating early visual processing by language", arXiv:1707.00683, as used
by Miyato & Koyama 2018 and Zhang et al. 2018.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.tricks.auxiliary_classifier import AuxiliaryClassifier

Conditioning = Literal["concat", "projection", "auxiliary"]  # how D reads the label


def one_hot(labels: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, num_classes).to(like.dtype)


class LabelReader(nn.Module):
    """A module that reads the labels ``GAN.condition`` last set."""

    labels: torch.Tensor | None = None

    def batch_labels(self, n: int) -> torch.Tensor:
        """The labels of a batch of ``n``: D may see real and fake concatenated (mixed batches),
        so a batch that is a multiple of the labels gets them repeated in order."""
        if self.labels is None:
            raise GanError("a class-conditional network was called before its labels were set")
        if n % len(self.labels):
            raise GanError(f"a class-conditional network got a batch of {n} for {len(self.labels)} labels")
        return self.labels.repeat(n // len(self.labels))


class LabelConcat(LabelReader):
    """Appends the one-hot label to a vector, or as constant channels to a feature map."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = one_hot(self.batch_labels(len(x)), self.num_classes, x)
        return torch.cat([x, y.view(*y.shape, *(1,) * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])], 1)


def label_input(num_classes: int) -> list[nn.Module]:
    """The layers that put the label into a network's input: none for 0 classes, so an
    unconditional network keeps its layer indices (and its checkpoints' keys)."""
    return [LabelConcat(num_classes)] if num_classes else []


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain (1 + linear) and bias are linear functions of a conditioning vector
    (a one-hot label, or BigGAN's shared embedding joined with a latent chunk); with
    ``cond_dim`` 0, plain batch norm with learned affine parameters."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=not cond_dim)
        self.gain = nn.Linear(cond_dim, channels) if cond_dim else None
        self.bias = nn.Linear(cond_dim, channels) if cond_dim else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.norm(x)
        if self.gain is None:
            return h
        return h * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


def pooled(h: torch.Tensor) -> torch.Tensor:
    """D's features as one vector per sample: feature maps summed over space, as the projection
    discriminator's global sum pooling."""
    return h.flatten(2).sum(2) if h.dim() > 2 else h


class LabelledDiscriminator(Discriminator, LabelReader):
    """``Discriminator`` plus, when conditional, a projection term or an auxiliary classifier
    on its body's features (``concat`` lives in the body's first layer instead).

    The projection embedding and the classifier are ``Linear`` layers (on one-hot labels for the
    embedding), so the spectral-norm trick normalises them as Miyato & Koyama do.
    """

    def __init__(self) -> None:
        super().__init__()
        # Instance attributes, not class defaults: nn.Module finds submodules only when normal
        # attribute lookup fails.
        self.projection: nn.Linear | None = None
        self.classifier: nn.Linear | None = None

    def add_conditioning(self, method: Conditioning, num_classes: int, width: int, flat_width: int) -> None:
        """``width``: channels of the body's output; ``flat_width``: its size flattened."""
        if not num_classes:
            return
        if method == "projection":
            self.projection = nn.Linear(num_classes, width, bias=False)
        elif method == "auxiliary":
            self.classifier = nn.Linear(flat_width, num_classes)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        out = self.head(h).flatten()
        if self.projection is not None:
            y = one_hot(self.batch_labels(len(x)), self.num_classes, h)
            out = out + (self.projection(y) * pooled(h)).sum(1)
        return out

    def class_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the auxiliary classifier on ``x`` against the current labels."""
        logits = self.classifier(self.body(x).flatten(1))
        return F.cross_entropy(logits, self.batch_labels(len(x)))


class ConditionalGAN(GAN):
    """A family that is class-conditional when built with ``conditional`` and labelled data."""

    conditioning = "none"

    def set_conditioning(
        self,
        family: str,
        conditional: bool,
        num_classes: int,
        method: Conditioning,
        data_shape: tuple[int, ...],
        d_input_shape: tuple[int, ...] | None,
    ) -> int:
        """Check that the data and D's input allow it, and record it; returns the number of classes
        G and D condition on (0 when unconditional)."""
        if not conditional:
            return 0
        if num_classes < 2:
            raise GanError(
                f"{family} with model.conditional=true needs a dataset with class labels "
                "(mnist, fashion_mnist, cifar10, image_folder with class sub-folders)"
            )
        if d_input_shape is not None and tuple(d_input_shape) != tuple(data_shape):
            raise GanError(
                "a class-conditional model cannot have its samples packed (pacgan): D's labels are per sample"
            )
        self.num_classes, self.conditioning = num_classes, method
        return num_classes

    def concat_classes(self) -> int:
        """Classes whose one-hot label joins D's input (the ``concat`` method), else 0."""
        return self.num_classes if self.conditioning == "concat" else 0

    def condition(self, labels: torch.Tensor | None) -> None:
        if not self.num_classes:
            return
        for module in self.modules():
            if isinstance(module, LabelReader):
                module.labels = labels

    def implied_tricks(self) -> list:
        return [AuxiliaryClassifier()] if self.conditioning == "auxiliary" else []
