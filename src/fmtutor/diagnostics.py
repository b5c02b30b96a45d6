"""Training diagnostics: how noisy is the gradient of a loss?

    gradient_variance(loss_fn, model, n_batches)
        = sum over parameters p of Var_batches(d loss / d p),

the trace of the covariance of the minibatch gradient, estimated from ``n_batches`` independent
minibatches (unbiased variance, n_batches - 1 in the denominator). A loss whose gradient varies
wildly from batch to batch needs a smaller learning rate or more batches for the same progress;
chapter 5 uses this to show why the plain denoising score matching loss is hard to train near
t = 1, where its target -x0 / beta_t blows up, while noise prediction stays tame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["gradient_variance"]


def gradient_variance(
    loss_fn: Callable[[nn.Module, torch.Generator | None], Tensor],
    model: nn.Module,
    n_batches: int = 16,
    generator: torch.Generator | None = None,
) -> float:
    """Trace of the minibatch-gradient covariance of ``loss_fn(model, generator)`` (a scalar loss that
    draws its own batch from ``generator``, as for ``Trainer``), over ``n_batches`` draws."""
    if isinstance(n_batches, bool) or not isinstance(n_batches, int) or n_batches < 2:
        raise ValueError(f"n_batches must be an integer >= 2 (a variance needs two draws), got {n_batches!r}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(model, generator), got {type(loss_fn).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require gradients")
    grads = []
    for _ in range(n_batches):
        loss = loss_fn(model, generator)
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            raise ValueError(
                f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
                f"{tuple(loss.shape) if isinstance(loss, Tensor) else ''}"
            )
        grads.append(
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, allow_unused=True) if g is not None])
        )
    return float(torch.stack(grads).var(dim=0).sum())
