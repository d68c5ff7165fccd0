"""``gan reproduce``: run a published experiment's protocol and print the paper's rows beside ours.

The protocol (``gan_cli/protocols.py``, ``conf/reproduce/NAME.yaml``) gives the rows, the
settings and the published numbers. Its rows × seeds run as one Hydra sweep in
``outputs/reproduce/NAME/DATE/TIME`` (or ``hydra.sweep.dir``); a job that fails is reported and
the others go on. Then each row's final metrics are averaged over its finished seeds (mean ±
standard error) into ``reproduce.md`` in the sweep folder and a terminal table. ``--table DIR``
rebuilds them, e.g. after ``gan resume`` of a stopped job. Seeds can be added later: ``--seeds 2
--first-seed 1`` runs seeds 1 and 2 into a new folder, and ``--table OLD --table NEW`` pools the
folders' runs into one table (written into the first folder).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli import protocols
from gan_cli.errors import GanError
from gan_cli.protocols import Protocol, Row

RECORD = "reproduce.yaml"  # what was run: the protocol as it was, budget, seeds, overrides
POOLED = ("protocol", "budget", "overrides")  # what folders must share for their runs to be pooled
TABLE = "reproduce.md"


@dataclass
class Result:
    """One row of the table: the row's runs, and their final metrics over seeds."""

    row: Row
    finished: int
    asked: int
    values: dict[str, tuple[float, float | None, int]]  # key -> (mean, standard error, n)
    grid: Path | None  # the lowest finished seed's final.png


