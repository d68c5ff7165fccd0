"""``gan report``: compare runs — a table in the terminal, and a Markdown report with sample grids
and metric curves.

A run is a folder holding ``.hydra/`` or ``metrics.jsonl``; a multirun folder (or any folder)
is searched for them. Nothing inside a run folder is ever written: the report goes to its own
folder (default ``DIR/report``) and links to the runs' images by relative paths. An earlier
report there is rewritten; any other file under a name the report would write (report.md,
curve_<metric>.png) makes it refuse before anything is written.

Sort order when ``--ascending/--descending`` is not given: ascending (smallest first) for
``run``, ``wall``, losses (keys ending in ``loss``), divergences and distances (keys ending in
``_kl``, ``fid``, ``kid``); descending for everything else (``modes_covered``,
``high_quality_pct``, ``images_per_sec``...). Runs without the key come last either way. The
trials of an Optuna study (``gan_cli/search.py``) are sorted by its objective, best first.

Runs whose overrides are the same but for ``seed=`` form a seed group. When some group holds
runs of different seeds, a second table follows the runs': one row per group with each metric
as mean ± standard error over the group's runs, sorted by the mean with the rules above.
``seed_groups``, ``mean_se`` and ``format_mean_se`` are pure, for other commands to aggregate
over seeds too (``gan reproduce``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from gan_cli import outputs, plots, search
from gan_cli.errors import GanError
from gan_cli.options import ctrl_c_exits
from gan_cli.plots import format_value

RUNNING_MINUTES = 10.0  # an unfinished run whose log changed this recently is "running"
MTIME_SLACK_SEC = 2.0  # final.png is written after the last metrics record; allow for clock rounding
MARKER = "<!-- written by gan report: rewritten each time it runs -->"  # report.md's first line
SORT_COLUMNS = ("run", "status", "step", "wall")
IDENTITY = ("run", "overrides", "status", "step", "wall time")  # the table's first columns
NOT_A_METRIC = ("step", "elapsed_sec")  # elapsed_sec is the wall-time column
LOWER_IS_BETTER_SUFFIXES = ("loss", "_kl", "fid", "kid")
STOPPED_NOTE = "stopped: crashed, killed or interrupted before train.steps (continue it with gan resume RUN)"
STATUS_STYLES = {"finished": "green", "running": "yellow", "stopped": "red"}
SEED_OVERRIDE = re.compile(r"\+{0,2}seed=(.*)")  # seed=1, +seed=1 and ++seed=1 all set the seed
GROUP_IDENTITY = ("overrides", "n", "status")  # the seed-group table's first columns
GROUPS_NOTE = (
    "Runs that differ only by seed: each metric is the mean ± standard error (sample standard"
    " deviation / √n) over the group's runs that have it; n is the number of runs."
)


@dataclass
class Run:
    """What a run folder says about itself."""

    path: Path
    overrides: list[str]
    status: str  # finished, running, stopped (crashed or interrupted)
    step: int | None  # last step with a metrics record
    total_steps: int | None  # train.steps of .hydra/config.yaml
    wall_sec: float | None  # training time, summed over resumed segments
    final: dict[str, float]  # last value of every numeric key
    curves: dict[str, list[tuple[int, float]]]  # key -> (step, value) in file order
    eval_keys: list[str]  # keys of evaluation records (those without elapsed_sec)
    name: str = ""  # set once all runs are known: the path relative to their common folder
    label: str = ""  # the overrides that tell it apart from the other runs
    varying: list[str] = field(default_factory=list)  # those overrides, as a list
    seed: str | None = None  # the seed override's value, else config.yaml's seed; None if unknown

    @property
    def grid(self) -> tuple[Path, str] | None:
        """The final sample grid, else the newest step grid (with a caption saying which)."""
        from gan_cli.animation import progress_frames

        frames = progress_frames(self.path / "samples")
        if not frames:
            return None
        last = frames[-1]
        return last, "final" if last.name == "final.png" else f"step {int(last.stem.split('_')[1])}"


# ---------------------------------------------------------------- finding and reading runs


def is_run(folder: Path) -> bool:
    return (folder / ".hydra").is_dir() or (folder / "metrics.jsonl").is_file()


def natural_key(path: Path) -> list:
    """Job folders 2 before 10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders among ``paths`` and below them, in natural order, each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise GanError(f"no such folder: {path}")
        if not path.is_dir():
            raise GanError(f"not a folder: {path} (give a run folder or a multirun folder)")
        runs = []
        for top, dirs, _ in os.walk(path):
            if is_run(Path(top)):
                runs.append(Path(top))
                dirs.clear()  # a run holds no runs
            else:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
        if not runs:
            raise GanError(f"no runs in {path} (a run folder has .hydra/ or metrics.jsonl)")
        found.update((r.resolve(), None) for r in runs)
    return sorted(found, key=natural_key)


