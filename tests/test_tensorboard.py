"""TensorBoard logging: what is written can be read back (a missing package: test_trackers)."""

import torch

from gan_cli.images import sample_picture
from gan_cli.trackers.tensorboard import TensorBoardTracker


def test_scalars_grids_and_the_config_are_written_and_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = TensorBoardTracker(tmp_path, {"train": {"steps": 20}})
    board.scalars(10, {"step": 10, "d_loss": 0.5, "fid_classifier": 12.0, "bad": float("nan"), "note": "x"})
    board.scalars(20, {"step": 20, "d_loss": 0.25})
    board.picture(10, "samples", sample_picture(torch.rand(4, 1, 8, 8) * 2 - 1))
    board.picture(10, "points", sample_picture(torch.randn(50, 2)))
    board.close("finished")
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert sorted(events.Tags()["scalars"]) == ["d_loss", "fid_classifier"]
    assert [(e.step, e.value) for e in events.Scalars("d_loss")] == [(10, 0.5), (20, 0.25)]
    grid = events.Images("samples")[0]
    assert (grid.width, grid.height) == (2 + 2 * 10, 2 + 2 * 10)  # 2×2 grid of 8 px, 2 px borders
    assert events.Images("points")[0].width == 512
    (config,) = events.Tensors("config/text_summary")
    assert "steps: 20" in config.tensor_proto.string_val[0].decode()


def test_training_with_the_switch_on_writes_losses_grad_norms_and_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gan_cli.training.loop import train
    from tests.conftest import tiny_config

    train(tiny_config(tmp_path, "log.tensorboard=true"), tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"} <= set(
        events.Tags()["scalars"]
    )
    assert [e.step for e in events.Scalars("d_loss")] == [2, 4]
    assert [e.step for e in events.Images("samples")] == [0, 2, 4]  # the start, then every 2 steps
