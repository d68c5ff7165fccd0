"""Style-based generator (StyleGAN), with StyleGAN2's weight demodulation as an option.

Karras, Laine & Aila 2018, "A Style-Based Generator Architecture for Generative Adversarial
Networks", arXiv:1812.04948: a mapping network (8 equalized linear layers at 1/100 learning
rate) turns z into an intermediate latent w; the synthesis network starts from a learned
constant 4×4 tensor, and each layer is steered by a style, an affine map of w — by adaptive
instance normalization (``style: adain``) — plus per-pixel noise with a learned per-layer
strength for the stochastic detail. Style mixing regularization: during training a random
share of samples switch to the styles of a second latent at a random layer, so neighbouring
layers do not learn to rely on each other. Sampling can truncate in W towards the running mean
w (ψ < 1 trades variety for typicality).

Karras et al. 2019, "Analyzing and Improving the Image Quality of StyleGAN" (StyleGAN2),
arXiv:1912.04958: ``style: modulated`` scales the convolution weights by the style instead of
normalizing activations, and ``style: demodulated`` also rescales each output feature map to
unit expected variance (weight demodulation), which removes the droplet artefacts of AdaIN.
The generator uses StyleGAN2's skip architecture (an RGB output per resolution, upsampled and
summed) for every ``style``, so it trains without progressive growing; D is ProGAN's (as in
StyleGAN), and the training recipe — non-saturating loss, lazy R1, EMA of G — is ``trick=stylegan``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.models.base import GAN
from gan_cli.models.equalized import LEAKY_GAIN, EqualizedLinear, leaky_relu, pixel_norm
from gan_cli.models.inputs import Inputs
from gan_cli.models.progan import ProgressiveDiscriminator, level_widths
from gan_cli.registry import MODELS
from gan_cli.schema import Fraction, PositiveFloat, PositiveInt, Probability

Style = Literal["adain", "modulated", "demodulated"]
COARSE_LEVELS = 2  # the paper's "coarse" styles: resolutions 4×4 and 8×8 (what --mix takes from the rows)


class MappingNetwork(nn.Module):
    """z -> w through an MLP; tracks the mean w (for truncation) while training."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float, w_avg_beta: float):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(
            EqualizedLinear(a, b, LEAKY_GAIN, lr_mul) for a, b in zip(dims[:-1], dims[1:])
        )
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z)  # z normalized to the sphere, as the paper's input layer
        for layer in self.layers:
            w = leaky_relu(layer(w))
        if self.training:
            self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w


