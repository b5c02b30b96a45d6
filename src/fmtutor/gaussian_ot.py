"""Between two Gaussians everything about couplings is a closed form: the ground truth of chapter 8.

For p0 = N(m0, S0) and p1 = N(m1, S1), the optimal transport map for the cost |x - y|^2 is affine,

    T(x) = m1 + A (x - m0),    A = S0^{-1/2} (S0^{1/2} S1 S0^{1/2})^{1/2} S0^{-1/2}   (symmetric, > 0),

and W2^2(p0, p1) = |m1 - m0|^2 + tr(S0 + S1 - 2 (S0^{1/2} S1 S0^{1/2})^{1/2}).

Any *jointly Gaussian* coupling with cross-covariance K = Cov(x0, x1) makes x_t = t x1 + (1 - t) x0
Gaussian, and the marginal field E[x1 - x0 | x_t = x] of flow matching is linear regression:

    u_t(x) = (m1 - m0) + Cov(x1 - x0, x_t) Cov(x_t)^{-1} (x - m_t),      m_t = (1 - t) m0 + t m1,
    Cov(x_t) = (1 - t)^2 S0 + t^2 S1 + t (1 - t) (K + K^T),
    Cov(x1 - x0, x_t) = (1 - t) (K^T - S0) + t (S1 - K).

K = 0 is the independent coupling (plain CFM); K = S0 A is the OT coupling x1 = T(x0), whose field
is u_t(x) = (m1 - m0) + (A - I) ((1 - t) I + t A)^{-1} (x - m_t): every particle moves on a straight
line at constant speed, so one Euler step is exact.

*The Schrodinger bridge.* The entropic OT plan min E|x0 - x1|^2 - eps H(pi) with eps = 2 sigma^2 is the
static Schrodinger bridge for a Brownian motion sigma W; between Gaussians it is jointly Gaussian with

    K_sigma = (S0^{1/2} D S0^{-1/2} - sigma^2 I) / 2,      D = (4 S0^{1/2} S1 S0^{1/2} + sigma^4 I)^{1/2}

(Janati et al. 2020; Bunne et al. 2023), the K whose joint precision has off-diagonal block -I / sigma^2,
so that the plan's density is exp(-|x0 - x1|^2 / (2 sigma^2)) times a function of x0 and one of x1.
sigma -> 0 gives K = S0 A (OT), sigma -> infinity K -> 0 (independent). Schrodinger-bridge CFM adds the
bridge's noise to the path, x_t = t x1 + (1 - t) x0 + sigma sqrt(t (1 - t)) eps, so that

    Cov(x_t) gains sigma^2 t (1 - t) I   and   Cov(target, x_t) gains sigma^2 (1 - 2t) / 2 I

for its pathwise target x1 - x0 + sigma (1 - 2t) / (2 sqrt(t (1 - t))) eps; its marginal field is the
same linear regression with these covariances (``GaussianCouplingField.bridge``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._validate import (
    as_time,
    check_batch,
    check_callable,
    check_count,
    check_finite,
    check_positive,
    check_real,
    check_same_kind,
)
from .solvers import Field

__all__ = [
    "sqrtm_psd",
    "Gaussian",
    "AffineMap",
    "gaussian_ot_map",
    "gaussian_w2",
    "bridge_cross_covariance",
    "GaussianCouplingField",
    "field_distance",
]


def sqrtm_psd(a: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite ``(D, D)`` matrix, in its dtype:

        a^{1/2} = V diag(sqrt(l)) V^T,    a = V diag(l) V^T  (eigendecomposition, ``torch.linalg.eigh``),

    with eigenvalues that round-off pushed below zero clamped to zero. A non-square, non-symmetric or
    indefinite matrix (an eigenvalue below -1e-6 times the largest in size) is refused.
    """
    if not isinstance(a, Tensor) or not a.is_floating_point():
        raise TypeError(f"a must be a floating-point tensor, got {getattr(a, 'dtype', type(a).__name__)}")
    if a.ndim != 2 or a.numel() == 0 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a must be a non-empty square matrix (D, D), got shape {tuple(a.shape)}")
    vals, vecs = torch.linalg.eigh(_symmetric(check_finite(a, "a"), "a"))
    if vals.min() < -1e-6 * max(1.0, vals.abs().max().item()):
        raise ValueError(f"a must be positive semi-definite, its smallest eigenvalue is {vals.min().item():.3g}")
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def _as_float(value: object, name: str) -> Tensor:
    if not isinstance(value, (Tensor, list, tuple, int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a tensor (or a list of numbers), got {type(value).__name__}")
    try:
        x = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a tensor of numbers, got {value!r}") from err
    return check_finite(x if x.is_floating_point() else x.to(torch.get_default_dtype()), name)


def _moments(mean: object, cov: object, names: tuple[str, str]) -> tuple[Tensor, Tensor]:
    """A mean ``(D,)`` and a symmetric positive semi-definite cov ``(D, D)`` of one dtype, checked by ``names``."""
    m_name, c_name = names
    mean, cov = _as_float(mean, m_name), _as_float(cov, c_name)
    d = mean.shape[0] if mean.ndim == 1 else -1
    if d < 1 or cov.shape != (d, d):
        raise ValueError(
            f"{m_name} must be (D,) and {c_name} (D, D) with D >= 1, got {tuple(mean.shape)} and {tuple(cov.shape)}"
        )
    return mean, _symmetric(check_same_kind(cov, mean, c_name, m_name), c_name)


def _symmetric(cov: Tensor, name: str) -> Tensor:
    if not torch.allclose(cov, cov.T, atol=1e-6 * max(1.0, cov.abs().max().item())):
        raise ValueError(f"{name} must be symmetric")
    return cov


def _covariances(cov0: object, cov1: object) -> tuple[Tensor, Tensor]:
    """Two symmetric ``(D, D)`` matrices of one dtype and size, D >= 1."""
    cov0, cov1 = _as_float(cov0, "cov0"), _as_float(cov1, "cov1")
    for name, cov in (("cov0", cov0), ("cov1", cov1)):
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
            raise ValueError(f"{name} must be a square (D, D) matrix with D >= 1, got shape {tuple(cov.shape)}")
    if cov1.shape != cov0.shape:
        raise ValueError(f"cov0 and cov1 must have one size, got {tuple(cov0.shape)} and {tuple(cov1.shape)}")
    return _symmetric(cov0, "cov0"), _symmetric(check_same_kind(cov1, cov0, "cov1", "cov0"), "cov1")


def _two_gaussians(mean0: object, cov0: object, mean1: object, cov1: object) -> tuple[Tensor, ...]:
    """Source and target moments, checked as ``_moments`` does and of one dtype and dimension."""
    mean0, cov0 = _moments(mean0, cov0, ("mean0", "cov0"))
    mean1, cov1 = _moments(mean1, cov1, ("mean1", "cov1"))
    if mean1.shape != mean0.shape:
        raise ValueError(
            f"mean0 and mean1 must have one dimension D, got {tuple(mean0.shape)} and {tuple(mean1.shape)}"
        )
    return mean0, cov0, check_same_kind(mean1, mean0, "mean1", "mean0"), check_same_kind(cov1, cov0, "cov1", "cov0")


@dataclass(frozen=True)
class AffineMap:
    """x -> shift + matrix (x - center), applied to a batch ``(B, D)``."""

    matrix: Tensor
    center: Tensor
    shift: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        x = check_batch(x, "x", self.matrix.shape[0])
        return self.shift.to(x) + (x - self.center.to(x)) @ self.matrix.to(x).T


def gaussian_ot_map(mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor) -> AffineMap:
    """The optimal transport map T(x) = m1 + A (x - m0) from N(m0, S0) to N(m1, S1) (S0 invertible)."""
    mean0, cov0, mean1, cov1 = _two_gaussians(mean0, cov0, mean1, cov1)
    root0 = sqrtm_psd(cov0)
    inv_root0 = torch.linalg.inv(root0)
    a = inv_root0 @ sqrtm_psd(root0 @ cov1 @ root0) @ inv_root0
    return AffineMap(matrix=0.5 * (a + a.T), center=mean0, shift=mean1)


def gaussian_w2(mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor) -> Tensor:
    """W2 between N(m0, S0) and N(m1, S1): sqrt(|m1 - m0|^2 + tr(S0 + S1 - 2 (S0^1/2 S1 S0^1/2)^1/2))."""
    mean0, cov0, mean1, cov1 = _two_gaussians(mean0, cov0, mean1, cov1)
    root0 = sqrtm_psd(cov0)
    w2 = (mean1 - mean0).pow(2).sum() + torch.trace(cov0 + cov1 - 2 * sqrtm_psd(root0 @ cov1 @ root0))
    return w2.clamp(min=0).sqrt()


def bridge_cross_covariance(cov0: Tensor, cov1: Tensor, sigma: float) -> Tensor:
    """K = Cov(x0, x1) ``(D, D)`` of the entropic OT plan (eps = 2 sigma^2) between N(., S0) and N(., S1):

        K = (S0^{1/2} D S0^{-1/2} - sigma^2 I) / 2,    D = (4 S0^{1/2} S1 S0^{1/2} + sigma^4 I)^{1/2},

    the static Schrodinger bridge of a Brownian motion sigma W (S0 invertible). sigma = 0 gives the OT
    coupling's S0 A; the means do not enter.
    """
    cov0, cov1 = _covariances(cov0, cov1)
    sigma = check_positive(sigma, "sigma", allow_zero=True)
    root0 = sqrtm_psd(cov0)
    eye = torch.eye(cov0.shape[0], dtype=cov0.dtype, device=cov0.device)
    d = sqrtm_psd(4 * root0 @ cov1 @ root0 + sigma**4 * eye)
    return 0.5 * (root0 @ d @ torch.linalg.inv(root0) - sigma**2 * eye)


class GaussianCouplingField:
    """The exact marginal field u_t(x) = E[target | x_t = x] of a jointly Gaussian coupling.

    ``cross`` is K = Cov(x0, x1) ``(D, D)``; ``sigma`` > 0 adds the Brownian bridge's noise
    sigma sqrt(t (1 - t)) eps to the path (and its pathwise term to the target). Build it with
    ``independent`` (K = 0), ``optimal`` (the OT coupling) or ``bridge`` (the Schrodinger bridge,
    K = ``bridge_cross_covariance``, with its noise). Call as ``field(x, t)``, ``x`` ``(B, D)``, ``t`` a
    float or ``(B,)``.
    """

    def __init__(
        self, mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor, cross: Tensor, sigma: float = 0.0
    ) -> None:
        self.mean0, self.cov0, self.mean1, self.cov1 = _two_gaussians(mean0, cov0, mean1, cov1)
        cross = check_same_kind(_as_float(cross, "cross"), self.cov0, "cross", "cov0")
        if cross.shape != self.cov0.shape:
            raise ValueError(f"cross must be (D, D) = {tuple(self.cov0.shape)}, got {tuple(cross.shape)}")
        self.cross, self.sigma = cross, float(check_positive(sigma, "sigma", allow_zero=True))

    @classmethod
    def independent(cls, mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor) -> GaussianCouplingField:
        mean0, cov0 = _moments(mean0, cov0, ("mean0", "cov0"))
        return cls(mean0, cov0, mean1, cov1, torch.zeros_like(cov0))

    @classmethod
    def optimal(cls, mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor) -> GaussianCouplingField:
        """The coupling x1 = T(x0) of the OT map: K = Cov(x0, A x0) = S0 A."""
        ot = gaussian_ot_map(mean0, cov0, mean1, cov1)
        cov0 = _moments(mean0, cov0, ("mean0", "cov0"))[1]
        return cls(mean0, cov0, mean1, cov1, cov0 @ ot.matrix)

    @classmethod
    def bridge(cls, mean0: Tensor, cov0: Tensor, mean1: Tensor, cov1: Tensor, sigma: float) -> GaussianCouplingField:
        """The Schrodinger bridge of sigma W: the entropic plan's K (eps = 2 sigma^2) and the bridge's noise."""
        mean0, cov0, mean1, cov1 = _two_gaussians(mean0, cov0, mean1, cov1)
        return cls(mean0, cov0, mean1, cov1, bridge_cross_covariance(cov0, cov1, sigma), sigma)

    def moments(self, t: float) -> tuple[Tensor, Tensor]:
        """Mean m_t ``(D,)`` and covariance ``(D, D)`` of x_t at one time t in [0, 1]."""
        t = check_real(t, "t", 0.0, 1.0)
        s0, s1, k = self.cov0, self.cov1, self.cross
        noise = self.sigma**2 * t * (1 - t) * torch.eye(s0.shape[0], dtype=s0.dtype, device=s0.device)
        cov = (1 - t) ** 2 * s0 + t**2 * s1 + t * (1 - t) * (k + k.T) + noise
        return (1 - t) * self.mean0 + t * self.mean1, cov

    def sample_path(self, n: int, t: float, generator: torch.Generator | None = None) -> Tensor:
        """n draws of x_t ~ N(m_t, Cov(x_t)) ``(n, D)``: where the field matters."""
        mean, cov = self.moments(t)
        z = torch.randn(check_count(n, "n"), mean.shape[0], generator=generator, dtype=mean.dtype)
        return mean + z @ sqrtm_psd(cov).T

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        x = check_batch(x, "x", self.mean0.shape[0])
        t = as_time(t, x.shape[0], x).to(self.mean0)
        s0, s1, k = self.cov0, self.cov1, self.cross
        tb = t[:, None, None]
        eye = torch.eye(s0.shape[0], dtype=s0.dtype, device=s0.device)
        cov_t = (1 - tb) ** 2 * s0 + tb**2 * s1 + tb * (1 - tb) * (k + k.T + self.sigma**2 * eye)
        cross_t = (1 - tb) * (k.T - s0) + tb * (s1 - k) + self.sigma**2 * (1 - 2 * tb) / 2 * eye
        m_t = (1 - t)[:, None] * self.mean0 + t[:, None] * self.mean1
        gain = torch.linalg.solve(cov_t, cross_t.transpose(1, 2)).transpose(1, 2)  # cross_t cov_t^{-1}
        u = (self.mean1 - self.mean0) + (gain @ (x.to(self.mean0) - m_t)[:, :, None]).squeeze(-1)
        return u.to(x)


@torch.no_grad()
def field_distance(
    field: Field,
    reference: GaussianCouplingField,
    times: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9),
    n: int = 2000,
    generator: torch.Generator | None = None,
    on: GaussianCouplingField | None = None,
) -> float:
    """The RMS distance sqrt(mean_t E |field(x, t) - reference(x, t)|^2) over ``times``, with x drawn
    from the path of ``on`` (default: ``reference``'s own marginal p_t), n points per time."""
    check_callable(field, "field", "field(x, t)")
    if not isinstance(reference, GaussianCouplingField):
        raise TypeError(f"reference must be a GaussianCouplingField, got {type(reference).__name__}")
    if on is not None and not isinstance(on, GaussianCouplingField):
        raise TypeError(f"on must be a GaussianCouplingField or None, got {type(on).__name__}")
    on = reference if on is None else on
    if not isinstance(times, (tuple, list)) or not times:
        raise TypeError(f"times must be a non-empty tuple of numbers in [0, 1], got {times!r}")
    total = 0.0
    for t in times:
        x = on.sample_path(n, check_real(t, "times", 0.0, 1.0), generator)
        tt = torch.full((x.shape[0],), float(t), dtype=x.dtype)
        out = field(x, tt)
        if not isinstance(out, Tensor) or out.shape != x.shape:
            raise ValueError(
                f"field returned {getattr(out, 'shape', type(out).__name__)} for x of shape {tuple(x.shape)}"
            )
        total += (check_finite(out, "field(x, t)") - reference(x, tt)).pow(2).sum(1).mean().item()
    return (total / len(times)) ** 0.5


class Gaussian:
    """N(mean, cov) as a ``Sampleable``: x = mean + L z with L the Cholesky factor of cov."""

    def __init__(self, mean: Tensor, cov: Tensor):
        self.mean, cov = _moments(mean, cov, ("mean", "cov"))
        self.root, self.dim = torch.linalg.cholesky(cov), self.mean.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(n, self.dim, generator=generator, dtype=self.mean.dtype)
        return self.mean + z @ self.root.T
