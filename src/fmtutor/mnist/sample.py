"""Sampling MNIST digits: classifier-free guidance, epsilon-to-velocity conversion, ODE solvers, grids.

Classifier-free guidance mixes the conditional and the unconditional prediction of one network
(trained with labels dropped to ``NULL_LABEL``):

    v_w(x, t | y) = v(x, t | null) + w * (v(x, t | y) - v(x, t | null)),

w = 1 is the plain conditional field, w = 0 the unconditional one, w > 1 sharpens the class.
Both branches run as one batch of 2B. For an epsilon network the same mix is taken of the
predicted noise, then converted to a velocity by ``fmtutor.sampling.converted_field``: the
conversion is affine in the prediction at fixed (x, t), so mixing before or after gives the same
field. The conversion divides by alpha_t, which is 0 at t = 0, so epsilon grids start at
``t_start`` > 0 (default ``EPSILON_T_START``), and near t = 0 it multiplies the network's error by
1 / alpha_t: an epsilon network's sampler therefore clips the implied clean image to [-1, 1] by
default (``clip``), as DDPM samplers do. Velocity networks are sampled unclipped unless asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .._validate import check_batch, check_callable, check_choice, check_count, check_real, check_writable
from ..paths import PREDICTIONS, GaussianPath
from ..sampling import converted_field, sample_ode
from ..solvers import Field, steps_for_nfe
from .conditioning import IMAGE_SHAPE, NULL_LABEL, check_labels

__all__ = [
    "MNIST_PREDICTIONS",
    "EPSILON_T_START",
    "check_sampling",
    "guided_field",
    "clipped_velocity",
    "velocity_field",
    "sample",
    "make_grid",
    "save_grid",
    "class_labels",
]

MNIST_PREDICTIONS = ("velocity", "epsilon")  # the subset of paths.PREDICTIONS the MNIST networks are trained for
EPSILON_T_START = 1e-2


def guided_field(model: nn.Module, w: float) -> Field:
    """The guided prediction u + w (c - u) of ``model(x, t, y)`` as a field ``f(x, t, y=...)``."""
    check_callable(model, "model", "model(x, t, y)")
    w = check_real(w, "w")

    def field(x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        y = check_labels(y, x.shape[0], x.device)
        if w == 1.0:
            return model(x, t, y)
        null = torch.full_like(y, NULL_LABEL)
        if w == 0.0:
            return model(x, t, null)
        cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])).chunk(2)
        return uncond + w * (cond - uncond)

    field.__name__ = f"guided_w{w:g}"
    return field


def clipped_velocity(field: Field, path: GaussianPath, source: str) -> Field:
    """The velocity of ``field`` (predicting ``source``) with its implied clean image clipped to [-1, 1].

    x1_hat = convert(prediction -> 'x1') is clamped to the pixel range, the noise is re-derived from
    x_t as eps = (x - alpha_t x1_hat) / beta_t (the predicted noise where beta_t = 0), and
    v = d_alpha x1_hat + d_beta eps. Where x1_hat already lies in [-1, 1] this is the plain conversion.
    DDPM/DDIM samplers clip the same way ("clip_denoised"); it tames the 1 / alpha_t blow-up of an
    epsilon network's x1_hat near t = 0.
    """
    check_callable(field, "field", "field(x, t, **cond)")
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath, got {type(path).__name__}")
    check_choice("source", source, PREDICTIONS)

    def clipped(x: Tensor, t: Tensor, **cond) -> Tensor:
        prediction = field(x, t, **cond)
        c = path.coefficients(t, x)
        x1 = path.convert(prediction, x, t, source, "x1").clamp(-1.0, 1.0)
        eps = path.convert(prediction, x, t, source, "epsilon")
        inside = c.beta > 1e-6
        eps = torch.where(inside, (x - c.alpha * x1) / torch.where(inside, c.beta, 1.0), eps)
        return c.d_alpha * x1 + c.d_beta * eps

    clipped.__name__ = f"clipped_{source}_to_velocity"
    return clipped


def velocity_field(
    model: nn.Module, w: float = 1.0, prediction: str = "velocity", path: GaussianPath | None = None, clip: bool = False
) -> Field:
    """The guided velocity of a network predicting ``prediction`` ('velocity' or 'epsilon') on ``path``.

    With ``clip`` the implied clean image is clipped to [-1, 1] first (see ``clipped_velocity``).
    """
    check_choice("prediction", prediction, MNIST_PREDICTIONS)
    if path is not None and not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath or None, got {type(path).__name__}")
    field, path = guided_field(model, w), path or GaussianPath("linear")
    if clip:
        return clipped_velocity(field, path, prediction)
    if prediction == "epsilon":
        field = converted_field(field, path, source="epsilon", target="velocity")
    return field


def class_labels(n: int, device: torch.device | str | None = None) -> Tensor:
    """Balanced labels 0, 1, ..., 9, 0, 1, ... of length ``n`` (a long tensor)."""
    return torch.arange(check_count(n, "n"), device=device) % 10


def check_sampling(w: float, nfe: int, solver: str, t_start: float | None) -> None:
    """Refuse sampling arguments ``sample`` cannot use: a non-finite ``w``, an ``nfe`` that is not a
    positive multiple of the solver's evaluations per step, a ``t_start`` outside [0, 1)."""
    check_real(w, "w")
    steps_for_nfe(solver, nfe)
    if t_start is not None:
        check_real(t_start, "t_start", 0.0, 1.0, open_high=True)


