"""`gan report` and the training GIF, on run folders built by hand (and one real sweep, slow)."""

import io
import json
import math
import os
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from rich.console import Console

from gan_cli.animation import HOLD_MS, write_progress_gif
from gan_cli.commands.report import (
    MARKER,
    find_runs,
    format_mean_se,
    mean_se,
    name_runs,
    read_run,
    report_command,
    report_groups,
    seed_groups,
    sort_groups,
    sort_runs,
)
from gan_cli.errors import GanError
from gan_cli.plots import CURVE_SIZE, nice_ticks, plot_curves
from tests.conftest import ctrl_c_once_started, run_gan

HOUR = 3600


def grid(value: int, size: int = 12) -> Image.Image:
    """A small RGB picture that differs per ``value``: a colour and a diagonal stripe."""
    img = Image.new("RGB", (size, size), (value, 255 - value, 40))
    for i in range(size):
        img.putpixel((i, (i + value) % size), (255, 255, 255))
    return img


def train_record(step: int, d_loss: float, elapsed: float) -> dict:
    return {"step": step, "d_loss": d_loss, "g_loss": 1.0, "images_per_sec": 100.0, "elapsed_sec": elapsed}


def make_run(
    folder: Path,
    overrides: list[str],
    records: list[dict],
    steps: int = 100,
    grids: tuple[int, ...] = (0, 50, 100),
    final: bool = True,
    ckpt: bool = True,
    age_sec: float = HOUR,
    tail: str = "",
) -> Path:
    """A run folder as training leaves it; every file ``age_sec`` old, final.png written last."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / ".hydra" / "config.yaml").write_text(f"seed: 0\ntrain:\n  steps: {steps}\n")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    (folder / "train.log").write_text("log\n")
    (folder / "samples").mkdir()
    for step in grids:
        grid(step).save(folder / "samples" / f"step_{step:07d}.png")
    if final:
        grid(grids[-1] + 1).save(folder / "samples" / "final.png")
    if ckpt:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.pt").write_bytes(b"weights")
    then = time.time() - age_sec
    for path in folder.rglob("*"):
        os.utime(path, (then, then))
    if final:
        os.utime(folder / "samples" / "final.png", (then + 1, then + 1))
    return folder


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun folder: job 0 finished, 1 crashed at step 50, 2 still running."""
    root = tmp_path / "multirun" / "2026-11-22" / "20-31-05"
    common = ["+experiment=ring", "train.steps=100"]
    make_run(
        root / "0",
        [*common, "trick=none"],
        [
            train_record(50, 0.9, 1.0),
            train_record(100, 0.7, 2.0),
            {"step": 50, "modes_covered": 3, "mode_kl": 0.9},
            {"step": 100, "modes_covered": 5, "mode_kl": 0.5},
        ],
    )
    make_run(
        root / "1",
        [*common, "trick=ganhacks"],
        [train_record(50, 0.6, 4.0), {"step": 50, "modes_covered": 7, "mode_kl": 0.1}],
        grids=(0, 50),
        final=False,
    )
    make_run(
        root / "2",
        [*common, "trick=wgan"],
        [train_record(50, 1.2, 1.5), {"step": 50, "modes_covered": 2, "mode_kl": float("inf")}],
        grids=(0,),
        final=False,
        ckpt=False,
        age_sec=30,
        tail='{"step": 100, "d_lo',  # a half-written line, as a running job leaves it
    )
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def read_all(root: Path) -> list:
    runs = [read_run(p) for p in find_runs([root])]
    name_runs(runs)
    return runs


def test_discovery_finds_jobs_in_natural_order_and_each_run_once(tmp_path):
    root = tmp_path / "multirun"
    for job in (10, 2, 0):
        make_run(root / str(job), [f"seed={job}"], [train_record(10, 1.0, 1.0)])
    (root / "report").mkdir()  # a previous report is not a run
    assert [p.name for p in find_runs([root])] == ["0", "2", "10"]
    assert find_runs([root / "2"]) == [(root / "2").resolve()]
    assert [p.name for p in find_runs([root / "10", tmp_path, root / "10"])] == ["0", "2", "10"]


