"""The GPU check in one go, for a GPU machine lent for minutes: an environment report, the
tests that need CUDA, ``gan bench --compare`` for DCGAN and the largest presets, a short
``torch.compile`` run and the default DCGAN's classifier FID, into one Markdown table
(``results.md``), one JSON (``results.json``) and a log per kind of part.

    bash benchmarks/gpu_check.sh OUT_DIR            # on the GPU machine: under 8 minutes
    bash benchmarks/gpu_check.sh --dry-run OUT_DIR  # the same on the CPU at tiny sizes (CI)

Each part runs in its own process under a deadline on a cumulative schedule (a part that
finishes early hands its time to the next; one that hangs is killed at its deadline and
recorded as timed out), so the whole ends within ``sum(budgets)`` and the results are written
after every part: a run cut short still leaves everything measured so far.

What comes back from the device machine is at most 8 files, so OUT_DIR gets exactly:
results.md, results.json, env.txt, tests.log, bench.log (benchmarks and the compiled run),
train.log and quality_final.png (the quality run's last sample grid).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Dense bf16 tensor-core peaks in TFLOP/s (no 2:4 sparsity; FP32 accumulation, which is what
# PyTorch uses), keyed by the name torch.cuda.get_device_name() gives. From NVIDIA's datasheets
# and architecture whitepapers, which quote sparse figures: halve those. An unknown GPU gets no
# "% of peak" (set PEAK_TFLOPS to supply one).
PEAK_BF16_TFLOPS = {
    "NVIDIA H100 80GB HBM3": 989,  # H100 SXM5 datasheet: 1979 with sparsity
    "NVIDIA H100 PCIe": 756,  # H100 PCIe datasheet: 1513 with sparsity
    "NVIDIA H200": 989,  # H200 SXM datasheet: 1979 with sparsity (the H100 SXM's chip and clocks)
    "NVIDIA H100 NVL": 835,  # H100 NVL datasheet: 1671 with sparsity
    "NVIDIA H200 NVL": 835,  # H200 datasheet, NVL column: 1671 with sparsity
    "NVIDIA A100-SXM4-40GB": 312,  # A100 datasheet: 312 (624 with sparsity), every form factor
    "NVIDIA A100-SXM4-80GB": 312,
    "NVIDIA A100-PCIE-40GB": 312,
    "NVIDIA A100 80GB PCIe": 312,
    "NVIDIA L40S": 362,  # L40S datasheet: 362.05 (733 with sparsity)
    "NVIDIA L40": 181,  # L40 datasheet: 181.05 (362.1 with sparsity)
    "NVIDIA L4": 121,  # L4 datasheet: 242 with sparsity
    "NVIDIA A10": 125,  # A10 datasheet: 125 (250 with sparsity)
    "NVIDIA GeForce RTX 4090": 165,  # Ada (AD102) whitepaper: 165.2 with FP32 accumulate (330 with FP16's)
    "NVIDIA GeForce RTX 3090": 71,  # Ampere GA102 whitepaper: 71 with FP32 accumulate (142 with FP16's)
}

# The bundled 10k MNIST split, named so that no download is tried (the GPU machine is offline).
MNIST = ["dataset.split=test"]
# The big presets train on CIFAR-10 or a folder of faces, neither of which is there offline;
# they get a stand-in of the same shape: the bundled digits in colour, one folder per class.
BIG_PRESETS = ["sagan32", "biggan32", "stylegan64"]  # and R3GAN's (conf/experiment/r3gan*.yaml), if any
STAND_IN = "coloured MNIST digits in 10 class folders"


@dataclass
class Part:
    name: str  # the row of the table
    kind: str  # env, tests, bench, compile or quality
    budget: float  # seconds this part may add to the schedule
    argv: list[str] = field(default_factory=list)
    log: str = ""  # file in OUT_DIR its output is appended to
    config: str = ""  # what it runs, for the table
    env: dict[str, str] = field(default_factory=dict)  # added to its environment
    note: str = ""  # said in the table's notes
    result: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# The environment report (run in its own process: CUDA's start-up can hang too)


def source_digest() -> str:
    """sha256 over gan_cli/ and conf/: names the code when the tree travels without .git."""
    h = hashlib.sha256()
    for path in sorted(p for d in ("gan_cli", "conf") for p in (REPO / d).rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        if head.returncode == 0:
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            return head.stdout.strip() + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    saved = REPO / ".whl" / "COMMIT"  # written by prepare_gpu_wheels.sh, which ran with .git
    if saved.is_file():
        return " ".join(saved.read_text().split()) + " (per .whl/COMMIT)"
    return "unknown"


def peak_tflops(gpu: str | None) -> tuple[float | None, str]:
    if os.environ.get("PEAK_TFLOPS"):
        return float(os.environ["PEAK_TFLOPS"]), "PEAK_TFLOPS"
    if gpu is None:
        return None, "no GPU"
    table = {name.lower(): value for name, value in PEAK_BF16_TFLOPS.items()}
    value = table.get(gpu.strip().lower())
    return value, ("datasheet, dense bf16" if value else f"'{gpu}' not in the table")


def environment_report(json_path: Path, text_path: Path, dry_run: bool) -> None:
    from importlib import metadata

    import torch

    lines = []
    env: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "gan_cli_commit": commit(),
        "gan_cli_source_digest": source_digest(),
    }
    for package in ("hydra-core", "omegaconf", "antlr4-python3-runtime", "typer", "numpy", "triton"):
        try:
            env[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            env[package] = None
    gpu = None
    if torch.cuda.is_available() and not dry_run:
        props = torch.cuda.get_device_properties(0)
        gpu = torch.cuda.get_device_name(0)
        env.update(
            gpu=gpu,
            gpu_count=torch.cuda.device_count(),
            capability=".".join(map(str, torch.cuda.get_device_capability(0))),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            multiprocessors=props.multi_processor_count,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
        smi = shutil.which("nvidia-smi")
        if smi:
            query = subprocess.run(
                [smi, "--query-gpu=driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            driver, max_sm_clock, power_limit = ([*query.stdout.strip().split(", "), "", "", ""])[:3]
            env.update(driver=driver, max_sm_clock=max_sm_clock, power_limit=power_limit)
            lines += [
                "$ nvidia-smi",
                subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout,
            ]
        # The bf16 matrix product's rate on this card, a ceiling measured rather than quoted.
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            a @ b
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(10):
            a @ b
        end.record()
        torch.cuda.synchronize()
        env["matmul_bf16_tflops"] = round(10 * 2 * 8192**3 / (start.elapsed_time(end) / 1e3) / 1e12, 1)
    env["device"] = gpu or f"CPU ({torch.get_num_threads()} threads)"
    env["peak_tflops"], env["peak_tflops_source"] = peak_tflops(gpu)
    json_path.write_text(json.dumps(env, indent=2) + "\n")
    text_path.write_text("\n".join(f"{k}: {v}" for k, v in env.items()) + "\n\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# The plan


def cuda_tests() -> list[str]:
    """Node ids of the tests whose decorators (or module's ``pytestmark``) test
    ``cuda.is_available``: the ones that skip without a GPU."""
    ids = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        source = path.read_text()
        if "cuda.is_available" not in source:
            continue
        rel = path.relative_to(REPO).as_posix()
        body = ast.parse(source).body
        marks = [n for n in body if isinstance(n, ast.Assign) and "pytestmark" in ast.unparse(n.targets[0])]
        if any("cuda.is_available" in ast.unparse(n) for n in marks):
            ids.append(rel)
            continue
        # Test functions at the top and in test classes: (node id prefix, definitions).
        scopes = [("", body)] + [(f"{n.name}::", n.body) for n in body if isinstance(n, ast.ClassDef)]
        for prefix, nodes in scopes:
            for node in nodes:
                if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
                    continue
                if any("cuda.is_available" in ast.unparse(d) for d in node.decorator_list):
                    ids.append(f"{rel}::{prefix}{node.name}")
    return ids


def preset_choices(preset: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A preset's YAML and its group choices, those of the presets it extends included
    (``defaults: [r3gan_mnist, ...]``), its own winning."""
    import yaml

    config = yaml.safe_load((REPO / "conf" / "experiment" / f"{preset}.yaml").read_text())
    chosen: dict[str, str] = {}
    for entry in config.get("defaults", []):
        if isinstance(entry, dict):
            chosen.update(entry)
        elif entry != "_self_":
            chosen.update(preset_choices(entry)[1])
    return config, chosen


def preset_data(
    preset: str, digits: Path, resolution: int | None = None
) -> tuple[str | None, list[str], str]:
    """A preset's model, the overrides that give it the stand-in data when its own is not
    there offline (CIFAR-10, a folder of faces), and a note saying so; ``resolution``, when
    given, replaces the preset's."""
    config, chosen = preset_choices(preset)
    model, dataset = chosen.get("override /model"), chosen.get("override /dataset")
    note = f"data: {STAND_IN} in place of {dataset}"
    resized = [f"dataset.resolution={resolution}"] if resolution else []
    if dataset == "cifar10":
        return (
            model,
            ["dataset=image_folder", f"dataset.path={digits}", *(resized or ["dataset.resolution=32"])],
            note,
        )
    if dataset == "image_folder":
        resized = resized or [f"dataset.resolution={(config.get('dataset') or {}).get('resolution', 64)}"]
        return model, [f"dataset.path={digits}", *resized], note
    return model, resized, ""


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def plan(dry_run: bool, work: Path, digits: Path, peak: float | None) -> list[Part]:
    from gan_cli.commands.bench import QUIET  # what gan bench turns off; the compiled run turns off the same

    gan = [sys.executable, "-m", "gan_cli"]
    if dry_run:
        from tests.conftest import TINY_MODELS  # the test suite's CPU-sized networks

        tiny = {name: ["train.batch_size=8", *overrides] for name, overrides in TINY_MODELS.items()}
        dcgan = tiny["dcgan"]
        timing = ["--warmup", "1", "--steps", "2", "--repeats", "2"]
        big_timing = timing
        compile_steps, quality = 4, [*tiny["dcgan"], "train.steps=20", "eval.every=10", "eval.n=200"]
        quality += ["sample.every=10", "checkpoint.every=10"]
    else:
        tiny = {}
        dcgan = ["train.batch_size=128"]
        timing = ["--warmup", "30", "--steps", "30", "--repeats", "5"]
        big_timing = ["--warmup", "10", "--steps", "10", "--repeats", "3"]
        compile_steps, quality = 300, []  # quality: gan train as the README runs it, 4000 steps
    peak_args = ["--peak-tflops", str(peak)] if peak else []

    def bench(name: str, overrides: list[str], budget: float, big: bool = False) -> Part:
        argv = [*gan, "bench", "--compare", *(big_timing if big else timing), *peak_args]
        argv += ["--json", str(work / f"bench-{slug(name)}.json"), *overrides]
        shown = " ".join(
            o for o in overrides if not o.startswith(("dataset.path", "model.", "train.batch_size=8"))
        )
        return Part(name, "bench", budget, argv, "bench.log", shown)

    tests = cuda_tests()  # none found: the part is reported as such (no node ids would run them all)
    parts = [
        Part(
            "GPU-only tests",
            "tests",
            60,
            [sys.executable, "-m", "pytest", "-m", "not slow", "-rs", "-p", "no:cacheprovider"]
            + ["--junitxml", str(work / "junit.xml"), *tests]
            if tests
            else [],
            "tests.log",
            "tests that skip without CUDA",
        ),
        bench("DCGAN 32²", [*dcgan, *MNIST], 40),  # budgets: seconds, on a cumulative schedule
        bench("DCGAN 64²", [*dcgan, *MNIST, "dataset.resolution=64"], 35),
    ]
    r3gan = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("r3gan*.yaml"))
    for preset in BIG_PRESETS + r3gan:
        if (REPO / "conf" / "experiment" / f"{preset}.yaml").is_file():
            # The tiny R3GAN's widths name 4, 8 and 16 px: its presets run at 16 in the dry run.
            resolution = 16 if dry_run and preset.startswith("r3gan") else None
            model, data, note = preset_data(preset, digits, resolution)
            overrides = [f"+experiment={preset}", *data, *tiny.get(model, [])]
            part = bench(preset, overrides, {"biggan32": 50}.get(preset, 40), big=True)
            part.note = note
            parts.append(part)
    parts.append(
        Part(
            "torch.compile",
            "compile",
            60,
            [*gan, "train", *dcgan, *MNIST, *QUIET, "trainer.compile=true", f"train.steps={compile_steps}"]
            + [f"log.every={max(compile_steps // 6, 1)}", f"hydra.run.dir={work / 'compiled'}"],
            "bench.log",
            f"gan train trainer.compile=true, {compile_steps} steps",
            # On a CPU, inductor spends a minute compiling C++: the dry run checks the plumbing only.
            {"TORCH_COMPILE_DISABLE": "1"} if dry_run else {},
        )
    )
    parts.append(
        Part(
            "DCGAN quality",
            "quality",
            100,
            [*gan, "train", "log.progress=false", *MNIST, *quality, f"hydra.run.dir={work / 'quality'}"],
            "train.log",
            "gan train (the defaults" + (", tiny)" if dry_run else ": 4000 steps)"),
        )
    )
    if dry_run:  # tiny work on a shared CPU: generous deadlines, never part of a measurement
        for part in parts:
            part.budget = 90
    return parts