def warn(message: str) -> None:
    """One line on stderr; the report goes on."""
    import typer

    typer.echo(f"warning: {message}", err=True)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a metrics.jsonl. A last line cut off (a running job is writing it, or
    one was killed mid-write) is dropped with a warning, as are other unreadable lines."""
    records = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    lines = text.splitlines()
    bad = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(number)
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    if bad and bad[-1] == len(lines) and not text.endswith("\n"):
        warn(f"{path}: its last line is cut off (still being written, or the run was killed); skipped")
        bad.pop()
    if bad:
        listed = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        warn(f"{path}: {len(bad)} unreadable line(s) skipped (line {listed})")
    return records


def read_yaml(path: Path) -> Any:
    """A YAML file, or None when missing or unreadable (a report must not stop at one bad run)."""
    import yaml  # PyYAML: a dependency of omegaconf

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_run(path: Path, now: float | None = None, running_minutes: float = RUNNING_MINUTES) -> Run:
    overrides = read_yaml(path / ".hydra" / "overrides.yaml")
    config = read_yaml(path / ".hydra" / "config.yaml")
    train = config.get("train") if isinstance(config, dict) else None
    total = train.get("steps") if isinstance(train, dict) else None
    total = total if isinstance(total, int) else None
    records = read_records(path / "metrics.jsonl")

    final: dict[str, float] = {}
    curves: dict[str, list[tuple[int, float]]] = {}
    eval_keys: list[str] = []
    wall, segment = 0.0, None
    for record in records:
        for key, value in record.items():
            if key in NOT_A_METRIC or not is_number(value):
                continue
            final[key] = float(value)
            curves.setdefault(key, []).append((record["step"], float(value)))
            if "elapsed_sec" not in record and key not in eval_keys:
                eval_keys.append(key)
        elapsed = record.get("elapsed_sec")
        if is_number(elapsed):
            if segment is not None and elapsed < segment:  # the clock restarts when a run resumes
                wall += segment
            segment = elapsed
    step = max((r["step"] for r in records), default=None)
    overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    return Run(
        path=path,
        overrides=overrides,
        status=status_of(path, step, total, now, running_minutes),
        step=step,
        total_steps=total,
        wall_sec=wall + segment if segment is not None else None,
        final=final,
        curves=curves,
        eval_keys=eval_keys,
        seed=seed_of(overrides, config),
    )


def seed_of(overrides: list[str], config: Any) -> str | None:
    """The seed as the override wrote it; without one, config.yaml's (the default seed)."""
    for override in overrides:
        if match := SEED_OVERRIDE.fullmatch(override):
            return match.group(1)
    seed = config.get("seed") if isinstance(config, dict) else None
    return None if seed is None else str(seed)


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def status_of(
    path: Path, step: int | None, total: int | None, now: float | None, running_minutes: float
) -> str:
    """finished: final.png and last.pt exist, the last step reached train.steps, and final.png is
    not older than metrics.jsonl (a finished run continued with ``gan resume`` is not finished);
    running: otherwise, when metrics.jsonl, train.log or last.pt changed in the last minutes;
    stopped: everything else — crashed, killed or interrupted."""
    final, metrics = mtime(path / "samples" / "final.png"), mtime(path / "metrics.jsonl")
    if (
        final is not None
        and (path / "checkpoints" / "last.pt").is_file()
        and (total is None or (step is not None and step >= total))
        and (metrics is None or final + MTIME_SLACK_SEC >= metrics)
    ):
        return "finished"
    now = time.time() if now is None else now
    changed = [mtime(path / name) for name in ("metrics.jsonl", "train.log", "checkpoints/last.pt")]
    if any(t is not None and now - t <= 60 * running_minutes for t in changed):
        return "running"
    return "stopped"


