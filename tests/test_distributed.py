"""Data-parallel training on the CPU with gloo and 2 processes: the weights stay identical
across ranks, and a torchrun job writes one run folder, once."""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gan_cli import components
from gan_cli.datasets.toy_mixtures import ring8
from gan_cli.training import distributed
from tests.conftest import TINY_CLI_RUN, tiny_config


def train_a_few_steps(rank: int, world: int, init_file: str, out: str, cfg: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    parts = components.build(cfg, (2,), 0)
    model = parts.model
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-2)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-2)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    torch.manual_seed(rank)  # as training does: each rank its own latents ...
    batches = ring8(n=512).shard(rank, world).batches(16, seed=rank)  # ... and its own data
    first = batches().images
    for i in range(3):
        step(i + 1, batches)
    torch.save({"state": model.state_dict(), "first": first}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.slow
def test_gradient_averaging_keeps_ranks_identical(tmp_path):
    cfg = tiny_config(tmp_path, "model=mlp", "dataset=ring8")
    mp.spawn(train_a_few_steps, args=(2, str(tmp_path / "init"), str(tmp_path), cfg), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert not torch.equal(ranks[0]["first"], ranks[1]["first"])  # they saw different data
    for name, tensor in ranks[0]["state"].items():
        assert torch.equal(tensor, ranks[1]["state"][name]), name
    assert not distributed.active()  # the test process itself never joined


def test_one_process_is_not_distributed():
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    grads = [torch.ones(3)]
    distributed.average_gradients(grads)
    assert torch.equal(grads[0], torch.ones(3))
    assert distributed.share("x") == "x"


@pytest.mark.slow
def test_torchrun_writes_one_run_folder_once(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "gan_cli", "train"]
    overrides = [*TINY_CLI_RUN, "train.steps=4", "log.every=2", "log.progress=false"]
    env = {**os.environ, "GAN_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*torchrun, *overrides], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    # Both ends: a rank's own error comes first, torchrun's summary of it last.
    assert result.returncode == 0, f"{result.stderr[:4000]}\n...\n{result.stderr[-1500:]}"
    runs = [p.parent for p in tmp_path.glob("outputs/*/*/.hydra")]
    assert len(runs) == 1
    records = [json.loads(line) for line in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]  # rank 1 wrote nothing
    assert (runs[0] / "train.log").read_text().count("done: steps 0 to 4") == 1
    assert (runs[0] / "checkpoints" / "last.pt").exists()
