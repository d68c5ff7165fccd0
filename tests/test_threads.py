"""Jobs on one machine share its cores: each takes its share, and gives it back as others come."""

import os
import subprocess
import sys

import pytest
import torch

from gan_cli.training import threads
from gan_cli.training.threads import CoreShare


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine of 4 cores with an empty job registry; torch's threads restored afterwards."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    before = torch.get_num_threads()
    yield threads.registry()
    torch.set_num_threads(before)


def other_job(registry):
    """A live process registered as a training job."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    registry.mkdir(parents=True, exist_ok=True)
    (registry / str(process.pid)).touch()
    return process


def test_a_job_alone_takes_every_core_and_halves_when_another_starts(machine):
    with CoreShare() as share:
        assert share.threads == 4 and torch.get_num_threads() == 4
        assert (machine / str(os.getpid())).exists()
        other = other_job(machine)
        try:
            assert share.adjust() == 2 and torch.get_num_threads() == 2
        finally:
            other.kill()
            other.wait()
        assert share.adjust() == 4  # the other job ended: its cores come back
        assert not (machine / str(other.pid)).exists()  # and its stale file is cleared
    assert not (machine / str(os.getpid())).exists()


def test_a_fixed_number_is_kept_whatever_else_runs(machine, monkeypatch):
    other = other_job(machine)
    try:
        with CoreShare(fixed=3) as share:
            assert share.adjust() == 3 and "fixed" in share.describe()
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        with CoreShare() as share:
            assert share.adjust() == 1
            assert (machine / str(os.getpid())).exists()  # it still counts for the others
    finally:
        other.kill()
        other.wait()


@pytest.mark.slow
def test_usable_cores_follow_the_cpu_affinity():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    probe = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); from gan_cli.training.threads import usable_cores; print(usable_cores())"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"


@pytest.mark.slow
def test_every_record_says_how_many_threads_the_job_used(tmp_path, machine):
    from gan_cli.training.loop import train
    from gan_cli.training.run_folder import read_records
    from tests.conftest import tiny_config

    train(tiny_config(tmp_path), tmp_path / "run")
    assert {r["threads"] for r in read_records(tmp_path / "run" / "metrics.jsonl") if "d_loss" in r} == {4}


def test_poll_looks_again_only_once_its_interval_has_passed(machine):
    with CoreShare() as share:
        other = other_job(machine)
        try:
            share.poll(every=3600)
            assert share.threads == 4  # looked at on entering, not again yet
            share.poll(every=0)
            assert share.threads == 2
        finally:
            other.kill()
            other.wait()