@torch.no_grad()
def sample(
    model: nn.Module,
    labels: Tensor,
    w: float = 3.0,
    nfe: int = 50,
    solver: str = "euler",
    prediction: str = "velocity",
    path: GaussianPath | None = None,
    t_start: float | None = None,
    clip: bool | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 500,
    progress: bool = False,
) -> Tensor:
    """Draw one image per label: solve dX/dt = v_w(X, t | y) from X_0 ~ N(0, I) at t_start to t = 1.

    ``labels`` is a long (N,) tensor of digits 0..9 (or ``NULL_LABEL``). ``nfe`` counts guided
    evaluations (each a batch of 2N through the network when w is not 0 or 1) and must be a
    multiple of the solver's evaluations per step (Euler 1, Heun and midpoint 2, RK4 4).
    ``t_start`` defaults to 0 for velocity and ``EPSILON_T_START`` for epsilon networks; ``clip``
    (clip the implied clean image, see ``clipped_velocity``) defaults to on for epsilon networks
    only. Returns (N, 1, 28, 28) images, clamped to the pixel range [-1, 1].
    """
    check_sampling(w, nfe, solver, t_start)
    check_count(batch_size, "batch_size")
    n_steps = steps_for_nfe(solver, nfe)
    device = next(model.parameters()).device
    if not isinstance(labels, Tensor) or labels.ndim != 1:
        raise ValueError(f"labels must be a long tensor of shape (N,), got {getattr(labels, 'shape', labels)!r}")
    labels = check_labels(labels.to(device), labels.shape[0], device)
    if t_start is None:
        t_start = EPSILON_T_START if prediction == "epsilon" else 0.0
    if clip is None:
        clip = prediction == "epsilon"
    field = velocity_field(model.eval(), w, prediction, path, clip)
    x0 = torch.randn(
        (len(labels), *IMAGE_SHAPE), generator=generator, device=generator.device if generator is not None else "cpu"
    ).to(device)
    out = [
        sample_ode(
            field,
            x0[i : i + batch_size],
            n_steps=n_steps,
            method=solver,
            t_start=t_start,
            progress=progress,
            y=labels[i : i + batch_size],
        ).final
        for i in range(0, len(labels), batch_size)
    ]
    return torch.cat(out).clamp_(-1.0, 1.0)


def make_grid(images: Tensor, nrow: int = 10, pad: int = 2) -> np.ndarray:
    """Tile (N, 1, H, W) images in [-1, 1] into one (rows * (H + pad), nrow * (W + pad)) array in [0, 1]."""
    images = check_batch(images, "images")
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    check_count(nrow, "nrow")
    check_count(pad, "pad", minimum=0)
    n, _, h, w = images.shape
    rows = -(-n // nrow)
    grid = torch.ones(rows * (h + pad) + pad, nrow * (w + pad) + pad)
    pixels = ((images.detach().float().cpu()[:, 0] + 1) / 2).clamp(0, 1)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = pixels[i]
    return grid.numpy()


def save_grid(images: Tensor, path: str | Path, nrow: int = 10) -> Path:
    """Write ``make_grid(images, nrow)`` as a greyscale PNG (white digits on black) and return its path."""
    import matplotlib.image

    path = check_writable(path, "path")
    grid = make_grid(images, nrow)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0)
    return path
