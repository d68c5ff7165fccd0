"""``gan reproduce``: protocol files, the rows they compose into, and a tiny protocol run end to end."""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gan_cli import protocols
from gan_cli.config import validate
from gan_cli.errors import GanError
from tests.conftest import run_gan

TINY_PROTOCOL = """
title: tiny ring
paper: Nobody 2026
source: Table 9
metrics: {modes_covered: modes, high_quality_pct: "% HQ"}
also: [modes_total]
seeds: 2
settings: [model=mlp, model.hidden=16, model.depth=1, model.z_dim=2, dataset=ring8, dataset.n=512,
           train.batch_size=32, eval.n=256, sample.n=64, log.progress=false, device=cpu]
budgets:
  paper: {overrides: [train.steps=100], minutes: 0.1}
  short: {overrides: [train.steps=4, eval.every=4, sample.every=4, log.every=2, checkpoint.every=4], minutes: 0.01}
rows:
  - name: plain
    overrides: []
    published: {modes_covered: "6.3 ± 0.5"}
  - name: Packed 2
    overrides: [trick=pacgan, train.batch_size=64]
    published: {modes_covered: "7.9 ± 0.1", high_quality_pct: "95.6"}
"""


def tiny(tmp_path: Path, text: str = TINY_PROTOCOL) -> protocols.Protocol:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(text))
    return protocols.load(str(path))


@pytest.mark.parametrize("name", protocols.names())
@pytest.mark.slow
def test_every_shipped_protocol_composes_every_row_at_both_budgets(name, tmp_path):
    protocol = protocols.load(name)
    assert protocol.rows and protocol.metrics and protocol.seeds >= 3
    for budget in protocols.BUDGETS:
        folder = tmp_path / budget
        slugs = protocols.write_rows(protocol, budget, folder)
        assert validate([f"+reproduce_row={','.join(slugs)}", "seed=0"], True, (str(folder),)) == len(slugs)


def test_a_row_config_holds_group_choices_as_defaults_and_later_values_win(tmp_path):
    protocol = tiny(tmp_path)
    config = protocols.row_config(protocol, protocol.row("packed_2"), "short")
    assert config["defaults"] == [
        {"override /model": "mlp"},
        {"override /dataset": "ring8"},
        {"override /trick": "pacgan"},
        "_self_",
    ]
    assert config["train"] == {"batch_size": 64, "steps": 4}  # the row's batch over the settings'
    assert config["reproduce"] == {"protocol": "tiny", "row": "Packed 2", "budget": "short"}


def test_the_composed_row_is_what_the_protocol_says(tmp_path):
    from gan_cli.config import compose, resolve

    protocol = tiny(tmp_path)
    protocols.write_rows(protocol, "paper", tmp_path)
    cfg = resolve(compose(["+reproduce_row=packed_2", "seed=3"], (str(tmp_path),)))
    assert cfg["trick"]["pacgan"] == {"m": 2} and cfg["model"]["hidden"] == 16
    assert cfg["train"]["steps"] == 100 and cfg["train"]["batch_size"] == 64 and cfg["seed"] == 3
    assert cfg["reproduce"]["row"] == "Packed 2"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("seeds: 2\n", ""), "seeds is missing"),
        (lambda t: t.replace('high_quality_pct: "95.6"', 'fid: "3"'), "publishes fid, not in metrics"),
        (
            lambda t: t.replace("  paper: {overrides: [train.steps=100], minutes: 0.1}\n", ""),
            "budgets must be",
        ),
        (lambda t: t.replace("name: Packed 2", "name: plain"), "distinct names"),
        (lambda t: t.replace("seeds: 2", "seeds: 0"), "seeds must be at least 1"),
        (lambda t: t.replace("also: [modes_total]", "also: 5"), "also is missing or not a list"),
    ],
)
def test_a_broken_protocol_is_one_clear_error(tmp_path, edit, message):
    with pytest.raises(GanError, match=message):
        tiny(tmp_path, edit(TINY_PROTOCOL))


def test_an_override_that_is_not_key_value_is_refused(tmp_path):
    protocol = tiny(tmp_path, TINY_PROTOCOL.replace("overrides: []", "overrides: [~trick]"))
    with pytest.raises(GanError, match="'~trick' is not a key=value override"):
        protocols.write_rows(protocol, "short", tmp_path)


def test_an_unknown_protocol_gets_a_suggestion(gan):
    result = gan("reproduce", "pacgan_tabel1")
    assert result.exit_code == 2 and "unknown protocol 'pacgan_tabel1'" in result.output
    assert "did you mean 'pacgan_table1'" in result.output


def test_list_names_every_protocol_with_its_cpu_time(gan):
    result = gan("reproduce", "--list")
    assert result.exit_code == 0
    for name in protocols.names():
        assert name in result.out


def test_seeds_belong_to_the_protocol(gan, tmp_path):
    result = gan("reproduce", "pacgan_table1", "seed=4")
    assert result.exit_code == 2 and "use --seeds N" in result.output


def final_record(run: Path) -> dict:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {k: v for r in records for k, v in r.items()}


