"""Hyperparameter search with the Optuna sweeper: the objective a trial returns, the check of a
search space before a study starts, `gan report` on a study, and real studies on the ring (slow)."""

import io
import json
import logging
import math
import os
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from gan_cli import search
from gan_cli.commands.report import report_command
from gan_cli.config import validate
from gan_cli.errors import GanError
from gan_cli.training.task import guarded
from tests.conftest import TINY, TINY_MODELS, run_gan
from tests.test_report import make_run, train_record

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")

RECORD = {"step": 4, "d_loss": 1.2, "g_loss": 0.7, "modes_covered": 6, "high_quality_pct": 81.5}


# ---------------------------------------------------------------- the objective of a trial


def test_the_objective_is_a_key_of_the_final_record_as_a_float(caplog):
    assert search.objective(RECORD, "high_quality_pct") == 81.5
    value = search.objective(RECORD, "modes_covered")
    assert value == 6.0 and isinstance(value, float)
    assert not caplog.records


def test_a_missing_objective_fails_the_trial_with_one_warning_naming_the_keys(caplog):
    with caplog.at_level(logging.WARNING, logger="gan_cli.search"):
        assert search.objective(RECORD, "fid_classifier") is None
    (warning,) = caplog.records
    message = warning.getMessage()
    assert "'fid_classifier'" in message and "\n" not in message
    assert "d_loss, g_loss, modes_covered, high_quality_pct" in message and "the trial failed" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "8", True, None])
