"""Published experiments as data: the protocols ``gan reproduce`` runs (``conf/reproduce/*.yaml``).

A protocol file names a paper's table: the settings every row shares (the paper's data,
architecture, optimizer, batch, sample count), the budgets (``paper``: the published schedule;
``short``: a documented CPU budget), the rows (each a list of overrides) and the published
numbers with their source. Everything is a ``gan train`` override, so a reader can check each
setting against the paper, and a row can be rerun by hand.

To run the rows × seeds as one Hydra sweep, each row becomes a config file of a generated group
``reproduce_row`` (its group choices in a defaults list, its values as config), and the sweep
is ``+reproduce_row=ROW1,ROW2,... seed=0,1,...``: launchers, SLURM and ``gan resume`` work on it
as on any sweep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli.config import GROUP_SECTIONS, config_dir, group_options
from gan_cli.errors import GanError
from gan_cli.registry import did_you_mean

ROW_GROUP = "reproduce_row"
BUDGETS = ("paper", "short")


@dataclass
class Row:
    name: str  # as the table prints it
    overrides: list[str]
    published: dict[str, str]  # metric key -> the number as the paper prints it ("6.3 ± 0.5")

    @property
    def slug(self) -> str:
        """The row's config name: lower case, words joined by underscores."""
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


@dataclass
class Budget:
    overrides: list[str]
    minutes: float  # measured CPU minutes of one run (one core, gan-cli's CPU default)


@dataclass
class Protocol:
    name: str
    title: str
    paper: str
    source: str
    metrics: dict[str, str]  # record key -> column header
    seeds: int
    settings: list[str]
    budgets: dict[str, Budget]
    rows: list[Row]
    notes: str = ""
    also: tuple[str, ...] = ()  # record keys printed under the table (a classifier's accuracy...)

    def row(self, name: str) -> Row:
        for row in self.rows:
            if name in (row.name, row.slug):
                return row
        names = [r.slug for r in self.rows]
        raise GanError(
            f"protocol {self.name} has no row '{name}'{did_you_mean(name, names)}; rows: {', '.join(names)}"
        )

    def overrides(self, row: Row, budget: str) -> list[str]:
        """Everything a row's job is trained with, in the order later ones win."""
        return [*self.settings, *self.budgets[budget].overrides, *row.overrides]


def names() -> list[str]:
    return group_options("reproduce")


def path(name: str) -> Path:
    """A shipped protocol's file, or ``name`` itself when it is a YAML file (your own protocol)."""
    own = Path(name).expanduser()
    return own if name.endswith((".yaml", ".yml")) else config_dir() / "reproduce" / f"{name}.yaml"


def load(name: str) -> Protocol:
    """The protocol ``conf/reproduce/NAME.yaml`` or the file NAME; ``GanError`` names what is
    wrong with it."""
    file = path(name)
    if not file.is_file():
        raise GanError(
            f"unknown protocol '{name}'{did_you_mean(name, names())}; protocols: {', '.join(names())}"
        )
    try:
        raw = OmegaConf.to_container(OmegaConf.load(file))
    except OmegaConfBaseException as err:
        raise GanError(f"{file}: {str(err).splitlines()[0]}") from err
    return from_dict(file.stem, raw, str(file))


def from_dict(name: str, raw: Any, where: str) -> Protocol:
    def need(node: Any, key: str, kind: type | tuple[type, ...], at: str) -> Any:
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise GanError(f"{where}: {at}{key} is missing or not a {getattr(kind, '__name__', kind)}")
        return value

    budgets = need(raw, "budgets", dict, "")
    if sorted(budgets) != sorted(BUDGETS):
        raise GanError(f"{where}: budgets must be exactly {', '.join(BUDGETS)}")
    rows = [
        Row(
            name=need(r, "name", str, f"rows[{i}]."),
            overrides=[str(o) for o in need(r, "overrides", list, f"rows[{i}].")],
            published={str(k): str(v) for k, v in need(r, "published", dict, f"rows[{i}].").items()},
        )
        for i, r in enumerate(need(raw, "rows", list, ""))
    ]
    slugs = [r.slug for r in rows]
    if len(set(slugs)) != len(slugs) or not rows:
        raise GanError(f"{where}: rows need distinct names, and at least one row")
    protocol = Protocol(
        name=name,
        title=need(raw, "title", str, ""),
        paper=need(raw, "paper", str, ""),
        source=need(raw, "source", str, ""),
        metrics={str(k): str(v) for k, v in need(raw, "metrics", dict, "").items()},
        seeds=need(raw, "seeds", int, ""),
        settings=[str(o) for o in need(raw, "settings", list, "")],
        budgets={
            b: Budget(
                overrides=[str(o) for o in need(budgets[b], "overrides", list, f"budgets.{b}.")],
                minutes=float(need(budgets[b], "minutes", (int, float), f"budgets.{b}.")),
            )
            for b in BUDGETS
        },
        rows=rows,
        notes=str(raw.get("notes") or ""),
        also=tuple(str(k) for k in need({"also": raw.get("also") or []}, "also", list, "")),
    )
    if protocol.seeds < 1:
        raise GanError(f"{where}: seeds must be at least 1, got {protocol.seeds}")
    for row in rows:
        unknown = set(row.published) - set(protocol.metrics)
        if unknown:
            raise GanError(
                f"{where}: row '{row.name}' publishes {', '.join(sorted(unknown))}, not in metrics"
            )
    return protocol


def row_config(protocol: Protocol, row: Row, budget: str) -> dict[str, Any]:
    """The ``reproduce_row`` config file of one row: its overrides as a defaults list (group
    choices) and values, and the ``reproduce`` key that names the row in the run's config."""
    defaults: list[Any] = []
    values = OmegaConf.create({})
    for override in protocol.overrides(row, budget):
        key, sep, value = override.partition("=")
        key = key.lstrip("+")
        if not sep or key.startswith("~") or not key:
            raise GanError(f"protocol {protocol.name}: '{override}' is not a key=value override")
        if key in GROUP_SECTIONS:
            defaults = [d for d in defaults if f"override /{key}" not in d]  # a later choice wins
            defaults.append({f"override /{key}": value})
            continue
        try:
            values.merge_with(OmegaConf.from_dotlist([f"{key}={value}"]))
        except OmegaConfBaseException as err:
            raise GanError(
                f"protocol {protocol.name}: bad override '{override}': {str(err).splitlines()[0]}"
            ) from err
    node = OmegaConf.to_container(values)
    node["reproduce"] = {"protocol": protocol.name, "row": row.name, "budget": budget}
    return {"defaults": [*defaults, "_self_"], **node}


def write_rows(protocol: Protocol, budget: str, folder: Path) -> list[str]:
    """Write each row's config into ``folder/reproduce_row/``; returns their names in order."""
    group = folder / ROW_GROUP
    group.mkdir(parents=True, exist_ok=True)
    for row in protocol.rows:
        text = "# @package _global_\n" + OmegaConf.to_yaml(
            OmegaConf.create(row_config(protocol, row, budget))
        )
        (group / f"{row.slug}.yaml").write_text(text)
    return [row.slug for row in protocol.rows]
