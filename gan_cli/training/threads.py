"""How many CPU threads a training job uses, so that jobs sharing a machine share its cores.

PyTorch starts one intra-op thread per core it sees. Two jobs side by side (two terminals, a
shell loop with ``&``, a sweep beside a run) then run twice as many threads as there are cores,
and at every parallel region OpenMP's threads spin waiting for one that is not scheduled: each
job runs many times slower than alone (3× for two DCGANs on 2 cores, 10× for two ring MLPs;
benchmarks/sharing.py). So each job takes its share of the cores it may use: ``cores // jobs``,
where ``cores`` is what its CPU affinity (taskset, SLURM's ``cpus-per-task``) and a cgroup CPU
quota allow, and ``jobs`` counts the gan-cli training jobs of this user running on the machine
now. Every job registers itself in a folder of small files (``$XDG_RUNTIME_DIR`` or the temp
folder) and looks again about once a second, so a job started alone gives back cores within a
second of a second one starting, and takes them again when it ends.

Making OpenMP's threads wait passively instead (``OMP_WAIT_POLICY=PASSIVE``) also stops the
collapse, but costs a job alone 20–40 % of its speed (every parallel region then wakes sleeping
threads), so gan-cli leaves the wait policy alone. A fixed number — ``trainer.threads=N`` or
``OMP_NUM_THREADS`` — is used as it is.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import torch

ENV = "OMP_NUM_THREADS"


def usable_cores() -> int:
    """The cores this process may run on: its affinity, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def registry() -> Path:
    """Where running jobs announce themselves: one file per job, named by its process id."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"gan-cli-{os.getuid()}" / "jobs"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process under a reused number
        return False
    return True


class CoreShare:
    """The threads of one job, kept at its share of the machine while it trains."""

    def __init__(self, fixed: int | None = None):
        if fixed is None and os.environ.get(ENV, "").isdigit() and int(os.environ[ENV]) > 0:
            fixed = int(os.environ[ENV])
        self.fixed = fixed
        self.cores = usable_cores()
        self.mark = registry() / str(os.getpid())
        self.threads = torch.get_num_threads()
        self.checked = 0.0  # time.monotonic() of the last look at the other jobs

    def __enter__(self) -> CoreShare:
        # A job with a fixed number registers too: it uses cores the others must leave it (a
        # joblib worker, say, whose threads joblib set through OMP_NUM_THREADS).
        try:
            self.mark.parent.mkdir(parents=True, exist_ok=True)
            self.mark.touch()
        except OSError:  # no shared folder: the job simply counts itself alone
            pass
        self.adjust()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mark.unlink(missing_ok=True)

    def jobs(self) -> int:
        """Training jobs of this user running now, this one included."""
        try:
            pids = [int(p.name) for p in self.mark.parent.iterdir() if p.name.isdigit()]
        except OSError:
            return 1
        running = 0
        for pid in pids:
            if pid == os.getpid() or alive(pid):
                running += 1
            else:  # a job that was killed before it could remove its file
                (self.mark.parent / str(pid)).unlink(missing_ok=True)
        return max(1, running)

    def poll(self, every: float = 1.0) -> None:
        """``adjust`` if ``every`` seconds have passed since the last look (cheap to call each step)."""
        if time.monotonic() - self.checked >= every:
            self.adjust()

    def adjust(self) -> int:
        """Set torch's intra-op threads to this job's share now; returns it."""
        self.checked = time.monotonic()
        wanted = self.fixed or max(1, self.cores // self.jobs())
        if wanted != self.threads:
            torch.set_num_threads(wanted)
            self.threads = wanted
        return self.threads

    def describe(self) -> str:
        how = "fixed" if self.fixed else f"share of {self.cores} core(s)"
        return f"{self.threads} thread(s), {how}"