def name_runs(runs: list[Run]) -> None:
    """Names relative to the runs' common folder; labels from the overrides not all runs share."""
    common = Path(os.path.commonpath([r.path for r in runs]))
    shared = set.intersection(*(set(r.overrides) for r in runs)) if len(runs) > 1 else set()
    for run in runs:
        run.name = str(run.path.relative_to(common)) if run.path != common else run.path.name
        run.varying = [o for o in run.overrides if o not in shared]
        run.label = " ".join(run.varying) or run.name
    labels = [r.label for r in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            run.label = f"{run.name}: {run.label}" if run.varying else run.name


# ---------------------------------------------------------------- sorting and the table


def lower_is_better(key: str) -> bool:
    return key in ("run", "wall") or key.endswith(LOWER_IS_BETTER_SUFFIXES)


def sort_value(run: Run, key: str) -> Any:
    if key == "run":
        return natural_key(Path(run.name))
    if key == "status":
        return run.status
    if key == "step":
        return run.step
    if key == "wall":
        return run.wall_sec
    value = run.final.get(key)
    return None if value is None or math.isnan(value) else value


def sort_runs(runs: list[Run], key: str, ascending: bool | None = None) -> list[Run]:
    """Sorted by ``key`` (a metric or run/status/step/wall); runs without it last."""
    valid = [*SORT_COLUMNS, *metric_keys(runs)]
    if key not in valid:
        from gan_cli.registry import did_you_mean

        raise GanError(f"cannot sort by '{key}'{did_you_mean(key, valid)}; valid: {', '.join(valid)}")
    ascending = lower_is_better(key) if ascending is None else ascending
    have = [r for r in runs if sort_value(r, key) is not None]
    missing = [r for r in runs if sort_value(r, key) is None]
    return sorted(have, key=lambda r: sort_value(r, key), reverse=not ascending) + missing


def metric_keys(runs: list[Run]) -> list[str]:
    """Every metric any run has: evaluation metrics first, then the training scalars."""
    keys: dict[str, None] = {}
    for run in runs:
        keys.update((k, None) for k in run.eval_keys)
    for run in runs:
        keys.update((k, None) for k in run.final)
    return list(keys)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {sec:02d} s"


def table_rows(runs: list[Run], keys: list[str], code: bool = False) -> list[list[str]]:
    """One row per run: run, overrides, status, step, wall time, then ``keys``. The overrides
    are those that differ between runs (all of them for a single run), in backticks if ``code``."""
    rows = []
    for run in runs:
        step = "—" if run.step is None else str(run.step)
        if run.total_steps is not None:
            step += f"/{run.total_steps}"
        overrides = run.overrides if len(runs) == 1 else run.varying
        rows.append(
            [
                run.name,
                " ".join(f"`{o}`" if code else o for o in overrides),
                run.status,
                step,
                format_duration(run.wall_sec),
                *(format_value(run.final.get(k)) for k in keys),
            ]
        )
    return rows


def shared_overrides(runs: list[Run]) -> list[str]:
    return [o for o in runs[0].overrides if o not in runs[0].varying] if len(runs) > 1 else []


# ---------------------------------------------------------------- seed groups


@dataclass
class Group:
    """Runs of one configuration, each with its seed: their overrides are the same but for seed."""

    overrides: list[str]  # the runs' overrides, the seed override left out
    runs: list[Run]

    def values(self, key: str) -> list[float]:
        """The final ``key`` of each run that has one (NaN counts as none, as when sorting)."""
        return [v for r in self.runs if (v := r.final.get(key)) is not None and not math.isnan(v)]


def without_seed(overrides: list[str]) -> list[str]:
    return [o for o in overrides if not SEED_OVERRIDE.fullmatch(o)]


def seed_groups(runs: list[Run]) -> list[Group]:
    """``runs`` grouped by their overrides with ``seed=`` left out; groups in the order of their
    first run, runs in the given order. Every run is in one group: alone, if no other run
    differs from it only by seed."""
    groups: dict[tuple[str, ...], Group] = {}
    for run in runs:
        rest = without_seed(run.overrides)
        groups.setdefault(tuple(rest), Group(rest, [])).runs.append(run)
    return list(groups.values())


def mean_se(values: list[float]) -> tuple[float, float | None]:
    """Mean and standard error of the mean (sample standard deviation, ddof=1, over √n) of a
    non-empty list; the error is None for a single value, which has no spread to measure."""
    if not values:
        raise ValueError("mean_se needs at least one value")
    n = len(values)
    mean = sum(values) / n  # sum, not math.fsum: fsum raises on inf - inf where this gives nan
    if n == 1:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def format_mean_se(mean: float, se: float | None) -> str:
    """``6.333 ± 0.4055`` in format_value's style; just the mean when there is no finite error
    (one run, or an infinite value among them)."""
    if se is None or not math.isfinite(se):
        return format_value(mean)
    return f"{format_value(mean)} ± {format_value(se)}"


def group_cell(group: Group, key: str) -> str:
    values = group.values(key)
    return format_mean_se(*mean_se(values)) if values else format_value(None)


def differs_by_seed(group: Group) -> bool:
    """Two or more runs with different seeds (runs repeated with the same seed are no seed group)."""
    return len({r.seed for r in group.runs}) > 1


def group_mean(group: Group, key: str) -> float | None:
    values = [v for r in group.runs if (v := sort_value(r, key)) is not None]
    mean = mean_se(values)[0] if values else None
    return None if mean is None or math.isnan(mean) else mean


def sort_groups(groups: list[Group], key: str, ascending: bool | None = None) -> list[Group]:
    """Sorted by the mean of ``key`` over each group's runs, in the direction ``sort_runs`` uses;
    groups without it last. By run or status, the groups keep the order of their first run."""
    if key in ("run", "status"):
        return groups
    ascending = lower_is_better(key) if ascending is None else ascending
    have = [g for g in groups if group_mean(g, key) is not None]
    missing = [g for g in groups if group_mean(g, key) is None]
    return sorted(have, key=lambda g: group_mean(g, key), reverse=not ascending) + missing


def report_groups(runs: list[Run], sort: str | None, ascending: bool | None) -> list[Group]:
    """The groups a report shows: none unless some group differs by seed, else all, sorted."""
    groups = seed_groups(runs)
    if not any(differs_by_seed(g) for g in groups):
        return []
    return sort_groups(groups, sort, ascending) if sort else groups


def distinct_overrides(groups: list[Group]) -> list[list[str]]:
    """Each group's overrides less those every group has (all of them when there is one group)."""
    every = set.intersection(*(set(g.overrides) for g in groups)) if len(groups) > 1 else set()
    return [[o for o in g.overrides if o not in every] for g in groups]


def group_rows(groups: list[Group], keys: list[str], code: bool = False) -> list[list[str]]:
    """One row per group: overrides (seed left out, and those of every group too unless there is
    one group), n, how many of the n finished, then mean ± standard error of each of ``keys``."""
    rows = []
    for group, overrides in zip(groups, distinct_overrides(groups)):
        finished = sum(r.status == "finished" for r in group.runs)
        rows.append(
            [
                " ".join(f"`{o}`" if code else o for o in overrides),
                str(len(group.runs)),
                f"{finished}/{len(group.runs)} finished",
                *(group_cell(group, k) for k in keys),
            ]
        )
    return rows


# ---------------------------------------------------------------- curves, drawn with Pillow


def link(target: Path, out: Path) -> str:
    """A relative, URL-quoted link from the report folder to ``target``."""
    return quote(Path(os.path.relpath(target, out)).as_posix())


def md_cell(s: str) -> str:
    return s.replace("|", "\\|") or " "


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]


