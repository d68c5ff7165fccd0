"""PSNR and SSIM of outputs against their targets (super-resolution, paired translation).

PSNR: 10·log10(1 / MSE) for images in [0, 1]. SSIM: Wang, Bovik, Sheikh & Simoncelli 2004, "Image
Quality Assessment: From Error Visibility to Structural Similarity" — an 11×11 Gaussian window
(σ = 1.5), K1 = 0.01, K2 = 0.03, over the valid part of the image. Colour images are compared on
their luminance (Y of ITU-R BT.601 YCbCr), as super-resolution papers report them. Both are the
mean over images. Where the inputs hold a low-resolution image, the bicubic upscaling of it is
scored beside (``*_bicubic``): the baseline a super-resolver has to beat.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.registry import METRICS

BT601 = (65.481, 128.553, 24.966)  # RGB in [0, 1] -> Y in [16, 235]
WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def luminance(images: torch.Tensor) -> torch.Tensor:
    """N×1×H×W in [0, 1]: grey images as they are, colour ones' Y channel (BT.601, 16..235 / 255)."""
    x = (images.float() + 1) / 2
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(BT601, device=x.device)[None, :, None, None]
    return (16 + (x * weights).sum(1, keepdim=True)) / 255


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, for images in [0, 1]."""
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-12))


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, for one-channel images in [0, 1] at least ``WINDOW`` pixels a side."""
    g = torch.exp(-((torch.arange(WINDOW, device=a.device) - WINDOW // 2) ** 2) / (2 * SIGMA**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :])[None, None]

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = K1**2, K2**2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index.flatten(1).mean(1)


def scores(outputs: torch.Tensor, targets: torch.Tensor, suffix: str = "") -> dict[str, float]:
    a, b = luminance(outputs), luminance(targets)
    record = {f"psnr{suffix}": psnr(a, b).mean().item()}
    if min(a.shape[-2:]) >= WINDOW:
        record[f"ssim{suffix}"] = ssim(a, b).mean().item()
    return record


@METRICS.register("psnr_ssim")
class PsnrSsim(Metric):
    def __call__(self, ev: Evaluation) -> dict[str, float]:
        if ev.targets is None or ev.outputs.dim() != 4 or ev.outputs.shape != ev.targets.shape:
            return {}
        record = scores(ev.outputs, ev.targets)
        low = None if ev.inputs is None else ev.inputs.named.get("low_res")
        if low is not None:
            bicubic = F.interpolate(
                low.float(), size=ev.targets.shape[-2:], mode="bicubic", align_corners=False
            )
            record |= scores(bicubic.clamp(-1, 1), ev.targets, "_bicubic")
        return record
