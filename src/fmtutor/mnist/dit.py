"""A small class-conditional diffusion transformer (DiT) for 28 x 28 images.

The image is cut into ``patch`` x ``patch`` patches (28 / patch squared tokens), each linearly
embedded, plus a learned position vector. Each block is conditioned on e = embed(t, y) by adaptive
layer norm with zero-initialised gates (adaLN-Zero, Peebles & Xie 2023):

    (s1, b1, g1, s2, b2, g2) = Linear(SiLU(e)),   modulate(h, s, b) = LN(h) * (1 + s) + b,
    h <- h + g1 * Attention(modulate(h, s1, b1)),   h <- h + g2 * MLP(modulate(h, s2, b2)).

With the gates and the output layer at zero, an untrained DiT is the zero field.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conditioning import IMAGE_SHAPE, ConditionEmbedding, check_inputs

__all__ = ["DiT", "DiTBlock"]


def _modulate(h: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return h * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Pre-norm transformer block on (B, N, dim) tokens with adaLN-Zero conditioning on (B, dim)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)

    def attention(self, h: Tensor) -> Tensor:
        """Multi-head self-attention over the tokens ``h`` ``(B, N, D)``."""
        b, n, d = h.shape
        q, k, v = self.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d / heads)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        """One transformer block on tokens ``h`` ``(B, N, D)``: its layer norms scaled and shifted, and its
        residual branches gated, by the embedding ``emb`` ``(B, D)`` (adaLN-Zero)."""
        s1, b1, g1, s2, b2, g2 = self.ada(emb).chunk(6, dim=-1)
        h = h + g1[:, None] * self.attention(_modulate(self.norm1(h), b1, s1))
        return h + g2[:, None] * self.mlp(_modulate(self.norm2(h), b2, s2))


class DiT(nn.Module):
    """Class-conditional DiT velocity field on (B, 1, 28, 28).

    ``forward(x, t, y)``: x (B, 1, 28, 28), t float or (B,) in [0, 1], y long (B,) in 0..10 or None.
    ``patch`` must divide 28 (2, 4, 7 or 14); the sequence has (28 / patch)^2 tokens of width ``dim``.
    """

    def __init__(self, patch: int = 4, dim: int = 128, depth: int = 6, heads: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        size = IMAGE_SHAPE[-1]
        if patch < 1 or size % patch:
            raise ValueError(f"patch must divide {size} (2, 4, 7 or 14), got {patch}")
        self.config = {"patch": patch, "dim": dim, "depth": depth, "heads": heads, "mlp_ratio": mlp_ratio}
        self.patch, self.grid = patch, size // patch
        self.embed_patches = nn.Conv2d(IMAGE_SHAPE[0], dim, patch, stride=patch)
        self.position = nn.Parameter(0.02 * torch.randn(1, self.grid**2, dim))
        self.embed = ConditionEmbedding(dim)
        self.blocks = nn.ModuleList([DiTBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.head = nn.Linear(dim, patch * patch * IMAGE_SHAPE[0])
        for layer in (self.ada[-1], self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, t: Tensor | float, y: Tensor | None = None) -> Tensor:
        """The prediction ``(B, 1, 28, 28)`` for images ``x`` ``(B, 1, 28, 28)`` at times ``t`` (a float or
        ``(B,)``) and labels ``y`` ``(B,)`` (``NULL_LABEL``: no label; ``None``: no label for any)."""
        x, t, y = check_inputs(x, t, y, self)
        emb = self.embed(t, y)
        h = self.embed_patches(x).flatten(2).transpose(1, 2) + self.position  # (B, N, dim)
        for block in self.blocks:
            h = block(h, emb)
        shift, scale = self.ada(emb).chunk(2, dim=-1)
        h = self.head(_modulate(self.norm(h), shift, scale))  # (B, N, patch * patch * C)
        return self.unpatchify(h)

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, 28, 28) image -> (B, N, p * p * C) tokens: patches in row-major order, pixels row-major
        within a patch. With MNIST's one channel, ``embed_patches`` (a p x p convolution with stride p)
        is ``patchify(x) @ W.reshape(dim, -1).T + b``; ``unpatchify`` inverts the layout."""
        b, g, p, c = x.shape[0], self.grid, self.patch, x.shape[1]
        return x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(b, g * g, p * p * c)

    def unpatchify(self, h: Tensor) -> Tensor:
        """(B, N, p * p * C) tokens -> (B, C, 28, 28) image, the inverse of the patch embedding's layout."""
        b, g, p, c = h.shape[0], self.grid, self.patch, IMAGE_SHAPE[0]
        h = h.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)  # (B, C, gh, p, gw, p)
        return h.reshape(b, c, g * p, g * p)