def reproduce_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="A protocol (gan reproduce --list), or your own protocol's .yaml.", show_default=False
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(min=1, help="Seeds per row, counted from --first-seed \\[default: the protocol's]."),
    ] = None,
    first_seed: Annotated[
        int,
        typer.Option(
            min=0, help="Start the seeds here, to add seeds to an earlier folder (then pool with --table)."
        ),
    ] = 0,
    budget: Annotated[
        str, typer.Option(help="paper: the published schedule; short: the protocol's CPU budget.")
    ] = "short",
    list_: Annotated[bool, typer.Option("--list", help="The protocols, their papers and CPU times.")] = False,
    rows: Annotated[
        str | None,
        typer.Option(
            help="Run only these rows, comma-separated (as named in the protocol).", show_default=False
        ),
    ] = None,
    table: Annotated[
        list[Path] | None,
        typer.Option(
            help="Rebuild the table of an earlier gan reproduce folder; repeated, pool their seeds.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a paper's experiment and print its published table beside ours (mean ± standard error
    over seeds). Extra arguments are overrides for every job (a launcher, device=cuda, ...).

    Examples:

      gan reproduce --list

      gan reproduce pacgan_table1                          # the short budget, the protocol's seeds

      gan reproduce pacgan_table1 --budget paper --seeds 10 hydra/launcher=joblib

      gan reproduce pacgan_table1 --rows gan_ring,pacgan2_ring   # what fits your time

      gan reproduce --table outputs/reproduce/pacgan_table1/DATE/TIME

      gan reproduce pacgan_table1 --seeds 2 --first-seed 3       # seeds 3 and 4, in a new folder

      gan reproduce --table FOLDER_OF_SEEDS_0_2 --table FOLDER_OF_SEEDS_3_4   # one table of five
    """
    from rich.console import Console

    console = Console()
    if list_:
        print_protocols(console)
    elif table:
        show(table, console)
    elif name is None:
        raise GanError("name a protocol (gan reproduce --list shows them), or give --list or --table DIR")
    else:
        run(name, budget, seeds, first_seed, rows, list(ctx.args), console)


def run(
    name: str,
    budget: str,
    seeds: int | None,
    first_seed: int,
    rows: str | None,
    overrides: list[str],
    console,
) -> None:
    """Check every job, claim the sweep folder, run the sweep, then write and print the table."""
    from gan_cli.commands.train import prepare, run_hydra, split_hydra_args

    protocol = protocols.load(name)
    if budget not in protocols.BUDGETS:
        raise GanError(f"--budget must be one of {', '.join(protocols.BUDGETS)}, got '{budget}'")
    overrides, flags = split_hydra_args(overrides)
    if flags:
        raise GanError(f"gan reproduce takes overrides only, not {' '.join(flags)}")
    if any(o.lstrip("+~").split("=", 1)[0] == "seed" for o in overrides):
        raise GanError("the seeds are the protocol's: use --seeds N (seeds 0..N-1) and --first-seed")
    seeds = list(range(first_seed, first_seed + (seeds or protocol.seeds)))
    if rows is not None:
        protocol.rows = [protocol.row(row.strip()) for row in rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="gan-reproduce-") as rows_dir:
        slugs = protocols.write_rows(protocol, budget, Path(rows_dir))
        # Seeds first: Hydra runs the first swept key slowest, so every row gets its first seed
        # before any row its second, and a sweep cut short still fills the whole table.
        sweep = [
            f"seed={','.join(str(s) for s in seeds)}",
            f"+{protocols.ROW_GROUP}={','.join(slugs)}",
            *overrides,
        ]
        argv, study, folder = prepare(
            sweep,
            {"--config-dir": rows_dir},
            multirun=True,
            root=Path("outputs") / "reproduce" / protocol.name,
        )
        record = {
            "protocol": name,
            "budget": budget,
            "seeds": seeds,
            "overrides": overrides,
            "rows": [row.name for row in protocol.rows],
            "published": OmegaConf.to_container(OmegaConf.load(protocols.path(name))),
        }
        (folder / RECORD).write_text(OmegaConf.to_yaml(OmegaConf.create(record)))
        console.print(
            f"{protocol.title}: {len(slugs)} rows × seeds {seed_text(seeds)}, budget {budget} "
            f"(about {protocol.budgets[budget].minutes * len(slugs) * len(seeds):.0f} CPU minutes); {folder}",
            highlight=False,
        )
        run_hydra(argv, study)
    show([folder], console)


def read_record(folder: Path) -> dict[str, Any]:
    """What ``gan reproduce`` wrote into ``folder``; the seeds as a list (older records: a count)."""
    path = folder / RECORD
    if not path.is_file():
        raise GanError(f"{folder} is not a gan reproduce folder (no {RECORD})")
    try:
        record = OmegaConf.to_container(OmegaConf.load(path))
        missing = {"protocol", "published", "rows", "seeds", "budget", "overrides"} - set(record)
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        if isinstance(record["seeds"], int):
            record["seeds"] = list(range(record["seeds"]))
        if not all(isinstance(s, int) for s in record["seeds"]):
            raise TypeError(f"seeds: {record['seeds']}")
    except (KeyError, TypeError, OmegaConfBaseException) as err:
        raise GanError(f"{path} is not a record gan reproduce wrote ({type(err).__name__}: {err})") from err
    return record


def show(folders: list[Path], console) -> None:
    """Pool the runs in ``folders`` and write ``reproduce.md`` into the first; print the table."""
    records = [read_record(folder) for folder in folders]
    for folder, record in zip(folders[1:], records[1:]):
        for key in POOLED:
            if pooled_by(record, key) != pooled_by(records[0], key):
                raise GanError(
                    f"cannot pool {folder} with {folders[0]}: their {key} differ "
                    f"({pooled_by(record, key)} against {pooled_by(records[0], key)})"
                )
    path = folders[0] / RECORD
    try:
        protocol = protocols.from_dict(records[0]["protocol"], records[0]["published"], str(path))
    except (KeyError, TypeError, OmegaConfBaseException) as err:
        raise GanError(f"{path} is not a record gan reproduce wrote ({type(err).__name__}: {err})") from err
    shown = [protocol.row(name) for record in records for name in record["rows"]]
    protocol.rows = [row for row in protocol.rows if row in shown]  # in the protocol's order
    results = aggregate(protocol, folders, records)
    (folders[0] / TABLE).write_text(markdown(protocol, records, results, folders))
    print_results(protocol, records, results, console)
    console.print(f"table: {folders[0] / TABLE}", highlight=False)


def training_overrides(record: dict[str, Any]) -> list[str]:
    """The sweep's overrides that change training, not where or how its jobs ran (Hydra's own)."""
    return [o for o in record["overrides"] if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]


def pooled_by(record: dict[str, Any], key: str) -> Any:
    """What must match to pool folders: the protocol, the budget, the training overrides."""
    return training_overrides(record) if key == "overrides" else record[key]


def aggregate(protocol: Protocol, folders: list[Path], records: list[dict[str, Any]]) -> list[Result]:
    """Each row's finished runs in ``folders``, their final metrics as mean ± standard error."""
    from gan_cli.commands.report import mean_se, read_run

    by_row: dict[str, list[tuple[Any, Any]]] = {row.name: [] for row in protocol.rows}  # (seed, run)
    seen: dict[tuple[str, Any], Path] = {}
    for path in (path for folder in folders for path in runs_in(folder)):
        config = path / ".hydra" / "config.yaml"
        job = OmegaConf.load(config) if config.is_file() else None
        row = OmegaConf.select(job, "reproduce.row") if job is not None else None
        if row not in by_row:
            continue
        run, seed = read_run(path), OmegaConf.select(job, "seed")
        if run.status == "finished":
            key = (row, seed)
            if key in seen:
                raise GanError(
                    f"{path} and {seen[key]} are both row '{row}', seed {key[1]}: pool each seed once"
                )
            seen[key] = path
        by_row[row].append((seed, run))
    results = []
    for row in protocol.rows:
        asked = sum(len(record["seeds"]) for record in records if row.name in record["rows"])
        done = [r for _, r in sorted(by_row[row.name], key=lambda sr: (sr[0], str(sr[1].path)))]
        done = [r for r in done if r.status == "finished"]
        keys = [*protocol.metrics, *protocol.also]
        values = {}
        for key in keys:
            numbers = [r.final[key] for r in done if key in r.final]
            if numbers:
                mean, se = mean_se(numbers)
                values[key] = (mean, se, len(numbers))
        grids = (r.path / "samples" / "final.png" for r in done)
        grid = next((g for g in grids if g.is_file()), None)
        results.append(Result(row, len(done), asked, values, grid))
    return results


