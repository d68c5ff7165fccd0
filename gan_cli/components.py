"""Build a run's model, loss and tricks from its config: one path for train, sample and eval."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from gan_cli.datasets.base import DataSource, data_spec
from gan_cli.datasets.labelled import training_split
from gan_cli.errors import GanError
from gan_cli.losses.base import Loss
from gan_cli.metrics.base import Metric
from gan_cli.models.base import GAN
from gan_cli.models.inputs import Inputs
from gan_cli.registry import DATASETS, LOSSES, META_KEYS, METRICS, MODELS, TRICKS
from gan_cli.training.schedules import Schedules
from gan_cli.tricks.base import TrickSet


@dataclass
class Components:
    model: GAN
    loss: Loss
    tricks: TrickSet
    metrics: list[Metric]
    schedules: Schedules | None = None  # the run's scheduled values (built for training)

    def latent(
        self,
        n: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """n latent vectors from the run's prior (Gaussian, reshaped by latent tricks).

        ``truncation`` (sampling only) redraws every entry beyond ±truncation until none is
        left: the truncation trick of Brock et al. 2018 (BigGAN, arXiv:1809.11096). A model that
        truncates in its own latent space (StyleGAN's ψ in W: ``truncates_in_w``) gets z as is.
        """
        z = torch.randn(n, self.model.z_dim, generator=generator)
        if truncation is not None and truncation <= 0:
            raise GanError(f"truncation must be positive, got {truncation}")
        if truncation is not None and not self.model.truncates_in_w:
            outside = z.abs() > truncation
            while outside.any():
                z[outside] = torch.randn(int(outside.sum()), generator=generator)
                outside = z.abs() > truncation
        return self.tricks.latent(z.to(device))

    def inputs(
        self,
        n: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        labels: torch.Tensor | None = None,
        truncation: float | None = None,
        data: DataSource | None = None,
    ) -> Inputs:
        """n inputs for the model, on ``device``, drawn with ``generator``: latents from the run's
        prior for the classes ``labels``, or what the family takes from ``data``."""
        inputs = self.model.draw_inputs(
            n, lambda k: self.latent(k, device, generator, truncation), generator, labels, data
        )
        return inputs.to(device)


@contextmanager
def quiet(name: str) -> Iterator[None]:
    """Logger ``name`` below errors silenced for the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def named_configs(group_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A set's YAML ({name: params}, as trick sets and metric sets are) as registry configs."""
    return [{"name": name, **(params or {})} for name, params in group_cfg.items() if name not in META_KEYS]


def check(cfg: Mapping[str, Any]) -> None:
    """Every group option's parameters, by name and type, and every compatibility decision —
    at compose time, before any run folder exists. The model is built on the meta device (no
    memory, no initialisation cost) for the shape the dataset's parameters promise."""
    DATASETS.check(cfg["dataset"], ("root",))
    for metric in named_configs(cfg["metrics"]):
        METRICS.check(metric, ("root",))
    data_shape, num_classes = data_spec(cfg["dataset"], cfg["data"]["root"])
    with torch.device("meta"):
        assemble(cfg, data_shape, num_classes)
    if cfg["dataset"].get("limit") is not None or cfg["dataset"].get("labelled") is not None:
        # Counts that only the data itself can refuse (too many to hold out, too few of a class).
        with quiet("gan_cli"):  # the data's notes are for training, which logs them again
            data = DATASETS.build(cfg["dataset"], root=cfg["data"]["root"])
        training_split(data, cfg["dataset"], cfg["seed"])


def assemble(
    cfg: Mapping[str, Any], data_shape: tuple[int, ...], num_classes: int
) -> tuple[GAN, Loss, TrickSet, Schedules]:
    """The loss, the model, the trick set (the loss's and the model's implied tricks included)
    and the schedules of their parameters, refused when they cannot train together: the one
    place that decides it."""
    loss = LOSSES.build(cfg["loss"])
    schedules = Schedules(cfg["train"])
    schedules.attach("loss", cfg["loss"], loss)
    configured = []
    for trick_cfg in named_configs(cfg["trick"]):
        configured.append(TRICKS.build(trick_cfg))
        schedules.attach(f"trick.{trick_cfg['name']}", trick_cfg, configured[-1])
    tricks = TrickSet(loss.implied_tricks() + configured)
    model = MODELS.build(
        cfg["model"],
        data_shape=tuple(data_shape),
        d_input_shape=tricks.data_shape(tuple(data_shape)),
        num_classes=num_classes,
    )
    check_labelled(cfg["dataset"], model, num_classes)
    tricks = TrickSet(tricks.tricks + model.implied_tricks())
    loss.check(model)
    tricks.check(model, loss)
    return model, loss, tricks, schedules


def check_labelled(dataset_cfg: Mapping[str, Any], model: GAN, num_classes: int) -> None:
    """``dataset.labelled``: for a model that learns from few labels, the same count of each class."""
    count = dataset_cfg.get("labelled")
    if count is None:
        return
    if not model.learns_from_few_labels:
        raise GanError(
            f"dataset.labelled={count} hides labels for a model that learns from few of them "
            f"(model=ssgan); model={model.registered_name} does not"
        )
    if num_classes < 2 or count % num_classes:
        raise GanError(
            f"dataset.labelled={count} must be a multiple of the dataset's {num_classes} classes "
            "(the same count of each)"
        )


def build(cfg: Mapping[str, Any], data_shape: tuple[int, ...], num_classes: int) -> Components:
    """``cfg`` is the resolved run config as plain containers; its combination was already
    accepted by ``check``, so this only builds (for the loaded data's own shape) and wraps."""
    model, loss, tricks, schedules = assemble(cfg, data_shape, num_classes)
    tricks.wrap(model)
    metrics = [METRICS.build(m, root=cfg["data"]["root"]) for m in named_configs(cfg.get("metrics", {}))]
    return Components(model, loss, tricks, metrics, schedules)
