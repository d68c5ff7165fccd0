"""``gan attack``: adversarial examples against the dataset's classifier or a trained D.

FGSM — Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples",
arXiv:1412.6572: one step of size ε along the sign of the loss gradient,
x_adv = clip(x + ε · sign(∇_x L(f(x), y))).

PGD — Madry et al. 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks",
arXiv:1706.06083: from a uniform random start in the L∞ ball of radius ε around x, ``steps``
signed-gradient steps of size α = 2.5 ε / steps (their rule), each projected back into the ball
and onto the valid pixel range.

Units: ε (and α) are in [0, 1] pixel units, a fraction of the full intensity range, as in
Goodfellow's MNIST ε = 0.1 and 0.25. Images inside gan-cli are in [-1, 1], twice that range, so
there the perturbation is bounded by 2ε and adversarial images are clamped to [-1, 1].

Two targets. ``classifier``: the small CNN the metrics use (``metrics/classifier.py``), on the
images it was tested on and never trained on, with the cross-entropy of the true label as the
loss. ``d``: the discriminator of a checkpoint, on the first images of its own dataset; D is
right about a real image when it calls it real (its raw output above 0; LSGAN's above 0.5, the
midpoint of its targets), and the loss grows as D's output falls (softplus of the margin).
Training-time input tricks (instance noise, augmentation) are not applied: D is attacked as
the classifier it is on clean images.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gan_cli.commands.data import OVERRIDES
from gan_cli.errors import GanError
from gan_cli.options import Checkpoint, Device, ctrl_c_exits

if TYPE_CHECKING:
    import torch
    from PIL import Image

METHODS = ("fgsm", "pgd")
TARGETS = ("classifier", "d")
SCALE = 2.0  # one unit of the [0, 1] pixel range is two in gan-cli's [-1, 1]
BATCH = 250  # images per forward and backward pass
SHOWN = 8  # images in each picture
AMPLIFY = 10  # the perturbation row shows 10 δ around mid-grey
TILE = 128  # images are upscaled (nearest) to at least this many pixels a side
# D's output above which it calls an image real: the midpoint of the loss's targets (LSGAN: 0
# and 1); for logits, hinge and Wasserstein scores the sign, as ADA's r_t reads it.
REAL_ABOVE = {"lsgan": 0.5}
CSV_NAME = "accuracy.csv"

LossFn = Callable[["torch.Tensor", "torch.Tensor | None"], "torch.Tensor"]  # one loss per image


# ---------------------------------------------------------------- the attacks


def fgsm(loss_fn: LossFn, images: torch.Tensor, labels: torch.Tensor | None, eps: float) -> torch.Tensor:
    """FGSM (Goodfellow et al. 2015): ``images`` (in [-1, 1]) moved by 2ε (ε in pixel units)
    along the sign of the gradient of their loss, clamped to [-1, 1]."""
    import torch

    x = images.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(x, labels).sum(), x)
    return (images + SCALE * eps * grad.sign()).clamp(-1.0, 1.0).detach()


def pgd(
    loss_fn: LossFn,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    eps: float,
    steps: int,
    alpha: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """PGD (Madry et al. 2018): from a start drawn uniformly (with ``generator``, on the CPU) in
    the L∞ ball of radius 2ε around ``images``, ``steps`` steps of 2α along the sign of the
    loss gradient, each projected back into the ball and onto [-1, 1] (ε, α in pixel units)."""
    import torch

    radius, size = SCALE * eps, SCALE * alpha
    start = torch.rand(images.shape, generator=generator).to(images.device) * 2 - 1
    x = (images + radius * start).clamp(-1.0, 1.0)
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(x, labels).sum(), x)
        moved = x.detach() + size * grad.sign()
        x = (images + (moved - images).clamp(-radius, radius)).clamp(-1.0, 1.0)
    return x.detach()


def madry_alpha(eps: float, steps: int) -> float:
    """PGD's step size: 2.5 ε / steps, so the steps can cross the ball from any start."""
    return 2.5 * eps / steps


# ---------------------------------------------------------------- what is attacked