def test_each_run_reads_its_overrides_last_metrics_steps_wall_time_and_status(sweep):
    done, crashed, running = read_all(sweep)
    assert (done.name, done.status, done.step, done.total_steps) == ("0", "finished", 100, 100)
    assert done.final == {
        "d_loss": 0.7,
        "g_loss": 1.0,
        "images_per_sec": 100.0,
        "modes_covered": 5,
        "mode_kl": 0.5,
    }
    assert done.curves["modes_covered"] == [(50, 3.0), (100, 5.0)]
    assert done.eval_keys == ["modes_covered", "mode_kl"] and done.wall_sec == 2.0
    assert done.varying == ["trick=none"] and done.label == "trick=none"
    assert (crashed.status, crashed.step, crashed.grid[1]) == ("stopped", 50, "step 50")
    assert (running.status, running.step) == ("running", 50)  # the half-written record is skipped
    assert running.final["mode_kl"] == float("inf") and done.grid[0].name == "final.png"


def test_wall_time_adds_up_the_segments_of_a_resumed_run(tmp_path):
    records = [train_record(10, 1, 5.0), train_record(20, 1, 9.0), train_record(30, 1, 2.0)]
    run = read_run(make_run(tmp_path / "r", [], records, steps=30))
    assert run.wall_sec == 11.0 and run.status == "finished"


def test_a_finished_run_continued_by_resume_is_not_finished(tmp_path):
    folder = make_run(tmp_path / "r", [], [train_record(100, 1, 1.0)])
    with open(folder / "metrics.jsonl", "a") as f:  # resumed with train.steps=200: a newer record
        f.write(json.dumps(train_record(150, 1, 1.0)) + "\n")
    assert read_run(folder).status == "running"
    assert read_run(folder, now=time.time() + HOUR).status == "stopped"


def test_sort_directions_follow_the_metric_and_missing_values_go_last(sweep):
    runs = read_all(sweep)
    order = lambda key, asc=None: [r.name for r in sort_runs(runs, key, asc)]  # noqa: E731
    assert order("modes_covered") == ["1", "0", "2"]  # more modes first
    assert order("modes_covered", True) == ["2", "0", "1"]
    assert order("mode_kl") == ["1", "0", "2"]  # lower KL first; inf is last
    assert order("d_loss") == ["1", "0", "2"] and order("wall") == ["2", "0", "1"]
    for r in runs[1:]:
        del r.final["d_loss"]
    assert order("d_loss", False) == ["0", "1", "2"]
    with pytest.raises(GanError, match="cannot sort by 'mode_covered' \\(did you mean 'modes_covered'"):
        sort_runs(runs, "mode_covered")


def snapshot(root: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime) for p in root.rglob("*") if p.is_file()}


def test_report_prints_the_table_and_writes_markdown_with_grids_and_curves(sweep):
    before = snapshot(sweep)
    console = Console(file=io.StringIO(), width=200)
    target = report_command([sweep], sort="modes_covered", console=console)
    printed = console.file.getvalue()
    assert target == sweep / "report" / "report.md"
    assert snapshot(sweep / "0") == {p: v for p, v in before.items() if "/0/" in str(p)}  # runs untouched

    lines = printed.splitlines()
    rows = [next(line for line in lines if f"trick={t}" in line) for t in ("ganhacks", "none", "wgan")]
    assert lines.index(rows[0]) < lines.index(rows[1]) < lines.index(rows[2])
    assert "stopped" in rows[0] and "50/100" in rows[0]
    assert "finished" in rows[1] and "2.0 s" in rows[1] and "running" in rows[2]
    assert "every run: +experiment=ring train.steps=100" in printed and "crashed" in printed

    md = target.read_text()
    assert md.startswith(MARKER)
    table = [line for line in md.split("## Samples")[0].splitlines() if line.startswith("| ")][1:]
    assert table[0].startswith("| 1 | `trick=ganhacks` | stopped | 50/100 |")
    assert table[1].startswith("| 0 | `trick=none` | finished | 100/100 | 2.0 s | 5 | 0.5 |")
    assert table[2].startswith("| 2 | `trick=wgan` | running | 50/100 | 1.5 s | 2 | inf | 1.2 |")
    links = [unquote(part.split(")")[0]) for part in md.split("](")[1:]]
    grids = [link for link in links if "samples" in link]
    assert grids == [
        "../1/samples/step_0000050.png",
        "../0/samples/final.png",
        "../2/samples/step_0000000.png",
    ]
    for link in links:
        assert (target.parent / link).is_file(), link
    curves = sorted(p.name for p in target.parent.glob("curve_*.png"))
    assert curves == sorted(
        f"curve_{k}.png" for k in ("modes_covered", "mode_kl", "d_loss", "g_loss", "images_per_sec")
    )
    for name in curves:
        with Image.open(target.parent / name) as img:
            img.verify()
        with Image.open(target.parent / name) as img:
            assert img.format == "PNG" and img.size == CURVE_SIZE
            assert len(img.convert("RGB").getcolors(CURVE_SIZE[0] * CURVE_SIZE[1])) > 3  # lines drawn


