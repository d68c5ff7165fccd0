"""Adaptive discriminator augmentation (ADA).

Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative Adversarial
Networks with Limited Data" (StyleGAN2-ADA), arXiv:2006.06676: every image D sees, real or
fake, in D's update and in G's, is augmented by a differentiable pipeline in which each op
fires per sample with one probability p. Because each op's distribution can be undone (a
flip or a 90° turn is one of several equally likely outcomes, scalings are lognormal around 1,
shifts are symmetric), G cannot lower its loss by producing augmented images as long as p
stays below about 0.8, so the augmentations do not leak into the samples. p is set by a
controller: every ``interval`` D updates it moves by ``sign(r_t - target)·images/speed_images``,
where r_t = E[sign(D(x_real))] over those updates measures how sure D is of the training set
(overfitting drives it towards 1).

The ops are the paper's ``bgc`` set, in its order and with its distributions: x-flip, 90°
rotations and integer translation (up to 1/8 of the size); isotropic scaling (lognormal, log2
std 0.2), rotation (uniform ±180°, drawn before and after the anisotropic scaling with
probability 1 - sqrt(1 - p) each, so one happens with probability p), anisotropic scaling (log2
std 0.2), fractional translation (std 1/8 of the size); brightness (std 0.2), contrast (log2 std
0.5), luma flip, hue rotation (uniform ±180° about the grey axis), saturation (log2 std 1).
The geometric ops make one affine matrix per sample and the image is resampled once; the colour
ops make one 4×4 matrix per sample, applied once. Images are in [-1, 1], so grey (0) is the
centre of contrast, luma flip, hue and saturation, as in the paper's code.

Departures from the paper's code: resampling is bilinear at the image's own resolution with
mirror padding (``grid_sample``), where the paper upsamples 2× with a wavelet (sym6) filter
after reflect padding and downsamples back, which avoids aliasing when an image shrinks or
turns. Only ``bgc`` (with its ``blit``, ``geom`` and ``color`` parts): no image-space filtering,
noise or cutout. As in the paper's code, single-channel images skip hue and saturation, and luma
flip negates them (a flip about mid-grey); images with other than 1 or 3 channels are refused.
p moves by the images actually seen, clamped to [0, 1), and first moves after ``interval`` D
updates (the paper adjusts after its first iteration and every ``interval`` after that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import Fraction, PositiveInt, Probability
from gan_cli.training import distributed
from gan_cli.tricks.base import Phase, Trick

P_MAX = 1 - 2**-24  # the largest float32 below 1: an adapted p stays in [0, 1), as a given one must

ProbabilityLike = float | torch.Tensor  # p: a number, or a 0-dim tensor on the training device
# n, p, (height, width), device -> n inverse 3×3 matrices (output pixel -> input pixel, centred)
GeometricOp = Callable[[int, ProbabilityLike, tuple[int, int], torch.device], torch.Tensor]
# n, p, device -> n 4×4 matrices acting on homogeneous RGB colours
ColourOp = Callable[[int, ProbabilityLike, torch.device], torch.Tensor]


def _fires(n: int, p: ProbabilityLike, device: torch.device) -> torch.Tensor:
    """Which of n samples an op applies to: each with probability p."""
    return torch.rand(n, device=device) < p


def _pick(fires: torch.Tensor, value: torch.Tensor, default: float) -> torch.Tensor:
    return torch.where(fires, value, torch.full_like(value, default))


def _log2_normal(n: int, std: float, device: torch.device) -> torch.Tensor:
    """2**N(0, std²): a lognormal factor as likely to halve as to double."""
    return torch.exp2(torch.randn(n, device=device) * std)


def _affine(a, b, tx, c, d, ty) -> torch.Tensor:
    """n 3×3 matrices [[a, b, tx], [c, d, ty], [0, 0, 1]] from per-sample entries (numbers are
    shared by all samples; at least one entry is a tensor of n)."""
    given = (a, b, tx, c, d, ty)
    like = next(e for e in given if isinstance(e, torch.Tensor)).float()
    rows = [e.float() if isinstance(e, torch.Tensor) else torch.full_like(like, e) for e in given]
    zero, one = torch.zeros_like(like), torch.ones_like(like)
    return torch.stack([*rows, zero, zero, one], dim=-1).view(-1, 3, 3)


def _rotation(angle: torch.Tensor) -> torch.Tensor:
    return _affine(angle.cos(), -angle.sin(), 0.0, angle.sin(), angle.cos(), 0.0)


# ---- geometric ops: each returns the inverse transform, from output pixels to input pixels ----


def xflip(n, p, size, device):
    """Mirror left-right: when the op fires, flip or not with equal odds (flips: p/2)."""
    flip = _fires(n, p, device) & (torch.rand(n, device=device) < 0.5)
    return _affine(1.0 - 2.0 * flip.float(), 0.0, 0.0, 0.0, 1.0, 0.0)


def rotate90(n, p, size, device):
    """Turn by 0, 90, 180 or 270°, equally likely, when the op fires."""
    angle = torch.randint(0, 4, (n,), device=device) * _fires(n, p, device) * (math.pi / 2)
    cos, sin = angle.cos().round(), angle.sin().round()  # exactly 0 and ±1: cos(π/2) is 6e-17
    return _affine(cos, -sin, 0.0, sin, cos, 0.0)


def integer_translation(n, p, size, device, max_fraction: float = 0.125):
    """Shift by whole pixels, uniform in ±1/8 of the size on each axis."""
    h, w = size
    fires = _fires(n, p, device)  # one draw for both axes
    tx, ty = ((torch.rand(n, device=device) * 2 - 1) * max_fraction * side for side in (w, h))
    tx, ty = tx.round() * fires, ty.round() * fires
    return _affine(1.0, 0.0, -tx, 0.0, 1.0, -ty)


def isotropic_scaling(n, p, size, device, log2_std: float = 0.2):
    s = _pick(_fires(n, p, device), _log2_normal(n, log2_std, device), 1.0)
    return _affine(1 / s, 0.0, 0.0, 0.0, 1 / s, 0.0)


def rotation(n, p, size, device):
    """Turn by a uniform angle in ±180°. Drawn twice (around the anisotropic scaling), each with
    probability 1 - sqrt(1 - p), so that at least one turn happens with probability p."""
    p_turn = 1 - (1 - p) ** 0.5
    angle = (torch.rand(n, device=device) * 2 - 1) * math.pi
    return _rotation(_pick(_fires(n, p_turn, device), angle, 0.0))


def anisotropic_scaling(n, p, size, device, log2_std: float = 0.2):
    """Stretch one axis by s and the other by 1/s."""
    s = _pick(_fires(n, p, device), _log2_normal(n, log2_std, device), 1.0)
    return _affine(1 / s, 0.0, 0.0, 0.0, s, 0.0)


def fractional_translation(n, p, size, device, std: float = 0.125):
    """Shift by N(0, (size/8)²) pixels on each axis."""
    h, w = size
    fires = _fires(n, p, device)  # one draw for both axes
    tx, ty = (torch.randn(n, device=device) * std * side * fires for side in (w, h))
    return _affine(1.0, 0.0, -tx, 0.0, 1.0, -ty)


# ---- colour ops: each returns a 4×4 matrix on homogeneous colours [r, g, b, 1] ----------------


def _colour(linear: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """n 4×4 matrices [[linear, offset], [0, 1]] from n 3×3 and n×3."""
    bottom = torch.eye(4, device=linear.device)[3:].expand(len(linear), 1, 4)
    return torch.cat([torch.cat([linear, offset[:, :, None]], dim=2), bottom], dim=1)


def _eye(n: int, device: torch.device) -> torch.Tensor:
    return torch.eye(3, device=device).expand(n, 3, 3)


def _grey(device: torch.device) -> torch.Tensor:
    """v vᵀ for the grey axis v = (1, 1, 1)/√3: the projection of a colour onto grey."""
    return torch.full((3, 3), 1 / 3, device=device)


def brightness(n, p, device, std: float = 0.2):
    """Add b ~ N(0, 0.2²) to every channel."""
    b = _pick(_fires(n, p, device), torch.randn(n, device=device) * std, 0.0)
    return _colour(_eye(n, device), b[:, None].expand(n, 3))


def contrast(n, p, device, log2_std: float = 0.5):
    """Scale about grey by a lognormal c."""
    c = _pick(_fires(n, p, device), _log2_normal(n, log2_std, device), 1.0)
    return _colour(_eye(n, device) * c[:, None, None], torch.zeros(n, 3, device=device))


def luma_flip(n, p, device):
    """Reflect colours through the plane orthogonal to the grey axis (inverts luma, keeps hue),
    with equal odds when the op fires."""
    flip = (_fires(n, p, device) & (torch.rand(n, device=device) < 0.5)).float()
    linear = _eye(n, device) - 2 * flip[:, None, None] * _grey(device)
    return _colour(linear, torch.zeros(n, 3, device=device))


def hue_rotation(n, p, device):
    """Rotate colours about the grey axis by a uniform angle in ±180° (Rodrigues' formula)."""
    angle = _pick(_fires(n, p, device), (torch.rand(n, device=device) * 2 - 1) * math.pi, 0.0)
    eye = torch.eye(3, device=device)
    cross = (eye.roll(-1, dims=1) - eye.roll(1, dims=1)) / math.sqrt(3)  # [v]ₓ: v × c = [v]ₓ c
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    linear = cos * eye + sin * cross + (1 - cos) * _grey(device)
    return _colour(linear, torch.zeros(n, 3, device=device))


def saturation(n, p, device, log2_std: float = 1.0):
    """Scale the colour's distance from the grey axis by a lognormal s."""
    s = _pick(_fires(n, p, device), _log2_normal(n, log2_std, device), 1.0)
    grey = _grey(device)
    linear = grey + (torch.eye(3, device=device) - grey) * s[:, None, None]
    return _colour(linear, torch.zeros(n, 3, device=device))


BLIT: tuple[GeometricOp, ...] = (xflip, rotate90, integer_translation)
GEOM: tuple[GeometricOp, ...] = (
    isotropic_scaling,
    rotation,  # before and after the anisotropic scaling: see rotation()
    anisotropic_scaling,
    rotation,
    fractional_translation,
)
COLOR: tuple[ColourOp, ...] = (brightness, contrast, luma_flip, hue_rotation, saturation)
PIPELINES = {
    "blit": (BLIT, ()),
    "geom": (GEOM, ()),
    "color": ((), COLOR),
    "bg": (BLIT + GEOM, ()),
    "bgc": (BLIT + GEOM, COLOR),
}


def resample(x: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Each image warped by its inverse transform (output pixel -> input pixel, in pixels from
    the image centre): bilinear, mirror-padded; samples whose transform is the identity are
    returned exactly as they were."""
    h, w = x.shape[2:]
    # In grid_sample's units (the image spans [-1, 1] on each axis): S G S⁻¹, S = diag(2/w, 2/h, 1).
    theta = inverse[:, :2] * torch.tensor([[1.0, h / w, 2 / w], [w / h, 1.0, 2 / h]]).to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    identity = (inverse == torch.eye(3, device=x.device)).flatten(1).all(dim=1)
    return torch.where(identity[:, None, None, None], x, out)


def recolour(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Each image's colours through its 4×4 matrix; one channel: the grey images' share of it
    (the mean of its RGB rows), as the paper's code does."""
    n, c = x.shape[:2]
    linear, offset = matrix[:, :3, :3], matrix[:, :3, 3]
    if c == 1:
        scale, shift = linear.mean(dim=1).sum(dim=1), offset.mean(dim=1)
        out = x * scale[:, None, None, None] + shift[:, None, None, None]
    else:  # elementwise, not a matmul: no reduced-precision matmul path can round the images
        out = sum(linear[:, :, k, None, None] * x[:, k : k + 1] for k in range(3)) + offset[:, :, None, None]
    identity = (matrix == torch.eye(4, device=x.device)).flatten(1).all(dim=1)
    return torch.where(identity[:, None, None, None], x, out)


def augment(
    x: torch.Tensor, p: ProbabilityLike, geometric: tuple[GeometricOp, ...], colour: tuple[ColourOp, ...]
) -> torch.Tensor:
    """Images (N×C×H×W, C = 1 or 3) through the ops, each firing per sample with probability
    p: the geometric ones composed into one resampling, then the colour ones into one matrix.
    Differentiable in ``x``; computed in float32 whatever autocast would do."""
    n, c, h, w = x.shape
    with torch.autocast(x.device.type, enabled=False):
        out = x.float()
        if geometric:
            inverse = torch.eye(3, device=x.device).expand(n, 3, 3)
            for op in geometric:
                inverse = inverse @ op(n, p, (h, w), x.device)
            out = resample(out, inverse)
        colour = [op for op in colour if c == 3 or op not in (hue_rotation, saturation)]
        if colour:
            matrix = torch.eye(4, device=x.device).expand(n, 4, 4)
            for op in colour:
                matrix = op(n, p, x.device) @ matrix
            out = recolour(out, matrix)
    return out.to(x.dtype)


@TRICKS.register("ada")
class ADA(Trick):
    def __init__(
        self,
        p: Fraction = 0.0,  # augmentation probability at the start (adaptive) or throughout
        adaptive: bool = True,  # p follows D's overfitting; false: p as given (or as a schedule sets it)
        target: Probability = 0.6,  # the r_t = E[sign(D(real))] the controller holds (paper: 0.6)
        interval: PositiveInt = 4,  # D updates between adjustments of p (paper: 4)
        speed_images: PositiveInt = 500_000,  # images for p to go from 0 to 1 (paper: ada_kimg = 500)
        pipeline: Literal["blit", "geom", "color", "bg", "bgc"] = "bgc",  # the paper's op groups
    ):
        self.p: ProbabilityLike = p  # read at use time: a schedule may set it (adaptive: false)
        self.adaptive = adaptive
        self.target = target
        self.interval = interval
        self.speed_images = speed_images
        self.geometric, self.colour = PIPELINES[pipeline]
        self.shape: tuple[int, ...] | None = None  # the data's, seen when the run is built
        self.r_t: torch.Tensor | None = None  # the last adjustment's E[sign(D(real))]
        self._reset()
        self._own_p = self.p  # the p this trick last set: anything else came from a schedule

    def _reset(self) -> None:
        # D(real)'s sign sum stays on the device; the counts are known on the host.
        self.sign_sum: torch.Tensor | float = 0.0
        self.outputs_seen = 0
        self.images_seen = 0
        self.updates_seen = 0

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self.shape = shape
        return shape

    def check(self, model, loss) -> None:
        if self.shape is not None and len(self.shape) != 3:
            raise GanError(f"ada needs image data (C×H×W), got samples of shape {self.shape}")
        if self.shape is not None and self.shape[0] not in (1, 3):
            raise GanError(f"ada augments grey or RGB images (1 or 3 channels), got {self.shape[0]}")
        if self.adaptive and getattr(loss, "reads_energy", False):
            raise GanError(
                f"ada's adaptive p reads the sign of D(real), which an energy discriminator (loss "
                f"'{loss.registered_name}') does not give; set trick.ada.adaptive=false"
            )

    def on_step(self, step: int) -> None:
        if self.adaptive and self.p is not self._own_p:
            raise GanError("trick.ada.p follows a schedule and adapts at once: set trick.ada.adaptive=false")

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.p, torch.Tensor) and self.p == 0:
            return x
        return augment(x, self.p, self.geometric, self.colour)

    def d_outputs(self, phase: Phase) -> None:
        if phase.name != "d" or not self.adaptive:
            return
        real_out = phase.real_out.detach()
        self.sign_sum = self.sign_sum + real_out.float().sign().sum()
        self.outputs_seen += real_out.numel()
        # Images, not D's inputs: pacgan, after this trick, packs m images into one along channels.
        channels = self.shape[0] if self.shape else phase.real_in.shape[1]
        self.images_seen += len(phase.real_in) * phase.real_in.shape[1] // channels
        self.updates_seen += 1
        if self.updates_seen >= self.interval:
            self._adjust()

    def _adjust(self) -> None:
        sign_sum, outputs, images = self.sign_sum, self.outputs_seen, self.images_seen
        if distributed.active():  # every rank moves p alike (ranks see batches of one size)
            sign_sum = sign_sum.clone()
            dist.all_reduce(sign_sum)
            outputs, images = outputs * distributed.world_size(), images * distributed.world_size()
        self.r_t = sign_sum / outputs
        p = torch.as_tensor(self.p, dtype=torch.float32, device=sign_sum.device)
        step = (self.r_t - self.target).sign() * images / self.speed_images
        self.p = self._own_p = (p + step).clamp(0, P_MAX)
        self._reset()

    def scalars(self) -> dict[str, torch.Tensor | float]:
        values = {"ada_p": self.p}
        if self.r_t is not None:
            values["ada_r_t"] = self.r_t
        return values

    def state_dict(self) -> dict:
        def host(v):
            return v.detach().cpu() if isinstance(v, torch.Tensor) else v

        return {
            "p": host(self.p),
            "sign_sum": host(self.sign_sum),
            "outputs_seen": self.outputs_seen,
            "images_seen": self.images_seen,
            "updates_seen": self.updates_seen,
        }

    def load_state_dict(self, state: dict) -> None:
        # Tensors come back on the CPU; they join the device at the next adjustment.
        self.p = self._own_p = state["p"]
        self.sign_sum = state["sign_sum"]
        self.outputs_seen = state["outputs_seen"]
        self.images_seen = state["images_seen"]
        self.updates_seen = state["updates_seen"]