def curve_name(key: str) -> str:
    return "curve_" + re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".png"


def written_by_report(path: Path) -> bool:
    """A report.md that starts with ``MARKER``, or a curve with gan report's PNG text chunk."""
    if path.suffix == ".md":
        try:
            with path.open(errors="replace") as f:
                return f.read(len(MARKER)) == MARKER
        except OSError:
            return False
    return plots.written_by_report(path)


def check_targets(out: Path, names: list[str]) -> None:
    """Refuse, before anything is written, a report folder where a file the report would write
    exists and was not written by gan report (an earlier report is rewritten)."""
    if is_run(out):
        raise GanError(f"{out} is a run folder; choose another --out for the report")
    if out.exists() and not out.is_dir():
        raise GanError(f"{out} exists and is not a folder; choose another --out")
    for name in names:
        target = out / name
        if (target.exists() or target.is_symlink()) and not (target.is_file() and written_by_report(target)):
            raise GanError(
                f"{target} exists and was not written by gan report; choose another --out (nothing was written)"
            )


def write_report(
    runs: list[Run], out: Path, sort: str | None, ascending: bool | None, intro: tuple[str, ...] = ()
) -> Path:
    """``out/report.md`` (table, sample grids side by side, curves) and ``out/curve_<key>.png``.

    Every file is drawn in a hidden folder inside ``out`` and moved into place at the end,
    report.md last: an interrupted report leaves the earlier one (or nothing) behind."""
    keys = metric_keys(runs)
    target = out / "report.md"
    check_targets(out, ["report.md", *(curve_name(k) for k in keys)])
    try:
        created = outputs.make_parents(target)
    except OSError as err:
        raise GanError(f"cannot create the report folder {out}: {err.strerror or err}") from err
    drawn = None
    try:
        with ctrl_c_exits("the report was not written"):  # after the cleanup below
            try:
                drawn = Path(tempfile.mkdtemp(dir=out, prefix=".report.", suffix=".tmp"))
                names = draw_report(runs, out, drawn, keys, sort, ascending, intro)
                for name in names:  # report.md is the last
                    os.replace(drawn / name, out / name)
            finally:
                if drawn is not None:
                    shutil.rmtree(drawn, ignore_errors=True)
                if not target.exists():
                    outputs.remove_empty(created)
    except OSError as err:
        raise GanError(f"cannot write the report in {out}: {err.strerror or err}") from err
    return target


