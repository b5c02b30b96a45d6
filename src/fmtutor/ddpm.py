"""DDPM in its own discrete terms (Ho et al. 2020), and the one conversion to the book's time.

DDPM counts steps n = 0, 1, ..., T with n = 0 the *clean* data and n = T (nearly) pure noise:

    q(x_n | x_{n-1}) = N(sqrt(1 - b_n) x_{n-1}, b_n I),   b_n linear from 1e-4 to 0.02, T = 1000,
    abar_n = prod_{i <= n} (1 - b_i),   q(x_n | x_0) = N(sqrt(abar_n) x_0, (1 - abar_n) I).

**The conversion.** The book's time runs the other way (t = 0 noise, t = 1 data), so
``index_to_time(n) = 1 - n / T`` and ``time_to_index(t) = round(T (1 - t))``. DDPM's clean x_0 is the
book's x1, and at index n the book's coefficients are alpha = sqrt(abar_n), beta = sqrt(1 - abar_n).
Networks always receive the book's t, so one network can serve DDPM and flow matching alike.
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ._validate import check_batch, check_callable, check_count, check_finite, check_like, check_positive, check_real
from .solvers import Field, Solution

__all__ = ["DDPM"]


class DDPM:
    """The discrete forward chain and its samplers. Buffers are indexed by n = 0..T (``abar[0] = 1``)."""

    def __init__(self, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.T = check_count(T, "T (the chain's length)")
        check_positive(beta_start, "beta_start")
        check_positive(beta_end, "beta_end")
        if not beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        self.betas = torch.cat([torch.zeros(1), torch.linspace(beta_start, beta_end, T)]).double()
        self.alpha_bars = torch.cumprod(1 - self.betas, dim=0)

    def __repr__(self) -> str:
        return f"DDPM(T={self.T})"

    def _index(self, n: Tensor | int, name: str = "n", low: int = 0) -> Tensor:
        """``n`` as a long tensor of DDPM indices in low..T; fractional, NaN or other types are refused."""
        if isinstance(n, bool) or not isinstance(n, (int, Tensor)):
            raise TypeError(f"{name} must be an integer DDPM index or an integer tensor, got {n!r}")
        n = torch.as_tensor(n)
        if n.is_floating_point() or n.is_complex() or n.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer DDPM indices, got dtype {n.dtype}")
        if n.numel() and ((n < low).any() or (n > self.T).any()):
            raise ValueError(f"DDPM index {name} must lie in {low}..{self.T}, got {n.min().item()}..{n.max().item()}")
        return n

    # -- the one place where DDPM's index meets the book's time ---------------------------------
    def index_to_time(self, n: Tensor | int) -> Tensor:
        """Book time t = 1 - n / T for DDPM index n (n = 0 clean -> t = 1; n = T noise -> t = 0)."""
        return 1.0 - self._index(n).to(torch.get_default_dtype()) / self.T

    def time_to_index(self, t: Tensor | float) -> Tensor:
        """DDPM index n = round(T (1 - t)) for book time t in [0, 1]."""
        if isinstance(t, bool) or not isinstance(t, (int, float, Tensor)):
            raise TypeError(f"t must be a float or a tensor of times in [0, 1], got {type(t).__name__}")
        t = check_finite(torch.as_tensor(t, dtype=torch.get_default_dtype()), "t")
        if (t < 0).any() or (t > 1).any():
            raise ValueError(f"t must lie in [0, 1], got {t.min().item():.4g}..{t.max().item():.4g}")
        return torch.round(self.T * (1 - t)).long()

    # -- the forward chain --------------------------------------------------------------------------
    def _abar(self, n: Tensor | int, x: Tensor) -> Tensor:
        n = self._index(n).to(self.alpha_bars.device)
        if n.numel() != 1 and n.shape != (x.shape[0],):
            raise ValueError(f"n must be one index or one per sample, shape ({x.shape[0]},), got {tuple(n.shape)}")
        return self.alpha_bars[n.reshape(-1).expand(x.shape[0])].to(x).reshape(-1, *([1] * (x.ndim - 1)))

    def q_sample(self, x_clean: Tensor, n: Tensor | int, noise: Tensor) -> Tensor:
        """x_n = sqrt(abar_n) x_0 + sqrt(1 - abar_n) noise (closed form of the forward chain)."""
        a = self._abar(n, check_batch(x_clean, "x_clean"))
        check_like(noise, x_clean, "noise", "x_clean")
        return a.sqrt() * x_clean + (1 - a).sqrt() * noise

    def forward_step(self, x_prev: Tensor, n: int, noise: Tensor) -> Tensor:
        """One step of the chain: x_n = sqrt(1 - b_n) x_{n-1} + sqrt(b_n) noise, for n in 1..T."""
        check_like(noise, check_batch(x_prev, "x_prev"), "noise", "x_prev")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.T:
            raise ValueError(f"forward_step needs n in 1..{self.T}, got {n!r}")
        b = self.betas[n].to(x_prev)
        return (1 - b).sqrt() * x_prev + b.sqrt() * noise

    # -- sampling ---------------------------------------------------------------------------------
    def timesteps(self, n_steps: int) -> list[int]:
        """Indices T = tau_K > ... > tau_1 > tau_0 = 0 of a sampler with ``n_steps`` network calls."""
        if check_count(n_steps, "n_steps") > self.T:
            raise ValueError(f"n_steps must lie in 1..{self.T}, got {n_steps}")
        taus = torch.linspace(self.T, 0, n_steps + 1).round().long().tolist()
        return taus

    def ddim_step(
        self,
        eps_model: Field,
        x: Tensor,
        n: int,
        n_prev: int,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        **cond,
    ) -> Tensor:
        """From index n to n_prev < n (Song, Meng, Ermon 2021):

        x0_hat = (x - sqrt(1 - abar_n) eps) / sqrt(abar_n)
        x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - s^2) eps + s z,
        s = eta sqrt((1 - abar_prev) / (1 - abar_n)) sqrt(1 - abar_n / abar_prev).
        eta = 0 is deterministic DDIM; eta = 1 is DDPM's ancestral step with the posterior variance.
        """
        check_callable(eps_model, "eps_model", "eps_model(x, t, **cond)")
        x = check_batch(x, "x")
        for value, name in ((n, "n"), (n_prev, "n_prev")):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer DDPM index, got {value!r}")
        if not 0 <= n_prev < n <= self.T:
            raise ValueError(f"ddim_step needs indices 0 <= n_prev < n <= {self.T}, got n = {n}, n_prev = {n_prev}")
        out = self._step(eps_model, x, n, n_prev, check_real(eta, "eta", 0.0, 1.0), generator, cond)
        return check_finite(out, "the DDIM step's result (is eps_model finite?)")

    def _step(
        self,
        eps_model: Field,
        x: Tensor,
        n: int,
        n_prev: int,
        eta: float,
        generator: torch.Generator | None,
        cond: dict,
    ) -> Tensor:
        """``ddim_step`` without input checks; only the model's output shape is checked."""
        a, a_prev = self.alpha_bars[n].to(x), self.alpha_bars[n_prev].to(x)
        t = (1.0 - torch.tensor(n).to(torch.get_default_dtype()) / self.T).to(x).expand(x.shape[0])  # index_to_time
        eps = eps_model(x, t, **cond)
        if not isinstance(eps, Tensor) or eps.shape != x.shape:
            shape = tuple(eps.shape) if isinstance(eps, Tensor) else type(eps).__name__
            raise ValueError(f"eps_model returned {shape} for x of shape {tuple(x.shape)}; expected the shape of x")
        x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
        s = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).clamp(min=0).sqrt()
        out = a_prev.sqrt() * x0_hat + (1 - a_prev - s**2).clamp(min=0).sqrt() * eps
        if eta > 0 and n_prev > 0:
            out = out + s * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return out

    def sample(
        self,
        eps_model: Field,
        x_T: Tensor,
        n_steps: int | None = None,
        eta: float = 1.0,
        generator: torch.Generator | None = None,
        keep_path: bool = False,
        progress: bool = False,
        **cond,
    ) -> Solution:
        """Run the reverse chain from noise ``x_T`` over ``n_steps`` evenly spaced indices (default T).

        eta = 1: ancestral sampling (respaced when n_steps < T); eta = 0: DDIM. Returns a ``Solution``
        like every solver's: ``final`` the clean sample, ``times`` the book's times of the indices
        (``index_to_time``), ``nfe = n_steps``, and with ``keep_path`` every state ``(n_steps + 1, B, *D)``.
        """
        check_callable(eps_model, "eps_model", "eps_model(x, t, **cond)")
        x = check_batch(x_T, "x_T")
        eta = check_real(eta, "eta", 0.0, 1.0)
        taus = self.timesteps(self.T if n_steps is None else n_steps)
        path = [x]
        for n, n_prev in tqdm(list(zip(taus[:-1], taus[1:])), disable=not progress, desc="DDPM steps"):
            x = self._step(eps_model, x, n, n_prev, eta, generator, cond)
            if keep_path:
                path.append(x)
        check_finite(x, "the sample (is eps_model finite?)")
        times = self.index_to_time(torch.tensor(taus)).to(device=x.device)
        return Solution(times=times, final=x, nfe=len(taus) - 1, path=torch.stack(path) if keep_path else None)
