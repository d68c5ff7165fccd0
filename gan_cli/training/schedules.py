"""Hyperparameters that follow a schedule over the run, declared where the value is.

Anywhere a number may follow a schedule (``train.lr_g``, ``train.lr_d``, either of
``train.betas``, a loss's or a trick's parameter), a mapping with a ``schedule`` key takes the
number's place::

    train:
      lr_g: {schedule: cosine, start: 2.0e-4, end: 5.0e-5}   # over the whole run
      betas: [0.0, {schedule: cosine, start: 0.9, end: 0.99, until: 40000}]
    trick:
      r1: {gamma: {schedule: linear, start: 1.0, end: 0.1, warmup: 500}}

``constant`` keeps ``start``; ``linear`` and ``cosine`` go from ``start`` to ``end`` (cosine as
R3GAN's schedules, Huang et al. 2024, arXiv:2501.05441: slow, fast, slow). Durations are in
training steps: ``warmup`` ramps up from 0 to ``start`` first, ``hold`` stays at ``start`` after
it, and the decay reaches ``end`` at step ``until`` (null: the run's last step) and stays there.

A schedule is a function of the step alone, so a resumed run follows it exactly; the values in
use are logged with every metrics record. Learning rates are set as a factor on each parameter
group's rate (``start`` = the rate a trick such as TTUR may have set), so the shape of a
schedule applies to whatever rates the optimizers start with. A loss's or trick's parameter is
set as the attribute of the same name before every step: components read their parameters
when they use them, and one that cannot is refused when the config is checked.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from gan_cli import schema
from gan_cli.errors import GanError

if TYPE_CHECKING:  # composing and checking a config must not load torch: gan --help stays instant
    import torch

KINDS = ("constant", "linear", "cosine")
KEYS = ("schedule", "start", "end", "warmup", "hold", "until")


def is_schedule(value: Any) -> bool:
    return isinstance(value, Mapping) and "schedule" in value


@dataclass(frozen=True)
class Schedule:
    kind: str
    start: float
    end: float
    warmup: int = 0  # steps ramping linearly from 0 up to start
    hold: int = 0  # steps at start after the warm-up
    until: int | None = None  # the step at which end is reached (None: the run's last step)

    @classmethod
    def parse(cls, spec: Mapping[str, Any], key: str) -> Schedule:
        """A schedule from its YAML mapping, every field checked; ``key`` names it in errors."""
        unknown = [k for k in spec if k not in KEYS]
        if unknown:
            raise GanError(f"{key} has no schedule key '{unknown[0]}'; a schedule takes {', '.join(KEYS)}")
        if spec["schedule"] not in KINDS:
            raise GanError(
                f"{key}.schedule must be one of {', '.join(KINDS)}, got {schema.show(spec['schedule'])}"
            )
        if "start" not in spec:
            raise GanError(f"{key} is a schedule without a start value: add start=...")
        schema.check(spec["start"], float, f"{key}.start")
        schema.check(spec.get("end", spec["start"]), float, f"{key}.end")
        for duration in ("warmup", "hold"):
            schema.check(spec.get(duration, 0), schema.NonNegativeInt, f"{key}.{duration}")
        schema.check(spec.get("until"), schema.PositiveInt | None, f"{key}.until")
        schedule = cls(
            spec["schedule"],
            spec["start"],
            spec.get("end", spec["start"]),
            spec.get("warmup", 0),
            spec.get("hold", 0),
            spec.get("until"),
        )
        if schedule.until is not None and schedule.until <= schedule.warmup + schedule.hold:
            raise GanError(
                f"{key}.until ({schedule.until}) must come after warmup + hold ({schedule.warmup + schedule.hold})"
            )
        return schedule

    def value(self, step: int, last: int) -> float:
        """The value training step ``step`` (1-based) of a run of ``last`` steps trains with:
        the warm-up reaches ``start`` at step ``warmup``; the decay starts once warmup + hold
        steps are done and reaches ``end`` once ``until`` are (so a rate decaying to 0 over
        the run still trains its last step)."""
        if step <= self.warmup:
            return self.start * step / self.warmup
        begin, until = self.warmup + self.hold, self.until or last
        progress = min(1.0, max(0.0, (step - 1 - begin) / max(1, until - begin)))
        if self.kind == "linear":
            return self.start + progress * (self.end - self.start)
        if self.kind == "cosine":
            return self.start + (1 - math.cos(math.pi * progress)) / 2 * (self.end - self.start)
        return self.start


def check(value: Any, annotation: Any, key: str) -> Any:
    """Check a value that may follow a schedule against what it must be; returns the value a
    component is built with (a schedule's ``start``). A schedule's ``end`` may be 0 for a
    positive quantity (a decay to nothing); otherwise start and end must both fit."""
    if not is_schedule(value):
        schema.check(value, annotation, key)
        return value
    schedule = Schedule.parse(value, key)
    number = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
    if not schema.fits(0.5, number):
        raise GanError(f"{key} cannot follow a schedule: it is not a real number")
    schema.check(schedule.start, annotation, f"{key}.start")
    if not (schedule.end == 0 and schema.fits(1e-12, annotation)):
        schema.check(schedule.end, annotation, f"{key}.end")
    return schedule.start


@dataclass(frozen=True)
class Scheduled:
    """A top-level setting (``gan_cli.config.SETTINGS``) that may follow a schedule."""

    annotation: Any  # what the value must be; a pair (Adam's betas) may schedule either entry

    def check(self, value: Any, key: str) -> None:
        if (
            typing.get_origin(self.annotation) is tuple
            and isinstance(value, (list, tuple))
            and any(map(is_schedule, value))
        ):
            args = typing.get_args(self.annotation)
            if len(value) != len(args):
                schema.check(value, self.annotation, key)
            for index, (entry, annotation) in enumerate(zip(value, args)):
                check(entry, annotation, f"{key}.{index}")
        else:
            check(value, self.annotation, key)


def start_value(value: Any) -> Any:
    """What a setting that may be scheduled starts at."""
    return value["start"] if is_schedule(value) else value


def declared(section: Mapping[str, Any], prefix: str) -> dict[str, Schedule]:
    """The schedules among a component section's parameters (``loss``, ``trick.r1``), by key."""
    return {f"{prefix}.{k}": Schedule.parse(v, f"{prefix}.{k}") for k, v in section.items() if is_schedule(v)}


class Schedules:
    """Every scheduled value of a run and where it goes, applied before each training step.

    ``attach`` binds the loss's and tricks' parameters (when the components are built, so a
    parameter no attribute holds is refused at compose time); ``attach_optimizers`` binds the
    learning rates and betas once the optimizers exist. ``lr_factor`` is the NaN rollback's cut
    of every learning rate, checkpointed with the run.
    """

    def __init__(self, train: Mapping[str, Any]):
        self.last = train["steps"]
        self.rates = {name: self._rate(train, name) for name in ("lr_g", "lr_d")}
        self.betas = {
            i: self._fitted(Schedule.parse(b, f"train.betas.{i}"), f"train.betas.{i}")
            for i, b in enumerate(train["betas"])
            if is_schedule(b)
        }
        self.entries: dict[str, tuple[Schedule, Callable[[float], None]]] = {}
        self.logged: set[str] = set()  # declared schedules (a plain learning rate is applied, not logged)
        self.current: dict[str, float] = {}
        self.lr_factor = 1.0

    def _fitted(self, schedule: Schedule, key: str) -> Schedule:
        """``schedule``, refused when its warm-up and hold leave no room to decay in this run."""
        if schedule.until is None and schedule.warmup + schedule.hold >= self.last:
            raise GanError(
                f"{key}: warmup + hold ({schedule.warmup + schedule.hold} steps) leave no steps of "
                f"train.steps={self.last} to decay in; shorten them or give until"
            )
        return schedule

    def attach(self, prefix: str, section: Mapping[str, Any], component: Any) -> None:
        """Bind the scheduled parameters of ``section`` (the config of ``component``)."""
        for key, schedule in declared(section, prefix).items():
            self._fitted(schedule, key)
            attribute = key.rpartition(".")[2]
            if not hasattr(component, attribute):
                raise GanError(
                    f"{key} cannot follow a schedule: {prefix} does not read '{attribute}' as it trains"
                )
            self._bind(key, schedule, lambda v, c=component, a=attribute: setattr(c, a, v))

    def _rate(self, train: Mapping[str, Any], name: str) -> tuple[Schedule, bool]:
        """A learning rate's schedule (``train.lr_decay: linear`` is the one it names; a plain
        rate is constant) and whether it was declared, so logged."""
        spec = train[name]
        if train["lr_decay"] == "linear":
            if is_schedule(spec):
                raise GanError(f"train.lr_decay=linear and a schedule for train.{name}: choose one")
            hold = int(train["lr_decay_start"] * self.last)
            return Schedule("linear", spec, 0.0, hold=hold), True
        if is_schedule(spec):
            return self._fitted(Schedule.parse(spec, f"train.{name}"), f"train.{name}"), True
        return Schedule("constant", spec, spec), False

    def attach_optimizers(
        self, g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer
    ) -> None:
        """Learning rates as factors on each group's rate as the optimizers were configured
        (by a trick such as TTUR), and Adam's betas."""
        for name, optimizer in (("lr_g", g_optimizer), ("lr_d", d_optimizer)):
            schedule, declared_ = self.rates[name]
            bases = [group["lr"] for group in optimizer.param_groups]

            def set_lr(value: float, optimizer=optimizer, bases=bases, start=schedule.start) -> None:
                for group, base in zip(optimizer.param_groups, bases):
                    group["lr"] = base * (value / start) * self.lr_factor

            self._bind(f"train.{name}", schedule, set_lr, logged=declared_)
        for index, schedule in self.betas.items():

            def set_beta(value: float, index=index) -> None:
                for optimizer in (g_optimizer, d_optimizer):
                    for group in optimizer.param_groups:
                        betas = list(group["betas"])
                        betas[index] = value
                        group["betas"] = tuple(betas)

            self._bind(f"train.betas.{index}", schedule, set_beta)

    def _bind(
        self, key: str, schedule: Schedule, setter: Callable[[float], None], logged: bool = True
    ) -> None:
        self.entries[key] = schedule, setter
        if logged:
            self.logged.add(key)

    def apply(self, step: int) -> None:
        """Set every scheduled value for training step ``step``."""
        for key, (schedule, setter) in self.entries.items():
            value = schedule.value(step, self.last)
            setter(value)
            if key in self.logged:
                self.current[key] = value

    def values(self) -> dict[str, float]:
        """The scheduled values of the last step, for the metrics record."""
        return dict(self.current)

    def state_dict(self) -> dict:
        # Empty while nothing was rolled back, so checkpoints of older versions still resume.
        return {"lr_factor": self.lr_factor} if self.lr_factor != 1.0 else {}

    def load_state_dict(self, state: dict) -> None:
        self.lr_factor = state.get("lr_factor", 1.0)