def draw_report(
    runs: list[Run],
    out: Path,
    folder: Path,
    keys: list[str],
    sort: str | None,
    ascending: bool | None,
    intro: tuple[str, ...] = (),
) -> list[str]:
    """report.md and the curves of ``keys``, drawn into ``folder`` with links as seen from
    ``out``; returns the names written, report.md last. ``intro``: paragraphs under the title."""
    lines = [MARKER, "", f"# {len(runs)} run{'s' * (len(runs) != 1)}", ""]
    for paragraph in intro:
        lines += [paragraph, ""]
    if sort:
        order = lower_is_better(sort) if ascending is None else ascending
        lines += [f"Sorted by `{sort}`, {'ascending' if order else 'descending'}.", ""]
    if shared := shared_overrides(runs):
        lines += ["Overrides of every run: " + " ".join(f"`{o}`" for o in shared) + ".", ""]
    lines += md_table([*IDENTITY, *keys], table_rows(runs, keys, code=True))
    if any(r.status == "stopped" for r in runs):
        lines += ["", STOPPED_NOTE]
    if groups := report_groups(runs, sort, ascending):
        lines += ["", "## Seed groups", "", GROUPS_NOTE, ""]
        lines += md_table([*GROUP_IDENTITY, *keys], group_rows(groups, keys, code=True))
    lines += [
        "",
        "## Samples",
        "",
        "The final sample grid of each run (or its newest one, if unfinished).",
        "",
    ]
    for start in range(0, len(runs), 4):  # four grids to a row
        chunk = runs[start : start + 4]
        lines.append("| " + " | ".join(md_cell(r.label) for r in chunk) + " |")
        lines.append("|" + "---|" * len(chunk))
        cells = []
        for run in chunk:
            grid = run.grid
            cell = f"![{run.name}]({link(grid[0], out)})<br>{grid[1]}" if grid else "no samples yet"
            gif = run.path / "samples" / "progress.gif"
            if gif.exists():
                cell += f" · [training]({link(gif, out)})"
            cells.append(md_cell(cell))
        lines += ["| " + " | ".join(cells) + " |", ""]

    lines += ["## Curves", ""]
    by_name = sorted(runs, key=lambda r: natural_key(Path(r.name)))  # colours do not change with --sort
    names = []
    for key in keys:
        series = [(r.label, r.curves[key]) for r in by_name if key in r.curves]
        name = curve_name(key)
        if plots.plot_curves(key, series, folder / name):
            lines += [f"![{key}]({quote(name)})", ""]
            names.append(name)
    (folder / "report.md").write_text("\n".join(lines))
    return [*names, "report.md"]