def test_the_report_is_rewritten_but_never_written_over_foreign_files(sweep, tmp_path):
    quiet = Console(file=io.StringIO())
    report_command([sweep], console=quiet)
    report_command([sweep / "0", sweep / "2"], console=quiet)  # same folder: rewritten
    assert "trick=ganhacks" not in (sweep / "report" / "report.md").read_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "report.md").write_text("my notes")
    with pytest.raises(GanError, match="not written by gan report"):
        report_command([sweep], out=tmp_path / "mine", console=quiet)
    assert (tmp_path / "mine" / "report.md").read_text() == "my notes"
    with pytest.raises(GanError, match="is a run folder"):
        report_command([sweep], out=sweep / "1", console=quiet)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda tmp: tmp / "nowhere", "no such folder"),
        (lambda tmp: tmp, "no runs in"),
        (lambda tmp: (tmp / "file.txt", (tmp / "file.txt").write_text("x"))[0], "not a folder"),
    ],
)
def test_bad_paths_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(GanError, match=message) as err:
        report_command([make(tmp_path)], console=Console(file=io.StringIO()))
    assert "\n" not in str(err.value)


def test_mean_and_standard_error_of_known_numbers():
    mean, se = mean_se([1.0, 2.0, 3.0])
    assert mean == 2.0 and se == pytest.approx(1 / math.sqrt(3))  # sample std 1, over sqrt(3)
    assert mean_se([4.0, 6.0]) == (5.0, 1.0) and mean_se([7.5]) == (7.5, None)
    assert format_mean_se(mean, se) == "2 ± 0.5774" and format_mean_se(7.5, None) == "7.5"
    assert format_mean_se(*mean_se([1.0, float("inf")])) == "inf"  # no finite error to show
    with pytest.raises(ValueError):
        mean_se([])


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A sweep over seeds: trick=none with seeds 0, 1 and 2 (seed 2 crashed before its
    evaluation), and trick=ganhacks with seed 0 only."""
    root = tmp_path / "multirun"
    none = ["+experiment=ring", "trick=none"]
    for job, (d_loss, modes, kl) in enumerate([(0.7, 5, 0.5), (0.6, 6, 0.3)]):
        records = [train_record(100, d_loss, 2.0), {"step": 100, "modes_covered": modes, "mode_kl": kl}]
        make_run(root / str(job), [*none, f"seed={job}"], records)
    make_run(root / "2", [*none, "seed=2"], [train_record(50, 0.9, 1.0)], final=False)
    make_run(
        root / "3",
        ["+experiment=ring", "trick=ganhacks", "seed=0"],
        [train_record(100, 0.8, 2.0), {"step": 100, "modes_covered": 7, "mode_kl": 0.45, "fid": 12.0}],
    )
    return root


def test_runs_that_differ_only_by_seed_form_one_group(seeds, tmp_path):
    groups = seed_groups(read_all(seeds))
    assert [(g.overrides, [r.name for r in g.runs]) for g in groups] == [
        (["+experiment=ring", "trick=none"], ["0", "1", "2"]),
        (["+experiment=ring", "trick=ganhacks"], ["3"]),
    ]
    assert groups[0].values("modes_covered") == [5.0, 6.0]  # seed 2 has no evaluation
    # Without a seed override a run has config.yaml's seed (0 here): it pairs with ++seed=1.
    make_run(tmp_path / "defaults" / "a", ["trick=none"], [train_record(10, 1.0, 1.0)])
    make_run(tmp_path / "defaults" / "b", ["trick=none", "++seed=1"], [train_record(10, 2.0, 1.0)])
    (pair,) = report_groups(read_all(tmp_path / "defaults"), None, None)
    assert [r.name for r in pair.runs] == ["a", "b"] and pair.overrides == ["trick=none"]
    # The same configuration run twice with the same seed is a repeat, not a seed group.
    make_run(tmp_path / "repeats" / "a", ["trick=none"], [train_record(10, 1.0, 1.0)])
    make_run(tmp_path / "repeats" / "b", ["trick=none"], [train_record(10, 2.0, 1.0)])
    assert report_groups(read_all(tmp_path / "repeats"), None, None) == []


def test_seed_groups_sort_by_their_mean_with_the_runs_directions(seeds):
    groups = seed_groups(read_all(seeds))
    order = lambda key, asc=None: [g.overrides[1] for g in sort_groups(groups, key, asc)]  # noqa: E731
    assert order("modes_covered") == ["trick=ganhacks", "trick=none"]  # 7 against a mean of 5.5
    assert order("modes_covered", True) == ["trick=none", "trick=ganhacks"]
    assert order("mode_kl") == ["trick=none", "trick=ganhacks"]  # a mean of 0.4 against 0.45, lower first
    assert order("fid", False) == ["trick=ganhacks", "trick=none"]  # trick=none has no fid: last
    assert order("run") == ["trick=none", "trick=ganhacks"]  # the order of their first runs


def test_the_report_adds_a_seed_group_table_with_mean_and_standard_error(seeds):
    console = Console(file=io.StringIO(), width=200)
    md = report_command([seeds], sort="modes_covered", console=console).read_text()
    runs_table, rest = md.split("## Seed groups")
    assert "| 3 | `trick=ganhacks` `seed=0` | finished |" in runs_table  # one row per run first
    groups = [line for line in rest.split("## Samples")[0].splitlines() if line.startswith("| ")]
    assert groups == [
        "| overrides | n | status | modes_covered | mode_kl | fid | d_loss | g_loss | images_per_sec |",
        "| `trick=ganhacks` | 1 | 1/1 finished | 7 | 0.45 | 12 | 0.8 | 1 | 100 |",
        "| `trick=none` | 3 | 2/3 finished | 5.5 ± 0.5 | 0.4 ± 0.1 | — | 0.7333 ± 0.08819 | 1 ± 0 | 100 ± 0 |",
    ]

    printed = console.file.getvalue()
    title = "2 seed groups: mean ± standard error over seeds"
    assert printed.count(title) == 1
    lines = printed.split(title)[1].splitlines()
    ganhacks = next(line for line in lines if "trick=ganhacks" in line)
    none = next(line for line in lines if "trick=none" in line)
    assert lines.index(ganhacks) < lines.index(none)
    assert all(cell in none for cell in ("3", "2/3 finished", "5.5 ± 0.5", "0.4 ± 0.1", "0.7333 ± 0.08819"))


def test_a_report_without_runs_of_several_seeds_has_no_seed_group_table(sweep):
    console = Console(file=io.StringIO(), width=200)
    md = report_command([sweep], console=console).read_text()
    assert "Seed groups" not in md and "±" not in md
    assert "seed group" not in console.file.getvalue()


def test_curves_have_round_ticks_and_survive_gaps_and_single_points(tmp_path):
    assert nice_ticks(0, 1000) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0.83, 1.01) == pytest.approx([0.85, 0.9, 0.95, 1.0])
    series = [("a", [(0, 1.0), (10, float("inf")), (20, 2.0)]), ("b", [(20, 3.0)])]
    assert plot_curves("x", series, tmp_path / "c.png", size=(400, 200))
    assert Image.open(tmp_path / "c.png").size == (400, 200)
    assert not plot_curves("x", [("a", [(0, float("nan"))])], tmp_path / "d.png")
    assert not (tmp_path / "d.png").exists()


def frames_of(path: Path) -> list[Image.Image]:
    with Image.open(path) as gif:
        assert gif.info["loop"] == 0
        out = []
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append((gif.convert("RGB"), gif.info["duration"]))
        return out


def test_the_gif_shows_the_grids_in_step_order_then_the_final_one(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    for step in (1000, 0, 200, 30):  # lexical order would put 1000 before 200 without zero padding
        grid(step % 250).save(samples / f"step_{step:07d}.png")
    grid(99).save(samples / "final.png")
    grid(7).save(samples / "reals.png")  # not a frame
    gif = write_progress_gif(samples, samples / "progress.gif")
    frames = frames_of(gif)
    expected = [grid(s % 250) for s in (0, 30, 200, 1000)] + [grid(99)]
    assert len(frames) == 5
    for (frame, _), want in zip(frames, expected):
        assert frame.tobytes() == want.tobytes()
    assert frames[-1][1] == HOLD_MS and frames[0][1] < HOLD_MS


def test_the_gif_holds_a_final_grid_equal_to_the_last_step_once(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    for step in (0, 10):
        grid(step).save(samples / f"step_{step:07d}.png")
    grid(10).save(samples / "final.png")
    frames = frames_of(write_progress_gif(samples, tmp_path / "p.gif"))
    assert [f.tobytes() for f, _ in frames] == [grid(0).tobytes(), grid(10).tobytes()]
    with pytest.raises(GanError, match="no sample grids"):
        write_progress_gif(tmp_path / "empty", tmp_path / "q.gif")


@pytest.mark.slow
def test_report_on_a_real_sweep(tmp_path):
    result = run_gan(
        "train", "-m", "+experiment=ring", "trick=none,ganhacks", "train.steps=60", "log.every=20",
        "eval.every=30", "eval.n=500", "sample.every=30", "log.progress=false", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    console = Console(file=io.StringIO(), width=250)
    target = report_command([sweep], sort="modes_covered", console=console)
    runs = read_all(sweep)
    assert [(r.label, r.status, r.step) for r in runs] == [
        ("trick=none", "finished", 60),
        ("trick=ganhacks", "finished", 60),
    ]
    assert all("modes_covered" in r.final for r in runs)
    md = target.read_text()
    assert "`trick=none` | finished | 60/60" in md and "`trick=ganhacks` | finished | 60/60" in md
    assert (target.parent / "curve_modes_covered.png").is_file()
    assert "modes_covered" in console.file.getvalue()  # a column, or in the caption when equal


def test_no_file_of_the_user_is_written_over_not_even_a_curve(sweep, tmp_path):
    quiet = Console(file=io.StringIO())
    mine = tmp_path / "mine"
    mine.mkdir()
    grid(7).save(mine / "curve_d_loss.png")  # a picture of the user's, under a name the report uses
    before = (mine / "curve_d_loss.png").read_bytes()
    with pytest.raises(GanError, match="curve_d_loss.png exists and was not written by gan report") as err:
        report_command([sweep], out=mine, console=quiet)
    assert "\n" not in str(err.value) and "nothing was written" in str(err.value)
    assert sorted(p.name for p in mine.iterdir()) == ["curve_d_loss.png"]  # nothing else written
    assert (mine / "curve_d_loss.png").read_bytes() == before
    # The report's own files are rewritten: a second report in the same folder replaces them.
    report_command([sweep], out=tmp_path / "ours", console=quiet)
    first = {p.name: p.read_bytes() for p in (tmp_path / "ours").iterdir()}
    report_command([sweep / "0"], out=tmp_path / "ours", console=quiet)
    assert (tmp_path / "ours" / "curve_d_loss.png").read_bytes() != first["curve_d_loss.png"]
    assert not [p for p in (tmp_path / "ours").iterdir() if p.name.startswith(".")]  # no temporary folder


def test_a_torn_last_line_of_metrics_is_dropped_with_a_warning(tmp_path, capsys):
    folder = make_run(tmp_path / "r", [], [train_record(10, 1.0, 1.0)], tail='{"step": 20, "d_lo')
    run = read_run(folder)
    assert run.step == 10 and run.final["d_loss"] == 1.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: ") and "last line is cut off" in err
    (folder / "metrics.jsonl").write_text('{"step": 5, "d_loss": 2}\n{not json\n{"step": 6, "d_loss": 3}\n')
    assert read_run(folder).final["d_loss"] == 3.0
    assert "1 unreadable line(s) skipped (line 2)" in capsys.readouterr().err
    (folder / "metrics.jsonl").write_text('{"step": 5, "d_loss": 2}\n')
    read_run(folder)
    assert capsys.readouterr().err == ""  # a whole file: no warning


@pytest.mark.slow
def test_sigint_to_a_real_gan_report_exits_130_and_leaves_no_report(tmp_path):
    """Ctrl-C while a real gan report draws its curves: one line, exit 130, no report folder."""
    keys = [f"metric_{i}" for i in range(400)]  # 400 curves: seconds of drawing
    records = [{"step": s, **{k: float(s + i) for i, k in enumerate(keys)}} for s in (10, 20, 30)]
    run = make_run(tmp_path / "run", [], records)
    before = snapshot(run)
    done = ctrl_c_once_started(
        "report", str(run), "--out", "rep", cwd=tmp_path, started="rep/.report.*/curve_*.png"
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 130, err
    assert err.strip() == "error: interrupted; the report was not written"
    assert "Traceback" not in out + err
    assert not (tmp_path / "rep").exists()  # the folder it made is gone with the half report
    assert snapshot(run) == before