def test_a_value_that_is_not_a_finite_number_fails_the_trial(value, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_cli.search"):
        assert search.objective({**RECORD, "mode_kl": value}, "mode_kl") is None
    (warning,) = caplog.records
    assert "'mode_kl'" in warning.getMessage() and "the trial failed" in warning.getMessage()


def test_a_trial_that_failed_already_returns_none_without_another_warning(caplog):
    assert search.objective(None, "modes_covered") is None
    assert not caplog.records


def test_in_a_trial_an_error_is_one_line_and_no_exit(capsys):
    def fails():
        raise GanError("loss is nan at step 3; stopped")

    assert guarded(fails, trial=True) is None
    assert "loss is nan at step 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        guarded(fails)
    assert stop.value.code == 2
    assert guarded(lambda: {"a": 1.0}, trial=True) == {"a": 1.0}


def test_a_study_without_a_completed_trial_ends_in_one_line():
    before = os.environ.get("HYDRA_FULL_ERROR")
    with pytest.raises(GanError, match="no trial of the study completed"):
        with search.study_end(True):
            assert os.environ["HYDRA_FULL_ERROR"] == "1"  # Hydra passes the error on to us
            raise ValueError("No trials are completed yet.")
    assert os.environ.get("HYDRA_FULL_ERROR") == before
    with pytest.raises(ValueError, match="something else"), search.study_end(True):
        raise ValueError("something else")
    with search.study_end(False):
        assert os.environ.get("HYDRA_FULL_ERROR") == before


# ---------------------------------------------------------------- checks before a study


def test_the_ring_search_space_is_checked_value_by_value():
    jobs = search.sweep_jobs(["+hparams_search=ring_optuna"], (), "config")
    base = ["+hparams_search=ring_optuna"]
    assert jobs[0] == (base, "")
    checked = {job[-1] for job, _ in jobs[1:]}
    assert {"train.lr_g=0.0001", "train.lr_d=0.0001", "train.betas.0=0.0"} <= checked
    assert "trick.n_critic.n=1" in checked and "trick.n_critic.n=5" in checked  # Optuna: 5 included
    assert {f"trick.r1.gamma={g}" for g in ("0", "0.1", "1", "10")} <= checked
    high = [float(line.split("=")[1]) for line in checked if line.startswith("train.lr_g=")]
    assert max(high) < 1e-2 and max(high) == pytest.approx(1e-2)  # an interval's end is left out
    assert all(job[:-1] == base for job, _ in jobs[1:])  # each key alone on the base config


@pytest.mark.slow
def test_optuna_syntax_on_the_command_line_is_checked_not_expanded():
    overrides = [
        "hydra/sweeper=optuna",
        "+experiment=ring",
        "train.lr_g=tag(log, interval(1e-4, 1e-2))",
        "trick=none,ganhacks",
        "seed=range(0, 2)",
        "train.betas=choice([0.5,0.999],[0.0,0.9])",
    ]
    assert validate(overrides, multirun=True) == 1 + 2 + 2 + 2 + 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["hydra/sweeper=optuna", "train.lrg=interval(1e-4, 1e-2)"],
            "train.lrg=interval(1e-4, 1e-2): unknown config key 'train.lrg' (did you mean 'train.lr_g'?)",
        ),
        (
            ["hydra/sweeper=optuna", "train.lr_decay_start=interval(0.5, 2.0)"],
            "train.lr_decay_start=interval(0.5, 2.0): train.lr_decay_start must be a number in [0, 1)",
        ),
        (
            ["hydra/sweeper=optuna", "+trick.n_critic.n=interval(1.0, 4.0)"],
            "+trick.n_critic.n=interval(1.0, 4.0): trick 'n_critic': n must be an integer >= 1",
        ),
        (
            ["hydra/sweeper=optuna", "train.lr_g=tag(log, interval(0, 1))"],
            "a log interval needs a low end > 0",
        ),
        (["hydra/sweeper=optuna", "model=glob(*)"], "the Optuna sweeper cannot expand glob"),
        (["train.lr_g=interval(1e-4, 1e-2)"], "add hydra/sweeper=optuna"),
        (["hydra/sweeper=optuna", "sweep.direction=maximize"], "set hydra.sweeper.direction=maximize"),
        (
            ["+hparams_search=ring_optuna", "hydra.sweeper.direction=[minimize,maximize]"],
            "hydra.sweeper.direction must be one direction",
        ),
        (
            ["+hparams_search=ring_optuna", "sweep.direction=most"],
            "sweep.direction must be minimize or maximize",
        ),
    ],
)
def test_a_bad_search_space_is_refused_in_one_line(overrides, message):
    with pytest.raises(GanError) as err:
        validate(overrides, multirun=True)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_bad_key_inside_an_hparams_search_file_is_refused_naming_the_entry(tmp_path):
    (tmp_path / "hparams_search").mkdir()
    (tmp_path / "hparams_search" / "mine.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /hydra/sweeper: optuna\n"
        "hydra:\n  sweeper:\n    params:\n      model.z_dimm: choice(8, 16)\n"
    )
    with pytest.raises(GanError) as err:
        validate(["+hparams_search=mine"], True, extra_dirs=(str(tmp_path),))
    assert str(err.value) == (
        "model.z_dimm=choice(8, 16): unknown config key 'model.z_dimm' (did you mean 'model.z_dim'?)"
    )


def test_plain_sweeps_still_expand_into_every_job():
    assert validate(["+experiment=ring", "trick=none,ganhacks"], multirun=True) == 2
    assert validate(["+experiment=ring", "loss=glob(w*)"], multirun=True) == 2  # wasserstein, wgan_gp


# ---------------------------------------------------------------- gan report on a study


