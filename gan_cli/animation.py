"""The training as a film: a run's fixed-latent sample grids, in step order, as one animated GIF."""

from __future__ import annotations

import re
from pathlib import Path

from gan_cli.errors import GanError
from gan_cli.files import atomic_write

FRAMES_MS = 8000  # the whole film lasts about this long, whatever the number of grids...
FRAME_MS = (40, 300)  # ...within these bounds per frame (browsers slow frames under 20 ms down)
HOLD_MS = 2000  # the last frame stays this long before the loop starts over
STEP_GRID = re.compile(r"step_(\d+)\.png")


def progress_frames(samples_dir: Path) -> list[Path]:
    """``step_*.png`` by step number, then ``final.png``."""
    steps = [
        (int(m.group(1)), p) for p in samples_dir.glob("step_*.png") if (m := STEP_GRID.fullmatch(p.name))
    ]
    frames = [p for _, p in sorted(steps)]
    final = samples_dir / "final.png"
    return frames + [final] if final.exists() else frames


def write_progress_gif(samples_dir: Path, out: Path) -> Path:
    """Assemble the sample grids of ``samples_dir`` into an animated GIF at ``out`` (loops forever).

    ``final.png`` is left out when it is the same picture as the last step grid (a run whose
    length is a multiple of ``sample.every`` draws both from the same weights). The file is
    written under a temporary name and renamed, so a reader never sees half a GIF.
    """
    from PIL import Image

    paths = progress_frames(samples_dir)
    if not paths:
        raise GanError(f"no sample grids (step_*.png, final.png) in {samples_dir}")
    frames = []
    for path in paths:
        with Image.open(path) as img:
            frames.append(img.convert("L" if img.mode in ("1", "L", "LA", "I", "I;16") else "RGB"))
    if len(frames) > 1 and paths[-1].name == "final.png" and _same(frames[-2], frames[-1]):
        frames.pop()
    # Mixed grayscale and colour frames (never from one run, but cheap to allow) become colour.
    mode = "L" if all(f.mode == "L" for f in frames) else "RGB"
    size = frames[0].size
    frames = [f.convert(mode).resize(size) if (f.mode, f.size) != (mode, size) else f for f in frames]
    each = max(FRAME_MS[0], min(FRAME_MS[1], FRAMES_MS // len(frames)))
    durations = [each] * (len(frames) - 1) + [HOLD_MS]

    with atomic_write(out, suffix=".gif") as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return out


def _same(a, b) -> bool:
    return a.size == b.size and a.mode == b.mode and a.tobytes() == b.tobytes()
