"""What a config value may be: a type, and the range beside it in ``Annotated``.

Constructor arguments carry it in their annotations (``hidden: PositiveInt = 256``), the
top-level settings in ``gan_cli.config.SETTINGS``; ``check`` is the one function that holds a
value against either, so null, type, range and shape are refused the same way everywhere, in one
line that names the key as the user writes it.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from gan_cli.errors import GanError


@dataclass(frozen=True)
class Range:
    """Bounds of a number; ``None`` is unbounded, ``*_open`` leaves the bound itself out."""

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.min is not None and not (value > self.min if self.min_open else value >= self.min):
            return False
        return self.max is None or (value < self.max if self.max_open else value <= self.max)

    def __str__(self) -> str:
        if self.min is not None and self.max is not None:
            left, right = "(" if self.min_open else "[", ")" if self.max_open else "]"
            return f"in {left}{_number(self.min)}, {_number(self.max)}{right}"
        if self.min is not None:
            return f"{'>' if self.min_open else '>='} {_number(self.min)}"
        if self.max is not None:
            return f"{'<' if self.max_open else '<='} {_number(self.max)}"
        return ""


PositiveInt = Annotated[int, Range(min=1)]  # counts, sizes, widths, depths, intervals
NonNegativeInt = Annotated[int, Range(min=0)]  # where 0 means "none" or "off"
PositiveFloat = Annotated[float, Range(min=0, min_open=True)]  # learning rates, scales
NonNegativeFloat = Annotated[float, Range(min=0)]  # weights, penalties, stds
Probability = Annotated[float, Range(0, 1)]
Fraction = Annotated[float, Range(0, 1, max_open=True)]  # decays, dropout: 1 would never move
AtLeastTwo = Annotated[int, Range(min=2)]  # groups and packs of samples
# torch.manual_seed takes up to 2**64 - 1, numpy's SeedSequence nothing negative; runs add the
# rank (and 1) to the seed, so [0, 2**63) leaves room for both.
Seed = Annotated[int, Range(0, 2**63, max_open=True)]


def fits(value: Any, annotation: Any) -> bool:
    """Whether a config value (plain YAML: None, bool, int, float, str, list, dict) fits an
    annotation; annotations this does not know are accepted."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        ranges = [m for m in annotation.__metadata__ if isinstance(m, Range)]
        return fits(value, args[0]) and all(value in r for r in ranges)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, option) for option in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if annotation is type(None) or annotation is None:
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:  # a YAML int stands for a float; nan and inf are never meant
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list) or annotation in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return all(fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args))
    return True


_COUNTS = {2: "two", 3: "three", 4: "four"}
_NOUNS = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings")}


def describe(annotation: Any, plural: bool = False) -> str:
    """What fits ``annotation``, in words: "an integer >= 1", "two numbers in [0, 1)"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        ranges = " and ".join(str(m) for m in annotation.__metadata__ if isinstance(m, Range))
        return f"{describe(args[0], plural)} {ranges}".strip()
    choices = _choices(annotation)
    if choices is not None:  # a Literal, or a union of Literals, bool and null: list the values
        return " or ".join(choices) if len(choices) <= 2 else f"one of {', '.join(choices)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(option, plural) for option in args)
    if annotation in _NOUNS:
        return _NOUNS[annotation][plural]
    if origin in (tuple, list) or annotation in (tuple, list):
        if not args:
            return "lists" if plural else "a list"
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return f"{'lists' if plural else 'a list'} of {describe(args[0], plural=True)}"
        if len(set(args)) == 1 and len(args) in _COUNTS and not plural:
            return f"{_COUNTS[len(args)]} {describe(args[0], plural=True)}"
        return f"{'lists' if plural else 'a list'} [{', '.join(describe(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def show(value: Any) -> str:
    """A value as it is written in YAML or on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(show(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def check(value: Any, annotation: Any, key: str) -> None:
    """Raise ``GanError`` unless ``value`` fits ``annotation``; ``key`` names it in the message."""
    if not fits(value, annotation):
        raise GanError(f"{key} must be {describe(annotation)}, got {show(value)}")


def _choices(annotation: Any) -> list[str] | None:
    """The values ``annotation`` admits, as written in YAML, when it is a fixed set of them
    (``Literal``, ``bool``, null, or a union of those); else None."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return [a if isinstance(a, str) else show(a) for a in args]
    if annotation is bool:
        return ["true", "false"]
    if annotation is type(None) or annotation is None:
        return ["null"]
    if origin in (typing.Union, types.UnionType):
        options = [_choices(option) for option in args]
        if all(o is not None for o in options):
            return [value for o in options for value in o]
    return None


def _number(x: float) -> str:
    if isinstance(x, int) and x > 2**32 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    return f"{x:g}" if isinstance(x, float) else str(x)