@pytest.mark.slow
def test_a_tiny_protocol_runs_its_rows_by_seeds_and_tables_the_means(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_PROTOCOL)
    result = run_gan("reproduce", "tiny.yaml", "--seeds", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "outputs" / "reproduce" / "tiny").glob("*/*")
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    rows = [OmegaConf.load(run / ".hydra" / "config.yaml").reproduce.row for run in runs]
    assert rows == ["plain", "Packed 2", "plain", "Packed 2"]  # every row's first seed comes first
    table = (sweep / "reproduce.md").read_text()
    assert "| row | runs | modes (paper) | modes (ours) | % HQ (paper) | % HQ (ours) |" in table
    for row, jobs in (("plain", runs[0::2]), ("Packed 2", runs[1::2])):
        values = [final_record(run)["high_quality_pct"] for run in jobs]
        (line,) = [line for line in table.splitlines() if line.startswith(f"| {row} | 2/2 |")]
        mean, _, se = line.split(" | ")[-1].rstrip(" |").partition(" ± ")
        assert float(mean) == pytest.approx(statistics.mean(values), rel=1e-3)
        if se:  # no error printed when both seeds scored the same
            assert float(se) == pytest.approx(statistics.stdev(values) / 2**0.5, rel=1e-3)
    assert "6.3 ± 0.5" in table and "modes_total: 8 (mean over 4 runs)" in table
    assert "![Packed 2](1/samples/final.png)" in table
    assert "tiny ring" in result.stdout and "6.3 ± 0.5" in result.stdout

    (sweep / "reproduce.md").unlink()
    again = run_gan("reproduce", "--table", str(sweep), cwd=tmp_path)
    assert again.returncode == 0 and (sweep / "reproduce.md").read_text() == table


@pytest.mark.slow
def test_rows_picks_what_runs_and_what_the_table_shows(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_PROTOCOL)
    args = ["--seeds", "1", "--rows", "packed_2", "train.lr_g=0.001", "hydra.job.chdir=false"]
    result = run_gan("reproduce", "tiny.yaml", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "outputs" / "reproduce" / "tiny").glob("*/*")
    table = (sweep / "reproduce.md").read_text()
    assert "| Packed 2 | 1/1 |" in table and "| plain |" not in table
    # the command says how to rerun it: training overrides kept, Hydra's own left out
    assert "`gan reproduce tiny.yaml --budget short --seeds 1 --rows packed_2 train.lr_g=0.001`" in table
    assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["0"]


def test_a_table_folder_with_a_foreign_record_is_one_line(gan, tmp_path):
    (tmp_path / "reproduce.yaml").write_text("protocol: tiny\nseeds: 2\n")
    result = gan("reproduce", "--table", str(tmp_path))
    assert result.exit_code == 2 and "is not a record gan reproduce wrote" in result.output


@pytest.mark.slow
def test_seeds_added_later_pool_into_one_table(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_PROTOCOL)
    first = run_gan("reproduce", "tiny.yaml", "--seeds", "1", "--rows", "plain", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (old,) = (tmp_path / "outputs" / "reproduce" / "tiny").glob("*/*")
    more = run_gan(
        "reproduce", "tiny.yaml", "--seeds", "2", "--first-seed", "1", "hydra.sweep.dir=more", cwd=tmp_path
    )
    assert more.returncode == 0, more.stderr
    new = tmp_path / "more"
    assert "| plain | 2/2 |" in (new / "reproduce.md").read_text()
    seeds = [OmegaConf.load(run / ".hydra" / "config.yaml").seed for run in sorted(new.glob("[0-9]"))]
    assert seeds == [1, 1, 2, 2]

    pooled = run_gan("reproduce", "--table", str(old), "--table", str(new), cwd=tmp_path)
    assert pooled.returncode == 0, pooled.stderr
    table = (old / "reproduce.md").read_text()
    runs = [old / "0", new / "0", new / "2"]
    values = [final_record(run)["high_quality_pct"] for run in runs]
    (line,) = [line for line in table.splitlines() if line.startswith("| plain | 3/3 |")]
    assert float(line.split(" | ")[-1].partition(" ± ")[0]) == pytest.approx(
        statistics.mean(values), rel=1e-3
    )
    assert "| Packed 2 | 2/2 |" in table and "over seeds 0–2" in table
    assert "`gan reproduce tiny.yaml --budget short --seeds 1 --rows plain`; " in table
    assert "`gan reproduce tiny.yaml --budget short --seeds 2 --first-seed 1`" in table
    assert "![plain](0/samples/final.png)" in table

    twice = run_gan("reproduce", "--table", str(new), "--table", str(new), cwd=tmp_path)
    assert twice.returncode == 2 and "pool each seed once" in twice.stderr
    record = OmegaConf.load(new / "reproduce.yaml")
    record.budget = "paper"
    OmegaConf.save(record, new / "reproduce.yaml")
    mixed = run_gan("reproduce", "--table", str(old), "--table", str(new), cwd=tmp_path)
    assert mixed.returncode == 2 and "their budget differ" in mixed.stderr


def test_seed_ranges_print_as_a_span_and_others_as_a_list():
    from gan_cli.commands.reproduce import seed_text

    assert [seed_text(s) for s in ([0, 1, 2], [2, 0, 1, 1], [0, 1], [0, 2, 5], [4])] == [
        "0–2",
        "0–2",
        "0, 1",
        "0, 2, 5",
        "4",
    ]