# ---------------------------------------------------------------- the command


def constant_keys(runs: list[Run], keys: list[str], sort: str | None) -> list[str]:
    """The metrics other than ``sort`` with one value in every run (modes_total...): the terminal
    names them in a caption rather than give each a column."""
    if len(runs) < 2:
        return []
    return [k for k in keys if k != sort and len({format_value(r.final.get(k)) for r in runs}) == 1]


def column_widths(header: list[str], rows: list[list[str]]) -> list[int]:
    """Each column's text, a space either side and the column divider."""
    return [max(len(cell) for cell in [name, *(r[i] for r in rows)]) + 3 for i, name in enumerate(header)]


def fold_width(overrides: list[str]) -> int:
    """The overrides column's narrowest: the widest override, up to 30 characters."""
    return min(max(map(len, overrides), default=0), 30)


def overrides_width(column: int, overrides: list[str]) -> int:
    """The room the overrides column needs: whole overrides on a line each where they fit."""
    return min(column, max(fold_width(overrides), 9) + 3)


def fitting_keys(keys: list[str], widths: list[int], room: int, sort: str | None) -> list[str]:
    """The metric columns (``widths`` in ``keys`` order) that fit in ``room``, the sort key first."""
    shown = []
    for key in sorted(keys, key=lambda k: k != sort):
        if widths[keys.index(key)] <= room:
            shown.append(key)
            room -= widths[keys.index(key)]
    return shown


