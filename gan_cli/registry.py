"""Name -> class registries: the one way gan-cli builds objects from config.

A YAML in ``conf/<group>/`` names a registered class with its ``name`` key; the remaining keys
are that class's constructor arguments (the constructor is the schema: each annotation gives an
argument's type and range, see ``gan_cli/schema.py``); a loss's or trick's real-valued argument
may instead follow a schedule, and is built with its start value (``gan_cli/training/schedules.py``).
Values that come from the data (shape, label count) are injected by the caller, never written
in YAML.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gan_cli import schema
from gan_cli.errors import GanError
from gan_cli.training import schedules

# Keys every YAML may carry that are not constructor arguments.
META_KEYS = ("name", "description")


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry:
    def __init__(
        self, group: str, package: str, schedulable: bool = False, common: Mapping[str, Any] | None = None
    ):
        self.group = group
        self.schedulable = schedulable  # a parameter may follow a schedule (gan_cli/training/schedules.py)
        # Keys every option of the group takes, with their annotations: checked here, acted on
        # by the caller, never passed to a constructor (a dataset's ``limit``).
        self.common = dict(common or {})
        self.package = package  # sub-package whose modules register into this registry
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type], type]:
        def add(cls: type) -> type:
            if name in self._classes:
                raise ValueError(f"{self.group} '{name}' is registered twice")
            cls.registered_name = name  # how messages name it: as the user wrote it
            self._classes[name] = cls
            return cls

        return add

    def _load(self) -> None:
        # Importing every module of the package runs its @register decorators, so a new
        # file is picked up without editing any list.
        if self._loaded:
            return
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self.package}.{info.name}")
        self._loaded = True

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def get(self, name: str) -> type:
        self._load()
        if name not in self._classes:
            valid = ", ".join(self.names())
            raise GanError(f"unknown {self.group} '{name}'{did_you_mean(name, self.names())}; valid: {valid}")
        return self._classes[name]

    def check(self, cfg: Mapping[str, Any], injected: Iterable[str] = ()) -> dict[str, Any]:
        """The constructor arguments ``cfg`` gives, checked by name, and by null, type, range and
        shape against their annotations (``gan_cli.schema``), in the signature of ``cfg['name']``;
        ``injected`` names arguments the caller supplies."""
        if "name" not in cfg:  # the group's choice was removed (~dataset), its common keys left
            raise GanError(
                f"no {self.group} is chosen; choose one with {self.group}=NAME ({', '.join(self.names())})"
            )
        cls = self.get(cfg["name"])
        for key, annotation in self.common.items():
            schema.check(cfg.get(key), annotation, f"{self.group}.{key}")
        params = {k: v for k, v in cfg.items() if k not in META_KEYS and k not in self.common}
        signature = inspect.signature(cls).parameters
        accepted = [p for p in signature if p not in injected]
        hints = typing.get_type_hints(cls.__init__ if inspect.isclass(cls) else cls, include_extras=True)
        for key, value in params.items():
            if key not in accepted:
                valid = f"valid: {', '.join(accepted)}" if accepted else "it takes none"
                raise GanError(
                    f"{self.group} '{cfg['name']}' has no parameter '{key}'{did_you_mean(key, accepted)}; {valid}"
                )
            where = f"{self.group} '{cfg['name']}': {key}"
            if self.schedulable and schedules.is_schedule(value):
                params[key] = schedules.check(value, hints.get(key, float), where)
            elif key in hints:
                schema.check(value, hints[key], where)
        return params

    def build(self, cfg: Mapping[str, Any], **injected: Any) -> Any:
        """Call ``cfg['name']``'s constructor with the other keys (see ``check``).

        ``injected`` are values the caller knows (data shape, label count, data root); each goes
        to the constructor only when its signature names it.
        """
        cls = self.get(cfg["name"])
        signature = inspect.signature(cls).parameters
        injected = {k: v for k, v in injected.items() if k in signature}
        return cls(**self.check(cfg, injected), **injected)


MODELS = Registry("model", "gan_cli.models")
LOSSES = Registry("loss", "gan_cli.losses", schedulable=True)
DATASETS = Registry(
    "dataset",
    "gan_cli.datasets",
    common={"limit": schema.PositiveInt | None, "labelled": schema.PositiveInt | None},
)
TRICKS = Registry("trick", "gan_cli.tricks", schedulable=True)
METRICS = Registry("metric", "gan_cli.metrics")