class Target:
    """What is attacked: its raw scores of images, a loss per image that grows as it gets them
    wrong, whether it is right, and what it says about each image (for the pictures)."""

    name: str
    measure: str  # what its accuracy is called in the table
    description: str  # what was attacked, on which images
    device: torch.device  # where its network is

    def scores(self, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, scores: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def correct(self, scores: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def captions(self, scores: torch.Tensor) -> list[str]:
        raise NotImplementedError

    def loss_of(self, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.loss(self.scores(images, labels), labels)


class ClassifierTarget(Target):
    """The dataset's classifier: right when its top class is the label; loss: cross-entropy."""

    name, measure = "classifier", "accuracy"

    def __init__(self, extractor, classes: list[str], description: str):
        self.extractor, self.classes, self.description = extractor, classes, description
        self.device = next(extractor.network.parameters()).device

    def scores(self, images, labels):
        return self.extractor.network(self.extractor.prepare(images))

    def loss(self, scores, labels):
        import torch.nn.functional as F

        return F.cross_entropy(scores, labels, reduction="none")

    def correct(self, scores, labels):
        return scores.argmax(1) == labels

    def captions(self, scores):
        p, k = scores.softmax(1).max(1)
        return [f"{self.classes[int(c)]} {float(q):.0%}" for c, q in zip(k, p)]


class DiscriminatorTarget(Target):
    """A trained D on real images: right when it calls them real (output above ``threshold``);
    loss: softplus(threshold - D(x)), the loss of calling them real, higher as D(x) falls.
    A conditional D reads each image's class label."""

    name, measure = "d", "called real"

    def __init__(self, model, threshold: float, description: str):
        self.model, self.threshold, self.description = model, threshold, description
        self.device = next(model.discriminator.parameters()).device

    def scores(self, images, labels):
        self.model.condition(labels)
        return self.model.discriminator(images).float().flatten()

    def loss(self, scores, labels):
        import torch.nn.functional as F

        return F.softplus(self.threshold - scores)

    def correct(self, scores, labels):
        return scores > self.threshold

    def captions(self, scores):
        return [f"{'real' if s > self.threshold else 'fake'} {s:+.3g}" for s in scores.tolist()]


def accuracy(target: Target, images: torch.Tensor, labels: torch.Tensor | None) -> float:
    """The share of ``images`` ``target`` is right about (classified as labelled, or called real)."""
    import torch

    hits = 0
    with torch.no_grad():
        for x, y in batches(images, labels, target.device):
            hits += int(target.correct(target.scores(x, y), y).sum())
    return hits / max(len(images), 1)


def batches(
    images: torch.Tensor, labels: torch.Tensor | None, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    for start in range(0, len(images), BATCH):
        y = None if labels is None else labels[start : start + BATCH].to(device)
        yield images[start : start + BATCH].to(device), y


# ---------------------------------------------------------------- one run over the ε list


@dataclass
class Shown:
    """The first images of one row of a picture, and what the target said about each."""

    images: torch.Tensor
    captions: list[str]
    right: list[bool]


@dataclass
class Results:
    clean: float = 0.0  # accuracy at ε = 0
    attacked: dict[float, float] = field(default_factory=dict)  # ε -> accuracy
    originals: Shown | None = None
    adversarial: dict[float, Shown] = field(default_factory=dict)


def shown(target: Target, images: torch.Tensor, labels: torch.Tensor | None) -> Shown:
    import torch

    x, y = images[:SHOWN], None if labels is None else labels[:SHOWN]
    with torch.no_grad():
        scores = target.scores(x, y)
    return Shown(x.cpu(), target.captions(scores.cpu()), target.correct(scores, y).tolist())


def run_attack(
    target: Target,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    eps_list: list[float],
    method: str,
    steps: int,
    seed: int,
) -> Results:
    """The target's accuracy on ``images`` as they are and under the attack at each ε, and the
    first ``SHOWN`` images of each for the pictures. PGD's random start for each ε is drawn
    from its own generator seeded with ``seed``, so a value does not depend on the others."""
    import torch

    results = Results(clean=accuracy(target, images, labels))
    generators = {eps: torch.Generator().manual_seed(seed) for eps in eps_list}
    hits = dict.fromkeys(eps_list, 0)
    for i, (x, y) in enumerate(batches(images, labels, target.device)):
        if i == 0:
            results.originals = shown(target, x, y)
        for eps in eps_list:
            if method == "fgsm":
                adv = fgsm(target.loss_of, x, y, eps)
            else:
                adv = pgd(target.loss_of, x, y, eps, steps, madry_alpha(eps, steps), generators[eps])
            with torch.no_grad():
                hits[eps] += int(target.correct(target.scores(adv, y), y).sum())
            if i == 0:
                results.adversarial[eps] = shown(target, adv, y)
    results.attacked = {eps: hits[eps] / len(images) for eps in eps_list}
    return results


# ---------------------------------------------------------------- pictures and files


def eps_name(eps: float) -> str:
    return f"eps_{eps:g}.png"


def picture(title: str, originals: Shown, adversarial: Shown) -> Image.Image:
    """Three rows — the originals, the perturbation ×10 around mid-grey, the adversarial images —
    upscaled (nearest) to at least ``TILE`` pixels, with what the target said under each image
    (green: right, red: wrong)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from gan_cli.images import to_uint8

    delta = adversarial.images - originals.images
    rows = [
        ("original", originals.images, originals),
        (f"perturbation\nx {AMPLIFY}", (AMPLIFY * delta).clamp(-1, 1), None),
        ("adversarial", adversarial.images, adversarial),
    ]
    n, _, h, w = originals.images.shape
    zoom = max(1, math.ceil(TILE / max(h, w)))
    try:  # Pillow's own font, a size up from its 10 px default where FreeType is there to scale it
        font = ImageFont.load_default(size=13)
    except (TypeError, ImportError, OSError):
        font = ImageFont.load_default()
    pad, label_w, title_h, caption_h = 6, 100, 22, 18
    tile_w, tile_h = w * zoom, h * zoom
    width = label_w + n * (tile_w + pad) + pad
    height = title_h + len(rows) * (tile_h + caption_h + pad) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 4), title, fill="black", font=font)
    for r, (label, images, said) in enumerate(rows):
        top = title_h + r * (tile_h + caption_h + pad)
        draw.multiline_text((pad, top + tile_h // 2 - 8), label, fill="black", font=font)
        for i, pixels in enumerate(to_uint8(images)):
            tile = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels))
            left = label_w + i * (tile_w + pad)
            canvas.paste(tile.convert("RGB").resize((tile_w, tile_h), Image.Resampling.NEAREST), (left, top))
            if said is not None:
                text = said.captions[i]
                text_w = draw.textlength(text, font=font)
                colour = (0, 130, 0) if said.right[i] else (200, 0, 0)
                draw.text((left + (tile_w - text_w) / 2, top + tile_h + 2), text, fill=colour, font=font)
    return canvas


def csv_bytes(results: Results, method: str, target: str, n: int) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["eps", "accuracy", "method", "target", "n"])
    writer.writerow([0, f"{results.clean:.6g}", method, target, n])
    for eps, value in results.attacked.items():
        writer.writerow([f"{eps:g}", f"{value:.6g}", method, target, n])
    return text.getvalue().encode()


def write_all(files: dict[Path, Callable[[], bytes]], out: Path) -> None:
    """Write each file (checked new before any work), all or none: when one fails or Ctrl-C
    comes, those already written by this call are removed, and ``out`` if this call made it."""
    from gan_cli.outputs import new_file

    made_out = not out.exists()
    written: list[Path] = []
    try:
        for path, content in files.items():
            with new_file(path) as f:
                f.write(content())
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made_out and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


# ---------------------------------------------------------------- options and loading


def parse_eps(text: str) -> list[float]:
    """``--eps 0.05,0.1``: the values, ascending, each in (0, 1] (pixel units)."""
    values = []
    for item in text.split(","):
        try:
            value = float(item.strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= 1):
            raise GanError(
                f"--eps {text}: give comma-separated values in (0, 1], in pixel units "
                "(0.1 = a tenth of the intensity range), e.g. --eps 0.05,0.1,0.2,0.3"
            )
        values.append(value)
    return sorted(set(values))


def check_choice(value: str, flag: str, valid: tuple[str, ...]) -> None:
    from gan_cli.registry import did_you_mean

    if value not in valid:
        raise GanError(
            f"unknown {flag} '{value}'{did_you_mean(value, list(valid))}; valid: {', '.join(valid)}"
        )


@contextmanager
def classifier_notes() -> Iterator[None]:
    """The classifier's notes (training it, once, when not cached; its test accuracy) as plain
    lines on stderr: a first run on new data spends a minute or more there."""
    logger = logging.getLogger("gan_cli.metrics.classifier")
    handler = logging.StreamHandler(sys.stderr)
    level, logger.level = logger.level, logging.INFO
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def classifier_target(
    overrides: list[str], n: int, device: torch.device
) -> tuple[ClassifierTarget, torch.Tensor, torch.Tensor]:
    """The classifier of the data the overrides name, and up to ``n`` of its held-out images."""
    from gan_cli.commands.data import composed, load
    from gan_cli.metrics.classifier import held_out, trained_classifier

    cfg = composed(overrides)
    data = load(cfg)
    if len(data.shape) != 3:
        raise GanError(f"gan attack needs images; {data.description} holds {data.shape[0]}-D points")
    if data.labels is None or data.num_classes < 2:
        raise GanError(
            f"{data.description} has no class labels for the classifier target; "
            "attack a trained D instead (--target d --ckpt RUN)"
        )
    indices = held_out(len(data))[:n]
    with classifier_notes():
        extractor = trained_classifier(data, cfg["data"]["root"], device)
    classes = list(data.classes or [str(i) for i in range(data.num_classes)])
    description = f"the {data.description} classifier, {len(indices)} held-out images"
    return ClassifierTarget(extractor, classes, description), data.take(indices), data.labels[indices]


def d_target(
    ckpt: Path, n: int, device: torch.device
) -> tuple[DiscriminatorTarget, torch.Tensor, torch.Tensor | None]:
    """The D of ``ckpt`` and the first ``n`` images of the checkpoint's own dataset."""
    import torch

    from gan_cli.commands.evaluate import evaluation_notes
    from gan_cli.sampling import load_run
    from gan_cli.training.checkpoint import resolve_path
    from gan_cli.training.loop import load_data
    from gan_cli.training.steps import AdversarialStep

    ckpt = resolve_path(ckpt)
    parts, state = load_run(ckpt)
    model, shape = parts.model, tuple(state["data_shape"])
    name = model.registered_name
    if not issubclass(model.step_class, AdversarialStep):
        raise GanError(
            f"{ckpt} holds a {name} model, whose discriminators score two domains, not one batch of "
            "images; --target d takes a model with one D"
        )
    if getattr(model.discriminator, "energy", False):
        raise GanError(f"{ckpt}: {name}'s D scores reconstruction energies, not real against fake")
    if len(shape) != 3:
        raise GanError(f"gan attack needs images; {ckpt} was trained on {shape[0]}-D points")
    if parts.tricks.data_shape(shape) != shape:
        raise GanError(f"{ckpt}: its D scores packs of images (pacgan), not one image at a time")
    with evaluation_notes():
        data = load_data(state["config"])
    if tuple(data.shape) != shape:
        raise GanError(
            f"{ckpt} was trained on data of shape {shape}, but its dataset now loads as {data.shape}"
        )
    labels = None
    if model.num_classes:
        if data.labels is None:
            raise GanError(f"{ckpt} holds a class-conditional D, but its dataset now loads without labels")
        labels = data.labels[: min(n, len(data))]
    images = data.take(torch.arange(min(n, len(data))))
    model.to(device).eval().requires_grad_(False)
    threshold = REAL_ABOVE.get(getattr(parts.loss, "registered_name", ""), 0.0)
    description = f"D of {ckpt} (step {state['step']}), the first {len(images)} images of {data.description}"
    return DiscriminatorTarget(model, threshold, description), images, labels


# ---------------------------------------------------------------- the command


def attack_command(
    overrides: Annotated[list[str] | None, OVERRIDES] = None,
    eps: Annotated[
        str,
        typer.Option(
            help="Comma-separated ε in (0, 1], in pixel units: a fraction of the intensity range "
            "(images in [-1, 1] move by up to 2ε)."
        ),
    ] = "0.05,0.1,0.2,0.3",
    method: Annotated[str, typer.Option(help="fgsm (one step) or pgd (iterated, random start).")] = "fgsm",
    steps: Annotated[int, typer.Option(help="PGD's steps, of size 2.5 ε / steps each.")] = 10,
    n: Annotated[int, typer.Option("-n", "--count", help="Images attacked.")] = 1000,
    target: Annotated[
        str,
        typer.Option(help="classifier: the dataset's classifier (held-out images); d: a checkpoint's D."),
    ] = "classifier",
    ckpt: Checkpoint = None,  # type: ignore[assignment]  # needed by --target d only
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder for eps_<ε>.png and accuracy.csv (existing files are refused)."
        ),
    ] = Path("attack"),
    device: Device = "auto",
    seed: Annotated[int, typer.Option(help="Seed of PGD's random start.")] = 0,
) -> None:
    """Attack the dataset's classifier or a trained D with adversarial examples (FGSM, PGD) and
    report its accuracy against ε.

    ε is in [0, 1] pixel units (Goodfellow et al.'s MNIST ε = 0.1, 0.25): images, in [-1, 1]
    inside gan-cli, move by at most 2ε per pixel and stay in [-1, 1]. The classifier target is
    evaluated on the images it was not trained on; with --ckpt the data is the checkpoint's own
    (its first N images) and overrides are refused. Writes eps_<ε>.png (originals, perturbation
    ×10, adversarial images, with what the target says under each) and accuracy.csv.

    Examples:

      gan attack dataset.split=test                        # FGSM on MNIST's classifier

      gan attack dataset.split=test --method pgd --steps 20 --eps 0.1,0.3 --out pgd/

      gan attack --target d --ckpt outputs/DATE/TIME -n 500 --out attack_d/
    """
    from rich.console import Console
    from rich.table import Table

    from gan_cli.outputs import check_new
    from gan_cli.training.devices import OPTION, pick_device

    eps_list = parse_eps(eps)
    check_choice(method, "--method", METHODS)
    check_choice(target, "--target", TARGETS)
    if steps < 1:
        raise GanError(f"--steps must be at least 1, got {steps}")
    if n < 1:
        raise GanError(f"-n must be at least 1, got {n}")
    if target == "d" and ckpt is None:
        raise GanError("--target d attacks a trained D: name its checkpoint or run folder with --ckpt")
    if target == "classifier" and ckpt is not None:
        raise GanError("--ckpt names a checkpoint whose D to attack: add --target d")
    if ckpt is not None and overrides:
        raise GanError(
            f"with --ckpt the data is the checkpoint's own; leave out the overrides ({' '.join(overrides)})"
        )
    paths = [out / eps_name(e) for e in eps_list] + [out / CSV_NAME]
    for path in paths:
        check_new(path, "--out")
    chosen = pick_device(device, OPTION)
    if target == "d":
        attacked, images, labels = d_target(ckpt, n, chosen)
    else:
        attacked, images, labels = classifier_target(overrides or [], n, chosen)
    if len(images) < n:
        typer.echo(f"note: {len(images)} images to attack, not {n}: {attacked.description}", err=True)
    results = run_attack(attacked, images, labels, eps_list, method, steps, seed)

    def drawn(e: float) -> Callable[[], bytes]:
        def png() -> bytes:
            title = (
                f"{method.upper()}, eps = {e:g} (pixel units), {attacked.measure} "
                f"{results.clean:.3f} -> {results.attacked[e]:.3f} on {len(images)} images"
            )
            buffer = io.BytesIO()
            picture(title, results.originals, results.adversarial[e]).save(buffer, format="PNG")
            return buffer.getvalue()

        return png

    files = {out / eps_name(e): drawn(e) for e in eps_list}
    files[out / CSV_NAME] = lambda: csv_bytes(results, method, target, len(images))
    with ctrl_c_exits("nothing was written"):
        write_all(files, out)
    extra = f", {steps} steps, seed {seed}" if method == "pgd" else ""
    table = Table()
    table.add_column("ε (pixel units)", justify="right")
    table.add_column(attacked.measure, justify="right")
    table.add_row("0 (clean)", f"{results.clean:.3f}")
    for e, value in results.attacked.items():
        table.add_row(f"{e:g}", f"{value:.3f}")
    console = Console()
    console.print(f"{method.upper()}{extra} against {attacked.description}")
    console.print(table)
    console.print(f"wrote {len(files)} files to {out}: {', '.join(p.name for p in files)}")