def rich_table(
    identity: tuple[str, ...],
    keys: list[str],
    rows: list[list[str]],
    shown: list[str],
    title: str,
    notes: list[str],
    overrides: list[str],
):
    """The ``identity`` columns and the ``shown`` metric columns of ``rows``: the overrides fold
    between whole overrides, statuses in their colours, metric values right-aligned."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    header = [*identity, *keys]
    columns = [*range(len(identity)), *(len(identity) + keys.index(k) for k in keys if k in shown)]
    table = Table(title=title, caption="\n".join(notes) or None, box=box.SIMPLE_HEAD)
    for column in columns:
        if header[column] == "overrides":  # whole overrides on a line each where they fit in 30 characters
            table.add_column("overrides", overflow="fold", min_width=fold_width(overrides))
        else:
            table.add_column(
                header[column], no_wrap=True, justify="right" if column >= len(identity) else "left"
            )
    status = header.index("status")
    for row in rows:
        # Text, not markup: an override such as trick=[a,b] must print as written.
        table.add_row(
            *(Text(row[c], style=STATUS_STYLES.get(row[c], "") if c == status else "") for c in columns)
        )
    return table


def print_table(runs: list[Run], console, title: str, sort: str | None = None) -> None:
    """The table of ``runs``, fitted to the terminal: metrics with one value in every run
    (modes_total...) move to the caption, and metric columns that do not fit are named there
    (the sort key is kept first) — report.md has them all."""
    keys = metric_keys(runs)
    rows = table_rows(runs, keys)
    same = constant_keys(runs, keys, sort)
    overrides = [o for r in runs for o in (r.overrides if len(runs) == 1 else r.varying)]
    widths = column_widths([*IDENTITY, *keys], rows)
    room = console.width - 1 - sum(widths[i] for i in (0, 2, 3, 4)) - overrides_width(widths[1], overrides)
    varied = [k for k in keys if k not in same]
    shown = fitting_keys(varied, [widths[len(IDENTITY) + keys.index(k)] for k in varied], room, sort)

    notes = []
    if len(runs) > 1:
        every = shared_overrides(runs) + [f"{k}={format_value(runs[0].final.get(k))}" for k in same]
        notes += ["every run: " + " ".join(every)] if every else []
    if any(r.status == "stopped" for r in runs):
        notes.append(STOPPED_NOTE)
    hidden = [k for k in varied if k not in shown]
    notes += [f"not shown here (see report.md): {', '.join(hidden)}"] if hidden else []
    console.print(rich_table(IDENTITY, keys, rows, shown, title, notes, overrides))


def print_groups(groups: list[Group], runs: list[Run], console, sort: str | None = None) -> None:
    """The seed groups' table, under the runs' table and fitted to the terminal the same way:
    without the metrics that table names in its caption, and naming the columns that do not fit."""
    keys = metric_keys(runs)
    keys = [k for k in keys if k not in constant_keys(runs, keys, sort)]
    rows = group_rows(groups, keys)
    overrides = [o for group in distinct_overrides(groups) for o in group]
    widths = column_widths([*GROUP_IDENTITY, *keys], rows)
    room = console.width - 1 - sum(widths[1:3]) - overrides_width(widths[0], overrides)
    shown = fitting_keys(keys, widths[len(GROUP_IDENTITY) :], room, sort)
    hidden = [k for k in keys if k not in shown]
    notes = [f"not shown here (see report.md): {', '.join(hidden)}"] if hidden else []
    title = f"{len(groups)} seed group{'s' * (len(groups) != 1)}: mean ± standard error over seeds"
    console.print(rich_table(GROUP_IDENTITY, keys, rows, shown, title, notes, overrides))


def report_command(
    paths: list[Path],
    sort: str | None = None,
    ascending: bool | None = None,
    out: Path | None = None,
    running_minutes: float = RUNNING_MINUTES,
    console=None,
) -> Path:
    """Read the runs under ``paths``, print the table, write the report; returns report.md's path."""
    from rich.console import Console

    if not paths:
        raise GanError("give at least one run folder or multirun folder")
    now = time.time()
    runs = [read_run(p, now, running_minutes) for p in find_runs(paths)]
    name_runs(runs)
    study = search.read_study(paths, [r.path for r in runs])
    if study is not None and sort is None and study.objective in metric_keys(runs):  # best first
        sort = study.objective
        ascending = study.direction == "minimize" if ascending is None else ascending
    if sort is not None:
        runs = sort_runs(runs, sort, ascending)
    if out is None:
        out = Path(os.path.commonpath([p.resolve() for p in paths])) / "report"
    target = write_report(runs, out, sort, ascending, (study.describe(),) if study else ())

    console = console or Console()
    title = f"{len(runs)} run{'s' * (len(runs) != 1)}"
    if sort is not None:
        order = lower_is_better(sort) if ascending is None else ascending
        title += f", by {sort} ({'ascending' if order else 'descending'})"
    print_table(runs, console, title, sort)
    if groups := report_groups(runs, sort, ascending):
        print_groups(groups, runs, console, sort)
    if study is not None:
        console.print(study.describe(), highlight=False, markup=False)
    console.print(f"report: {target}", highlight=False)
    return target


def report(
    paths: Annotated[
        list[Path], typer.Argument(help="Multirun folders, run folders, or folders that hold runs.")
    ],
    sort: Annotated[
        str | None, typer.Option("--sort", "-s", help="A metric, or run, status, step, wall.")
    ] = None,
    ascending: Annotated[
        bool | None,
        typer.Option(
            "--ascending/--descending",
            help="Sort order \\[default: ascending for run, wall, *loss, *_kl, fid, kid; else descending].",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder \\[default: DIR/report].")
    ] = None,
    running_minutes: Annotated[
        float, typer.Option(min=0, help="An unfinished run whose files changed this recently is 'running'.")
    ] = 10.0,
) -> None:
    """Compare runs: a table of their final metrics, and a Markdown report with sample grids and curves.

    Examples:

      gan report outputs/multirun/2026-11-22/20-31-05               # every job of a sweep

      gan report outputs/multirun/2026-11-22/20-31-05 --sort modes_covered

      gan report outputs/2026-11-22 --sort g_loss --descending      # every run of a day

      gan report runA runB --out cmp/                               # any runs, report in cmp/

    The report (report.md, curve_<metric>.png) goes to DIR/report; run folders are only read.
    An earlier report there is rewritten; if any other file has a name the report would write,
    nothing is written and the command says which. Runs that crashed or are still running show
    as 'stopped' or 'running'.
    """
    report_command(paths, sort, ascending, out, running_minutes)