def modulated_conv(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool
) -> torch.Tensor:
    """Convolve each sample with the weight scaled by its styles (one per input channel); with
    ``demodulate``, each output map is rescaled to unit expected variance. Computed as StyleGAN2's
    unfused path — scale the input, one ordinary convolution, scale the output — which equals
    the per-sample modulated weights and runs as one batched convolution."""
    x = F.conv2d(x * styles[:, :, None, None], weight, padding=weight.shape[-1] // 2)
    if demodulate:  # 1 / ||w'_o|| per sample and output map, with w'_oi = w_oi s_i
        norms = styles.pow(2) @ weight.pow(2).sum((2, 3)).T
        x = x * (norms + 1e-8).rsqrt()[:, :, None, None]
    return x


class StyleLayer(nn.Module):
    """A 3×3 convolution (after 2× upsampling when ``up``) steered by one style, with noise,
    bias and LeakyReLU."""

    def __init__(self, w_in: int, w_out: int, w_dim: int, resolution: int, up: bool, style: Style):
        super().__init__()
        self.up, self.style = up, style
        self.weight = nn.Parameter(torch.randn(w_out, w_in, 3, 3))
        self.weight_scale = 1 / math.sqrt(w_in * 9)  # equalized learning rate
        self.bias = nn.Parameter(torch.zeros(w_out))
        # AdaIN: a scale (around 1) and a shift per output map; modulation: a scale per input map.
        adain = style == "adain"
        self.affine = EqualizedLinear(w_dim, 2 * w_out if adain else w_in, bias_init=0.0 if adain else 1.0)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        # Fixed noise for sampling, so a latent always gives the same image.
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        weight = self.weight * self.weight_scale
        if self.style == "adain":
            x = F.conv2d(x, weight, padding=1)
        else:
            x = modulated_conv(x, weight, self.affine(w), self.style == "demodulated")
        noise = torch.randn_like(x[:, :1]) if self.training else self.noise_const
        x = leaky_relu(x + self.noise_strength * noise + self.bias[:, None, None]) * LEAKY_GAIN
        if self.style == "adain":
            scale, shift = self.affine(w)[:, :, None, None].chunk(2, dim=1)
            x = F.instance_norm(x) * (1 + scale) + shift
        return x


class ToRGB(nn.Module):
    """A 1×1 convolution modulated (not demodulated) by a style: one resolution's RGB output."""

    def __init__(self, w_in: int, channels: int, w_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, w_in, 1, 1))
        self.weight_scale = 1 / math.sqrt(w_in)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.affine = EqualizedLinear(w_dim, w_in, bias_init=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        rgb = modulated_conv(x, self.weight * self.weight_scale, self.affine(w), demodulate=False)
        return rgb + self.bias[:, None, None]


class SynthesisNetwork(nn.Module):
    """From a learned 4×4 constant up to the data's resolution; one style per layer.

    Style ``i`` steers ``layers[i]``; level l's RGB output uses style 2l + 1 (so 2 per level).
    """

    def __init__(self, widths: list[int], channels: int, w_dim: int, style: Style):
        super().__init__()
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        layers = [StyleLayer(widths[0], widths[0], w_dim, 4, False, style)]
        for level, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            resolution = 4 * 2**level
            layers += [
                StyleLayer(w_in, w_out, w_dim, resolution, True, style),
                StyleLayer(w_out, w_out, w_dim, resolution, False, style),
            ]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.ModuleList(ToRGB(w, channels, w_dim) for w in widths)
        self.num_styles = 2 * len(widths)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        """ws: N × num_styles × w_dim."""
        # A copy, not a view: a view of a parameter made under no_grad breaks PyTorch's FLOP
        # counter (gan bench), and the copy of a 4×4 block costs nothing.
        x = self.const.expand(len(ws), -1, -1, -1).contiguous()
        rgb = None
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i])
            if i % 2 == 0:  # a level's last layer: add its RGB output to the upsampled sum
                level_rgb = self.to_rgb[i // 2](x, ws[:, i + 1])
                rgb = (
                    level_rgb
                    if rgb is None
                    else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + level_rgb
                )
        return rgb


class _Generator(nn.Module):
    def __init__(self, mapping: MappingNetwork, synthesis: SynthesisNetwork, mixing_prob: float):
        super().__init__()
        self.mapping = mapping
        self.synthesis = synthesis
        self.mixing_prob = mixing_prob

    def styles(self, z: torch.Tensor, truncation: float | None = None) -> torch.Tensor:
        """N × num_styles × w_dim: w for every layer; while training, a ``mixing_prob`` share of
        samples switch to a second latent's w from a random layer on (style mixing)."""
        w = self.mapping(z)
        if truncation is not None:
            w = self.mapping.w_avg.lerp(w, truncation)
        count = self.synthesis.num_styles
        if not (self.training and self.mixing_prob > 0):
            return w[:, None].expand(-1, count, -1)
        # Per sample and without reading the cut on the host: a mask over the layer index.
        n, device = len(z), z.device
        cut = torch.randint(1, count, (n, 1, 1), device=device)
        cut = torch.where(torch.rand(n, 1, 1, device=device) < self.mixing_prob, cut, count)
        layer = torch.arange(count, device=device)[None, :, None]
        return torch.where(layer < cut, w[:, None], self.mapping(torch.randn_like(z))[:, None])

    def forward(self, z: torch.Tensor, truncation: float | None = None) -> torch.Tensor:
        return self.synthesis(self.styles(z, truncation))


@MODELS.register("stylegan")
class StyleGAN(GAN):
    truncates_in_w = True  # `gan sample --truncation ψ` pulls w towards the mean w, z is untouched

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        z_dim: PositiveInt = 512,  # latent size
        w_dim: PositiveInt = 512,  # intermediate latent (style) size
        mapping_layers: PositiveInt = 8,  # depth of the mapping network
        mapping_lr_mul: PositiveFloat = 0.01,  # learning-rate multiplier of the mapping network
        channel_base: PositiveInt = 16384,  # feature maps at resolution r: channel_base / r ...
        channel_max: PositiveInt = 512,  # ... at most this many
        style: Style = "adain",  # adain (StyleGAN), modulated or demodulated (StyleGAN2) convolutions
        mixing_prob: Probability = 0.9,  # share of training samples with mixed styles
        w_avg_beta: Fraction = 0.995,  # decay of the tracked mean w
        group_size: PositiveInt = 4,  # D's minibatch stddev group
    ):
        super().__init__()
        widths = level_widths(data_shape, channel_base, channel_max, "stylegan")
        self.z_dim = z_dim
        mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul, w_avg_beta)
        self.generator = _Generator(
            mapping, SynthesisNetwork(widths, data_shape[0], w_dim, style), mixing_prob
        )
        self.discriminator = ProgressiveDiscriminator(widths, (d_input_shape or data_shape)[0], group_size)

    def generate(self, inputs: Inputs, ema: bool = True, truncation: float | None = None) -> torch.Tensor:
        """Samples; ``truncation`` ψ: w = mean w + ψ (w - mean w). The output is linear in
        training, clipped to [-1, 1] when shown."""
        return self.current_generator(ema)(inputs["z"], truncation).clamp(-1, 1)

    def mix(
        self, z_rows: torch.Tensor, z_cols: torch.Tensor, ema: bool = True, truncation: float | None = None
    ) -> torch.Tensor:
        """The style-mixing table of the paper's figure 3: image (i, j) has row i's coarse
        styles (4×4 and 8×8: pose, shape) and column j's finer ones, row-major."""
        G = self.current_generator(ema)
        rows, cols = G.styles(z_rows, truncation), G.styles(z_cols, truncation)
        cut = 2 * COARSE_LEVELS
        ws = torch.cat(
            [
                rows[:, None, :cut].expand(-1, len(z_cols), -1, -1),
                cols[None, :, cut:].expand(len(z_rows), -1, -1, -1),
            ],
            dim=2,
        )
        return G.synthesis(ws.flatten(0, 1)).clamp(-1, 1)