def write_digits(folder: Path, per_class: int) -> None:
    """Coloured MNIST digits (bundled split), one sub-folder per class: CIFAR-shaped data."""
    import numpy as np
    from PIL import Image

    from gan_cli.datasets.mnist import BUNDLED, TEST_FILES, read_idx_pair

    images, labels = read_idx_pair(*(BUNDLED / name for name in TEST_FILES))
    rng = np.random.default_rng(0)
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
        for i, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            tint = rng.uniform(0.3, 1.0, size=3)
            rgb = (images[index, 0, :, :, None] * tint).astype(np.uint8)  # N×1×H×W
            Image.fromarray(rgb).resize((32, 32)).save(folder / str(label) / f"{i}.png")


# --------------------------------------------------------------------------------------------
# Running and reading the parts


def run_part(part: Part, out: Path, timeout: float, env: dict[str, str]) -> None:
    """Runs the part's command with its output appended to its log; kills its whole process
    group at the deadline."""
    started = time.monotonic()
    with open(out / part.log, "a") as log:
        log.write(f"\n===== {part.name}: {' '.join(part.argv)}\n")
        log.flush()
        process = subprocess.Popen(
            part.argv,
            cwd=REPO,
            env={**env, **part.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rc = process.wait(timeout=max(timeout, 1))
            part.result["status"] = "ok" if rc == 0 else f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=10)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
            part.result["status"] = f"timed out after {timeout:.0f} s"
        seconds = time.monotonic() - started
        log.write(f"===== {part.name}: {part.result['status']}, {seconds:.1f} s\n")
    part.result["seconds"] = round(seconds, 1)


def read_tests(part: Part, junit: Path) -> None:
    counts = {"passed": 0, "skipped": 0, "failed": 0}
    details = []
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
            if outcome is None:
                counts["passed"] += 1
            elif outcome.tag == "skipped":
                counts["skipped"] += 1
                details.append(f"skipped {name}: {outcome.get('message')}")
            else:
                counts["failed"] += 1
                details.append(f"{outcome.tag} {name}: {(outcome.get('message') or '')[:200]}")
    part.result.update(counts, details=details)
    if part.result["status"].startswith("failed (exit 5)"):
        part.result["status"] = "no tests found"


def maybe_round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def read_bench(part: Part, saved: Path, peak: float | None) -> None:
    if not saved.is_file():
        return
    results = json.loads(saved.read_text())["results"]
    mine, plain = results["as configured"], results.get("plain eager fp32")
    part.result.update(
        images_per_sec=round(mine["images_per_sec"], 1),
        plain_images_per_sec=round(plain["images_per_sec"], 1) if plain else None,
        speedup=round(mine["images_per_sec"] / plain["images_per_sec"], 2) if plain else None,
        steps_per_sec=round(mine["steps_per_sec"], 2),
        # None where PyTorch's FLOP counter cannot follow the step (R1's double backward).
        gflops_per_image=maybe_round(mine["gflops_per_image"], 3),
        tflops_per_sec=maybe_round(mine["tflops_per_sec"], 3),
        pct_of_peak=round(100 * mine["tflops_per_sec"] / peak, 1)
        if peak and mine["tflops_per_sec"]
        else None,
        peak_memory_mib=round(mine["peak_memory_mb"]),
        memory_kind=mine["memory_kind"],
        spread=[round(x, 1) for x in mine["spread"]],
    )


def records(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line of a killed run
            pass
    return out


def read_compile(part: Part, run: Path, eager: dict[str, Any] | None) -> None:
    logged = [r for r in records(run) if "images_per_sec" in r]
    if logged:
        # The first interval holds the compilation; the median of the rest is the speed.
        part.result["first_interval_sec"] = round(logged[0]["elapsed_sec"], 1)
        part.result["steps_done"] = logged[-1]["step"]
    if len(logged) >= 3:
        speed = statistics.median(r["images_per_sec"] for r in logged[1:])
        part.result["images_per_sec"] = round(speed, 1)
        if eager and eager.get("images_per_sec"):
            part.result["vs_eager_as_configured"] = round(speed / eager["images_per_sec"], 2)
        if eager and eager.get("plain_images_per_sec"):
            part.result["speedup"] = round(speed / eager["plain_images_per_sec"], 2)
    part.result["checkpoint_written"] = (run / "checkpoints" / "last.pt").is_file()


def read_quality(part: Part, run: Path, out: Path) -> None:
    logged = records(run)
    fids = [r for r in logged if "fid_classifier" in r]
    if fids:
        part.result.update(
            fid_classifier=round(fids[-1]["fid_classifier"], 3),
            fid_step=fids[-1]["step"],
            fid_curve=[[r["step"], round(r["fid_classifier"], 3)] for r in fids],
        )
        for key in ("kid_classifier", "precision_classifier", "recall_classifier", "class_modes"):
            if key in fids[-1]:
                part.result[key] = round(fids[-1][key], 4)
    speeds = [r["images_per_sec"] for r in logged if "images_per_sec" in r]
    if speeds:
        part.result["images_per_sec"] = round(statistics.median(speeds), 1)
        part.result["train_sec"] = round(max(r.get("elapsed_sec", 0) for r in logged), 1)
    if (run / "samples" / "final.png").is_file():
        shutil.copyfile(run / "samples" / "final.png", out / "quality_final.png")


# --------------------------------------------------------------------------------------------
# The report


def fmt(value: Any, suffix: str = "") -> str:
    return "—" if value is None else f"{value}{suffix}"


def notes(part: Part) -> str:
    r = part.result
    if part.kind == "env":
        return ""
    if part.kind == "tests":
        text = f"{r.get('passed', 0)} passed, {r.get('skipped', 0)} skipped, {r.get('failed', 0)} failed"
        return text + "".join(f"; {d}" for d in r.get("details", []) if not d.startswith("skipped"))
    if part.kind == "bench":
        text = f"{fmt(r.get('gflops_per_image'))} GFLOP/image, {fmt(r.get('steps_per_sec'))} steps/s"
        return text + (f"; {part.note}" if part.note else "")
    if part.kind == "compile":
        text = f"first interval (compiling) {fmt(r.get('first_interval_sec'))} s"
        text += f"; {fmt(r.get('vs_eager_as_configured'), '×')} the uncompiled DCGAN 32² (as configured)"
        return text + ("; checkpoint written" if r.get("checkpoint_written") else "; no checkpoint")
    if part.kind == "quality":
        text = f"classifier FID {fmt(r.get('fid_classifier'))} at step {fmt(r.get('fid_step'))}"
        return text + f" (CPU reference: 2.3 at 4000); {fmt(r.get('train_sec'))} s of training"
    return ""


def report(out: Path, meta: dict[str, Any], env: dict[str, Any], parts: list[Part]) -> None:
    data = {**meta, "environment": env, "parts": {p.name: {"config": p.config, **p.result} for p in parts}}
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    device = env.get("device", "?")
    head = [
        f"# GPU check — {device}{' (dry run, tiny sizes)' if meta['dry_run'] else ''}",
        "",
        f"{env.get('date_utc', '?')} UTC · torch {env.get('torch', '?')} (CUDA {env.get('cuda_runtime')}) · "
        f"driver {env.get('driver', '—')} · gan-cli {env.get('gan_cli_commit', '?')}, "
        f"source {env.get('gan_cli_source_digest', '?')} · peak {fmt(env.get('peak_tflops'))} TFLOP/s "
        f"({env.get('peak_tflops_source', '—')}) · measured bf16 matmul "
        f"{fmt(env.get('matmul_bf16_tflops'))} TFLOP/s",
        "",
        "| part | config | status | s | images/s | plain fp32 images/s | speed-up | TFLOP/s | % of peak "
        "| peak memory (MiB) | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = []
    for p in parts:
        r = p.result
        if not r:
            r = {"status": "not run"}
        cells = [
            p.name,
            f"`{p.config}`" if p.config else "",
            r.get("status", ""),
            fmt(r.get("seconds")),
            fmt(r.get("images_per_sec")),
            fmt(r.get("plain_images_per_sec")),
            fmt(r.get("speedup"), "×"),
            fmt(r.get("tflops_per_sec")),
            fmt(r.get("pct_of_peak"), " %"),
            fmt(r.get("peak_memory_mib")),
            notes(p).replace("|", "/"),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    (out / "results.md").write_text("\n".join(head + rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="folder for results.md, results.json and the logs")
    parser.add_argument("--dry-run", action="store_true", help="the same parts on the CPU at tiny sizes")
    parser.add_argument("--env-report", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.env_report:
        environment_report(*args.env_report, args.dry_run)
        return 0
    if args.out is None:
        parser.error("the output folder is required")

    started = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gan-gpu-check-"))
    env = {**os.environ, "GAN_DATA": str(work / "data"), "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    if args.dry_run:
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU, even where there is a GPU
    meta: dict[str, Any] = {"dry_run": args.dry_run, "argv": sys.argv[1:], "elapsed_sec": 0}
    # env.txt is the report itself; the reporting process's own output goes after it.
    environment = Part("environment", "env", 25, log="env.log")
    environment.argv = [
        sys.executable,
        __file__,
        "--env-report",
        str(work / "env.json"),
        str(out / "env.txt"),
    ]
    environment.argv += ["--dry-run"] if args.dry_run else []
    parts = [environment]
    try:
        run_part(environment, work, environment.budget, env)
        with open(out / "env.txt", "a") as f:
            f.write("\n" + (work / "env.log").read_text(errors="replace"))
        facts = json.loads((work / "env.json").read_text()) if (work / "env.json").is_file() else {}
        peak = facts.get("peak_tflops")
        digits = work / "digits"
        write_digits(digits, 10 if args.dry_run else 100)
        parts += plan(args.dry_run, work, digits, peak)
        report(out, meta, facts, parts)
        deadline = environment.budget
        for part in parts[1:]:
            deadline += part.budget
            if not part.argv:
                part.result = {"status": "none found", "seconds": 0}
                continue
            run_part(part, out, started + deadline - time.monotonic(), env)
            try:
                if part.kind == "tests":
                    read_tests(part, work / "junit.xml")
                elif part.kind == "bench":
                    read_bench(part, work / f"bench-{slug(part.name)}.json", peak)
                elif part.kind == "compile":
                    eager = next(p.result for p in parts if p.name == "DCGAN 32²")
                    read_compile(part, work / "compiled", eager)
                elif part.kind == "quality":
                    read_quality(part, work / "quality", out)
            except Exception as err:  # one unreadable result must not cost the remaining parts
                part.result["status"] += f"; results unreadable: {err!r}"
            meta["elapsed_sec"] = round(time.monotonic() - started, 1)
            report(out, meta, facts, parts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print((out / "results.md").read_text())
    failed = [p.name for p in parts if p.result.get("status") != "ok"]
    print(
        f"gpu_check: {len(parts) - len(failed)} of {len(parts)} parts ok in {meta['elapsed_sec']} s", end=""
    )
    print(f"; not ok: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
