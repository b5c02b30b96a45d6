"""A small class-conditional UNet for 28 x 28 images: ``UNet()(x, t, y) -> velocity like x``.

Three resolutions (28, 14, 7) with ``channels`` (c1, c2, c3). Each level has one residual block on
the way down and one on the way up (fed the skip connection); the 7 x 7 bottleneck has a
residual block, self-attention, and another residual block. Every residual block receives the
(t, y) embedding as a per-channel scale and shift (FiLM):

    h = conv(SiLU(GN(x))),   h = GN(h) * (1 + scale(e)) + shift(e),   out = skip(x) + conv(SiLU(h)).

The output convolution starts at zero, so an untrained network predicts the zero field.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .conditioning import ConditionEmbedding, check_inputs

__all__ = ["UNet", "ResBlock"]


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """Residual block (B, c_in, H, W) -> (B, c_out, H, W) modulated by an embedding (B, emb_dim)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Sequential(_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.film = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * c_out))
        self.norm2 = _norm(c_out)
        self.conv2 = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """Two 3 x 3 convolutions, the second normalisation scaled and shifted by the embedding ``emb`` ``(B, E)``
        (FiLM), plus the skip connection: ``(B, C, H, W)`` -> ``(B, C_out, H, W)``."""
        h = self.conv1(x)
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(h)


class Attention(nn.Module):
    """Multi-head self-attention over the H * W positions of a feature map, with a residual."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.norm = _norm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        """Self-attention over the H x W positions of ``x`` ``(B, C, H, W)``, added to ``x``."""
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (B, H*W, C)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """Class-conditional UNet velocity field on (B, 1, 28, 28); about 1.5 M parameters by default.

    ``forward(x, t, y)``: x (B, 1, 28, 28), t float or (B,) in [0, 1], y long (B,) in 0..10 or None.
    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        emb_dim: int = 128,
        attention: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if len(channels) != 3 or any(c < 1 or c % min(8, c) for c in channels):
            raise ValueError(f"channels must be three positive widths divisible by 8, got {channels}")
        c1, c2, c3 = channels
        self.config = {"channels": tuple(channels), "emb_dim": emb_dim, "attention": attention, "dropout": dropout}
        self.embed = ConditionEmbedding(emb_dim)
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.down = nn.ModuleList(
            [ResBlock(c1, c1, emb_dim, dropout), ResBlock(c1, c2, emb_dim, dropout), ResBlock(c2, c3, emb_dim, dropout)]
        )
        self.pool = nn.ModuleList(
            [nn.Conv2d(c1, c1, 3, stride=2, padding=1), nn.Conv2d(c2, c2, 3, stride=2, padding=1)]
        )
        self.mid1, self.mid2 = ResBlock(c3, c3, emb_dim, dropout), ResBlock(c3, c3, emb_dim, dropout)
        self.attn = Attention(c3) if attention else nn.Identity()
        self.up = nn.ModuleList(
            [
                ResBlock(2 * c3, c2, emb_dim, dropout),
                ResBlock(2 * c2, c1, emb_dim, dropout),
                ResBlock(2 * c1, c1, emb_dim, dropout),
            ]
        )
        self.unpool = nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest") for _ in range(2)])
        self.out = nn.Sequential(_norm(c1), nn.SiLU(), nn.Conv2d(c1, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor, t: Tensor | float, y: Tensor | None = None) -> Tensor:
        """The prediction ``(B, 1, 28, 28)`` for images ``x`` ``(B, 1, 28, 28)`` at times ``t`` (a float or
        ``(B,)``) and labels ``y`` ``(B,)`` (``NULL_LABEL``: no label; ``None``: no label for any)."""
        x, t, y = check_inputs(x, t, y, self)
        emb = self.embed(t, y)
        h, skips = self.conv_in(x), []
        for i, block in enumerate(self.down):  # 28 -> 14 -> 7
            h = block(h, emb)
            skips.append(h)
            if i < len(self.pool):
                h = self.pool[i](h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for i, block in enumerate(self.up):  # 7 -> 14 -> 28
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.unpool):
                h = self.unpool[i](h)
        return self.out(h)
