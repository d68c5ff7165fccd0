"""Do training jobs started side by side share the CPU, or fight over it?

For each workload, the wall time of its jobs run together (started at once, no thread setting)
divided by their wall time run one after the other: the same work on the same cores, so 1.0 is
perfect sharing and anything above is time lost to contention. Measured twice: as gan-cli runs
now (each job its share of the cores, looked at again every second), and as it ran before
(every job all the cores; a joblib worker as joblib limits it).

    python benchmarks/sharing.py                      # all three workloads, now and before
    python benchmarks/sharing.py --only dcgan --steps 300

Workloads: (a) two default-DCGAN `gan train` processes, (b) two ring-preset processes, (c) a
4-job joblib sweep with 2 workers (`hydra.launcher.n_jobs=2`) against the same sweep run by the
basic launcher (one job after the other).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

QUIET = ["log.progress=false", "metrics=none", "sample.every=100000", "checkpoint.every=100000"]


def gan(args: list[str], cwd: str, before: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if before:
        # What gan-cli did before it shared: every core per job (in a joblib sweep, the
        # threads joblib gives each worker).
        if "-m" not in args:
            args = [*args, f"trainer.threads={len(os.sched_getaffinity(0))}"]
    return subprocess.Popen(
        [sys.executable, "-m", "gan_cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wall(commands: list[list[str]], together: bool, before: bool) -> float:
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        if together:
            procs = [gan(c, cwd, before) for c in commands]
        else:
            procs = []
            for c in commands:
                procs.append(gan(c, cwd, before))
                procs[-1].wait()
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                sys.exit(f"gan {' '.join(p.args[3:])} failed: {err.decode()[-500:]}")
        return time.perf_counter() - start


def workloads(steps: int) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """name -> (commands run together, the same work run one after the other)."""
    dcgan = ["train", f"train.steps={steps}", *QUIET]
    ring = ["train", "+experiment=ring", f"train.steps={steps * 5}", *QUIET]
    sweep = ["train", "-m", "+experiment=ring", f"train.steps={steps * 5}", "seed=0,1,2,3", *QUIET]
    return {
        "dcgan": ([dcgan, dcgan], [dcgan, dcgan]),
        "ring": ([ring, ring], [ring, ring]),
        "joblib": ([[*sweep, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], [sweep]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps", type=int, default=300, help="DCGAN steps per job (the ring runs 5x as many)"
    )
    parser.add_argument("--only", choices=["dcgan", "ring", "joblib"], action="append")
    parser.add_argument("--skip-before", action="store_true", help="measure only how gan-cli runs now")
    args = parser.parse_args()
    print(f"{len(os.sched_getaffinity(0))} cores; ratio = wall time together / one after the other")
    print(f"{'workload':10} {'mode':7} {'apart s':>8} {'together s':>11} {'ratio':>6}")
    for name, (together, apart) in workloads(args.steps).items():
        if args.only and name not in args.only:
            continue
        for before in [False] if args.skip_before else [False, True]:
            # joblib's "apart" is the basic launcher: the same jobs, one after the other.
            t_apart = wall(apart, together=False, before=before)
            t_together = wall(together, together=True, before=before)
            mode = "before" if before else "now"
            print(
                f"{name:10} {mode:7} {t_apart:8.1f} {t_together:11.1f} {t_together / t_apart:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