def make_trial(folder: Path, params: list[str], covered: int | None, direction: str) -> Path:
    """A trial folder as the Optuna sweeper leaves it; ``covered`` None: no final evaluation."""
    records = [train_record(100, 0.7, 2.0)] + (
        [{"step": 100, "modes_covered": covered}] if covered is not None else []
    )
    make_run(folder, [*params, "+hparams_search=ring_optuna"], records)
    with (folder / ".hydra" / "config.yaml").open("a") as f:
        f.write(f"sweep:\n  objective: modes_covered\n  direction: {direction}\n")
    (folder / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  sweeper:\n    _target_: {search.OPTUNA}\n")
    return folder


@pytest.mark.parametrize("finished", [True, False])
@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_report_lists_a_studys_trials_best_first(tmp_path, direction, finished):
    study = tmp_path / "multirun" / "2026-12-01" / "10-00-00"
    for number, (lr, covered) in enumerate([(1e-3, 5), (3e-3, 8), (2e-4, None), (5e-4, 2)]):
        make_trial(
            study / str(number), [f"train.lr_g={lr}", f"trick.n_critic.n={number + 1}"], covered, direction
        )
    if finished:
        best = (
            {"train.lr_g": 0.003, "trick.n_critic.n": 2}
            if direction == "maximize"
            else {"train.lr_g": 0.0005}
        )
        results = {"name": "optuna", "best_params": best, "best_value": 8 if direction == "maximize" else 2}
        (study / "optimization_results.yaml").write_text(yaml.safe_dump(results))
    out = io.StringIO()
    target = report_command([study], console=Console(file=out, width=200))
    printed = out.getvalue()

    order = ["1", "0", "3"] if direction == "maximize" else ["3", "0", "1"]
    rows = [
        line.split()[0] for line in printed.splitlines() if " train.lr_g=" in line and "Optuna" not in line
    ]
    assert rows == [*order, "2"]  # the failed trial (no objective) last
    assert f"by modes_covered ({'descending' if direction == 'maximize' else 'ascending'})" in printed
    assert "train.lr_g=0.003 trick.n_critic.n=2" in printed  # the parameters of each trial
    if finished and direction == "maximize":
        assert (
            "Optuna study: maximize modes_covered; best 8 with train.lr_g=0.003 trick.n_critic.n=2" in printed
        )
    elif not finished:
        assert "optimization_results.yaml not written yet" in printed
    assert f"Optuna study: {direction} modes_covered" in target.read_text()


def test_report_sort_options_still_win_over_the_objective(tmp_path):
    study = tmp_path / "study"
    for number, covered in enumerate([5, 8]):
        make_trial(study / str(number), [f"seed={number}"], covered, "maximize")
    out = io.StringIO()
    report_command([study], sort="run", console=Console(file=out, width=200))
    assert "by run (ascending)" in out.getvalue()


# ---------------------------------------------------------------- real studies (slow)

# The ring, shrunk: every artefact and the final toy-modes evaluation, in about a second a trial.
RING = [
    *(o for o in TINY if not o.startswith("metrics=")),
    *TINY_MODELS["mlp"],
    "dataset.n=512",
    "eval.every=2",
    "eval.n=200",
]


@pytest.mark.slow
def test_a_two_trial_study_on_the_ring_through_the_cli(tmp_path):
    result = run_gan(
        "train", "-m", "hydra/sweeper=optuna", "+hparams_search=ring_optuna", "hydra.sweeper.n_trials=2", *RING,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    trials = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert trials == ["0", "1"]
    covered = []
    for trial in trials:
        overrides = yaml.safe_load((sweep / trial / ".hydra" / "overrides.yaml").read_text())
        assert {o.split("=")[0] for o in overrides} >= {
            "train.lr_g", "train.lr_d", "train.betas.0", "trick.n_critic.n", "trick.r1.gamma"
        }  # fmt: skip
        last = json.loads((sweep / trial / "metrics.jsonl").read_text().splitlines()[-1])
        covered.append(last["modes_covered"])
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna"
    assert set(results["best_params"]) == {
        "train.lr_g", "train.lr_d", "train.betas.0", "trick.n_critic.n", "trick.r1.gamma"
    }  # fmt: skip
    assert results["best_value"] == max(covered)  # what the trials returned: their final modes_covered


@pytest.mark.slow
def test_a_trial_without_its_objective_fails_and_the_study_goes_on(tmp_path):
    # Seeded random sampling picks metrics=none (no modes_covered: trial 0 fails), then default.
    result = run_gan(
        "train", "-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=10",
        "hydra.sweeper.n_trials=2", "+experiment=ring", "sweep.objective=modes_covered",
        "sweep.direction=maximize", "hydra.sweeper.direction=maximize", "metrics=choice(none, default)", *RING,
        cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert output.count("sweep.objective 'modes_covered' is not in this run's final record") == 1
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert "metrics=none" in (sweep / "0" / ".hydra" / "overrides.yaml").read_text()
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"metrics": "default"}
