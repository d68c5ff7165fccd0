"""The self-attention block of SAGAN, used by SAGAN and BigGAN in G and D.

Zhang, Goodfellow, Metaxas & Odena 2018, "Self-Attention Generative Adversarial Networks",
arXiv:1805.08318: convolutions only see a neighbourhood, so every position also attends to all
others — attention weights softmax(f(x)^T g(x)) over 1x1-conv projections — and the result,
scaled by a learned gamma that starts at 0, is added back to x. The network first relies on
local cues and learns to use distant ones as gamma grows.

As the authors' code (and BigGAN's): keys and values are max-pooled 2x2, a quarter of the
positions for a quarter of the memory, with f and g at C/8 channels and values at C/2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        inner, values = max(1, channels // 8), max(1, channels // 2)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, values, 1, bias=False)
        self.out = nn.Conv2d(values, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        query = self.query(x).flatten(2)  # n × inner × hw
        key = F.max_pool2d(self.key(x), 2).flatten(2)  # n × inner × hw/4
        value = F.max_pool2d(self.value(x), 2).flatten(2)  # n × values × hw/4
        attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # n × hw × hw/4
        attended = (value @ attention.transpose(1, 2)).view(n, -1, h, w)
        return x + self.gamma * self.out(attended)