def runs_in(folder: Path) -> list[Path]:
    """The run folders of a sweep; none yet is an empty table, not an error."""
    from gan_cli.commands.report import find_runs

    try:
        return find_runs([folder])
    except GanError:
        return []


def ours(result: Result, key: str) -> str:
    from gan_cli.commands.report import format_mean_se

    return format_mean_se(*result.values[key][:2]) if key in result.values else "—"


def paper_and_ours(protocol: Protocol, result: Result) -> list[str]:
    """The table cells of one row: each metric as published, then ours."""
    return [c for key in protocol.metrics for c in (result.row.published.get(key, "—"), ours(result, key))]


def seed_text(seeds: list[int]) -> str:
    """``0–2`` for a run of consecutive seeds, else the list: ``0, 1, 5``."""
    seeds = sorted(set(seeds))
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def header(protocol: Protocol, records: list[dict[str, Any]]) -> list[str]:
    record = records[0]
    seeds = [s for r in records for s in r["seeds"]]
    lines = [
        f"{protocol.paper}.",
        f"Published: {protocol.source}.",
        f"Ours: mean ± standard error over seeds {seed_text(seeds)}, budget `{record['budget']}` "
        f"({' '.join(protocol.budgets[record['budget']].overrides)}).",
    ]
    if record["overrides"]:
        lines.append(f"Extra overrides: {' '.join(record['overrides'])}.")
    return lines


def command(protocol: Protocol, record: dict[str, Any]) -> str:
    """The ``gan reproduce`` call that made one folder, with its training overrides."""
    seeds = record["seeds"]
    text = f"gan reproduce {protocol.name} --budget {record['budget']} --seeds {len(seeds)}"
    if seeds and seeds[0]:
        text += f" --first-seed {seeds[0]}"
    if len(record["rows"]) < len(record["published"]["rows"]):
        text += f" --rows {','.join(protocol.row(name).slug for name in record['rows'])}"
    return " ".join([text, *training_overrides(record)])


def markdown(
    protocol: Protocol, records: list[dict[str, Any]], results: list[Result], folders: list[Path]
) -> str:
    columns = [
        c
        for key in protocol.metrics
        for c in (f"{protocol.metrics[key]} (paper)", f"{protocol.metrics[key]} (ours)")
    ]
    commands = "; ".join(f"`{command(protocol, record)}`" for record in records)
    lines = [f"# {protocol.title}", "", *header(protocol, records), f"Command: {commands}"]
    if len(folders) > 1:
        lines.append(f"Pooled from: {', '.join(str(folder) for folder in folders)}.")
    lines.append("")
    lines += ["| row | runs | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for r in results:
        cells = paper_and_ours(protocol, r)
        lines.append(f"| {r.row.name} | {r.finished}/{r.asked} | " + " | ".join(cells) + " |")
    lines += [
        "",
        *also_lines(protocol, results),
        "",
        "Settings shared by every row: `" + " ".join(protocol.settings) + "`",
        "",
    ]
    lines += [f"- {r.row.name}: `{' '.join(r.row.overrides) or '(the settings alone)'}`" for r in results]
    if protocol.notes:
        lines += ["", protocol.notes.strip()]
    lines += ["", "## Samples (lowest finished seed)", ""]
    lines += [
        f"{r.row.name}:\n\n![{r.row.name}]({relative(r.grid, folders[0])})\n" for r in results if r.grid
    ]
    return "\n".join(lines) + "\n"


def relative(path: Path, folder: Path) -> str:
    """``path`` as a link from ``folder``'s table (``..`` steps for a pooled folder's grid)."""
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def also_lines(protocol: Protocol, results: list[Result]) -> list[str]:
    """The extra keys (a classifier's held-out accuracy, a metric's floor), once for the table."""
    lines = []
    for key in protocol.also:
        found = [r.values[key] for r in results if key in r.values]
        if found:
            n = sum(v[2] for v in found)
            lines.append(f"{key}: {sum(v[0] * v[2] for v in found) / n:.4g} (mean over {n} runs)")
    return lines


def print_results(protocol: Protocol, records: list[dict[str, Any]], results: list[Result], console) -> None:
    from rich.table import Table

    table = Table(title=protocol.title, title_justify="left")
    table.add_column("row")
    table.add_column("runs")
    for key in protocol.metrics:
        table.add_column(f"{protocol.metrics[key]}\npaper", justify="right")
        table.add_column(f"{protocol.metrics[key]}\nours", justify="right")
    for r in results:
        cells = paper_and_ours(protocol, r)
        table.add_row(r.row.name, f"{r.finished}/{r.asked}", *cells)
    console.print(table)
    for line in [*header(protocol, records), *also_lines(protocol, results)]:
        console.print(line, highlight=False, markup=False)


def print_protocols(console) -> None:
    from rich.table import Table

    table = Table(title="gan reproduce NAME [--budget paper|short] [--seeds N]", title_justify="left")
    for column in ("name", "experiment", "metrics", "rows × seeds", "short: CPU min", "paper: CPU min"):
        table.add_column(column)
    for name in protocols.names():
        p = protocols.load(name)
        runs = len(p.rows) * p.seeds
        minutes = [
            f"{p.budgets[b].minutes:g}/run, {p.budgets[b].minutes * runs:.0f} all" for b in ("short", "paper")
        ]
        table.add_row(name, p.title, ", ".join(p.metrics), f"{len(p.rows)} × {p.seeds}", *minutes)
    console.print(table)
