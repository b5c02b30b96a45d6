"""A valid call of every public kernel of ``fmtutor`` and the kind of each argument (see bad_inputs.py).

Objects are looked up by their qualified name among the public objects, so a module can move without
a change here. Each ``make`` builds fresh arguments: small (a batch of 4 in 2D), seeded, and fast.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch

from bad_inputs import Recipe, public_objects


@functools.cache
def _objects() -> dict:
    return public_objects()


def O(name: str):  # noqa: E743 - a short name keeps the table below readable
    """The public object with qualified name ``name``."""
    return _objects()[name]


def G(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def X(b: int = 4, d: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, d, generator=G(seed))


def T(b: int = 4) -> torch.Tensor:
    return torch.full((b,), 0.5)


def GRID(n: int = 4) -> torch.Tensor:
    return torch.linspace(0.0, 1.0, n + 1)


def zero_field(x, t, **cond):
    return torch.zeros_like(x)


def one_field(x, t, **cond):
    return torch.ones_like(x)


@functools.cache
def _net():
    torch.manual_seed(0)
    return O("MLPField")(dim=2, hidden=8, depth=1, time_dim=4)


def _mixture():
    return O("GaussianMixture")(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), 0.5)


def _path(name: str = "linear"):
    return O("GaussianPath")(name)


_ROOT = tempfile.TemporaryDirectory(prefix="fmtutor-bad-inputs-")  # removed when the interpreter exits


def _folder() -> Path:
    """A fresh folder holding a file named ``file`` (so that ``file/x`` cannot be written)."""
    folder = Path(tempfile.mkdtemp(dir=_ROOT.name))
    (folder / "file").write_text("")
    return folder


def _checkpoint() -> Path:
    path = _folder() / "ckpt.pt"
    O("save_atomic")({"model": {}, "step": 0}, path)
    return path


TINY_UNET = {"channels": (4, 4, 4), "emb_dim": 8, "attention": False}
TINY_DIT = {"patch": 7, "dim": 8, "depth": 1, "heads": 2}


def IMAGES(b: int = 2) -> torch.Tensor:
    return torch.rand(b, 1, 28, 28, generator=G()) * 2 - 1


def LABELS(b: int = 2) -> torch.Tensor:
    return torch.arange(b) % 10


@functools.cache
def _mnist_net(arch: str):
    torch.manual_seed(0)
    return O(arch)(**(TINY_UNET if arch == "UNet" else TINY_DIT)).eval()


@functools.cache
def _glyphs():
    return O("GlyphField")(0.1)


@functools.cache
def _classifier():
    torch.manual_seed(0)
    return O("Classifier")((4, 4, 4)).eval()


def _digits():
    return O("MNIST")(IMAGES(4), LABELS(4))


def _config():
    return O("TrainConfig")(arch="unet", model_kwargs=TINY_UNET, batch_size=2)


@functools.cache
def _run_checkpoint() -> Path:
    import dataclasses

    path = _folder() / "run.pt"
    O("save_atomic")(
        {
            "config": dataclasses.asdict(_config()),
            "model": _mnist_net("UNet").state_dict(),
            "ema": None,
            "losses": [],
            "step": 0,
        },
        path,
    )
    return path


@functools.cache
def _classifier_checkpoint() -> Path:
    path = _folder() / "classifier.pt"
    O("save_atomic")(
        {"model": _classifier().state_dict(), "test_accuracy": 0.5, "widths": (4, 4, 4), "steps": 1, "seconds": 0.0},
        path,
    )
    return path


@functools.cache
def _idx_file() -> Path:
    import gzip

    path = _folder() / "labels.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])))
    return path


def tanh_field(x, t, **cond):
    """An elementwise field of any width and dtype: u_t(x) = t tanh(x)."""
    return torch.tanh(x) * t.reshape(-1, *[1] * (x.ndim - 1))


def gaussian_log_density(z):
    return -0.5 * z.pow(2).sum(1)


BACKWARD = torch.linspace(1.0, 0.0, 5)


def _labelled():
    return O("two_class_mixture")()


def _guided():
    return O("GuidedField")(_labelled(), _path(), 0, 2.0)


def _weights() -> Path:
    """A folder holding one stored network, 'tiny' (the tiny classifier), and its manifest."""
    folder = _folder() / "weights"
    O("store")("tiny", _classifier(), steps=1, command="", commit="", metrics={}, directory=folder)
    return folder


def R(target: str, make, /, names: dict | None = None, **kinds: str) -> Recipe:
    return Recipe(target, make, kinds, names or {})


def _method(obj_factory, name: str):
    return lambda **kw: getattr(obj_factory(), name)(**kw)


RECIPES: list[Recipe] = [
    # -- schedules, paths, distributions -----------------------------------------------------------
    R("get_schedule", lambda: (O("get_schedule"), {"name": "cosine"}), name="name", names={"name": ("schedule",)}),
    R(
        "VPSchedule",
        lambda: (O("VPSchedule"), {"beta_min": 0.1, "beta_max": 20.0}),
        beta_min="positive",
        beta_max="positive",
    ),
    R("PolynomialSchedule", lambda: (O("PolynomialSchedule"), {"n": 2.0}), n="positive"),
    R("NoisyLinearSchedule", lambda: (O("NoisyLinearSchedule"), {"sigma": 0.1}), sigma="nonnegative"),
    *[
        R(f"{s}.__call__", lambda s=s: (O(s)(), {"t": T()}), t="times")
        for s in ("LinearSchedule", "CosineSchedule", "VPSchedule", "PolynomialSchedule", "NoisyLinearSchedule")
    ],
    R(
        "GaussianPath",
        lambda: (O("GaussianPath"), {"schedule": "linear"}),
        schedule="object",
        names={"schedule": ("schedule",)},
    ),
    R(
        "GaussianPath.sample",
        lambda: (_path().sample, {"x1": X(), "t": T(), "x0": X(seed=1), "generator": G()}),
        x1="batch",
        t="time",
        x0="like",
    ),
    R("GaussianPath.coefficients", lambda: (_path().coefficients, {"t": T(), "x": X()}), t="time"),
    R("GaussianPath.mean_std", lambda: (_path("cosine").mean_std, {"x1": X(), "t": T()}), x1="batch", t="time"),
    R(
        "GaussianPath.conditional_velocity",
        lambda: (_path().conditional_velocity, {"x": X(), "x1": X(seed=1), "t": T()}),
        x="batch",
        x1="like",
        t="time",
    ),
    R(
        "GaussianPath.conditional_score",
        lambda: (_path().conditional_score, {"x": X(), "x1": X(seed=1), "t": T()}),
        x="batch",
        x1="like",
        t="time",
    ),
    R(
        "GaussianPath.convert",
        lambda: (
            _path().convert,
            {"prediction": X(seed=1), "x": X(), "t": T(), "source": "epsilon", "target": "velocity"},
        ),
        x="batch",
        prediction="like",
        t="time",
        source="name",
        target="name",
    ),
    R("StandardGaussian", lambda: (O("StandardGaussian"), {"dim": 2}), dim="count"),
    R("StandardGaussian.sample", lambda: (O("StandardGaussian")(2).sample, {"n": 3, "generator": G()}), n="count"),
    R("StandardGaussian.log_density", lambda: (O("StandardGaussian")(2).log_density, {"x": X()}), x="batch_d"),
    R("StandardGaussian.score", lambda: (O("StandardGaussian")(2).score, {"x": X()}), x="batch_d"),
    R(
        "GaussianMixture",
        lambda: (O("GaussianMixture"), {"means": torch.zeros(2, 2), "stds": torch.ones(2), "weights": torch.ones(2)}),
        means="param",
        stds="param",
        weights="param",
    ),
    R("GaussianMixture.sample", lambda: (_mixture().sample, {"n": 3, "generator": G()}), n="count"),
    R("GaussianMixture.log_density", lambda: (_mixture().log_density, {"x": X()}), x="batch_d"),
    R("GaussianMixture.score", lambda: (_mixture().score, {"x": X()}), x="batch_d"),
    R("GaussianMixture.component_log_probs", lambda: (_mixture().component_log_probs, {"x": X()}), x="batch_d"),
    R(
        "MarginalField",
        lambda: (O("MarginalField"), {"mixture": _mixture(), "path": _path()}),
        mixture="object",
        path="path",
    ),
    *[
        R(
            f"MarginalField.{m}",
            lambda m=m: (getattr(O("MarginalField")(_mixture(), _path()), m), {"x": X(), "t": T()}),
            x="batch_d",
            t="time",
        )
        for m in ("log_density", "density", "responsibilities", "score", "velocity", "velocity_and_score", "__call__")
    ],
    R("get_dataset", lambda: (O("get_dataset"), {"name": "moons"}), name="name", names={"name": ("data set",)}),
    R(
        "eight_gaussians",
        lambda: (O("eight_gaussians"), {"radius": 4.0, "std": 0.3}),
        radius="positive",
        std="positive",
    ),
    R("three_clusters", lambda: (O("three_clusters"), {"std": 0.4}), std="positive"),
    R("two_moons", lambda: (O("two_moons"), {"noise": 0.1}), noise="nonnegative"),
    R("checkerboard", lambda: (O("checkerboard"), {"size": 4.0}), size="positive"),
    R("spirals", lambda: (O("spirals"), {"noise": 0.1}), noise="nonnegative"),
    R("SampleFn.sample", lambda: (O("two_moons")().sample, {"n": 3, "generator": G()}), n="count"),
    # -- metrics ---------------------------------------------------------------------------------------
    R(
        "sliced_wasserstein",
        lambda: (O("sliced_wasserstein"), {"x": X(), "y": X(5, seed=1), "n_projections": 8, "generator": G()}),
        x="batch",
        y="batch_d",
        n_projections="count",
        names={"y": ("x and y",)},
    ),
    R(
        "energy_distance",
        lambda: (O("energy_distance"), {"x": X(), "y": X(5, seed=1)}),
        x="batch",
        y="batch_d",
        names={"y": ("x and y",)},
    ),
    R("rms_norm", lambda: (O("rms_norm"), {"v": X()}), v="batch"),
    R("max_relative_error", lambda: (O("max_relative_error"), {"a": X(), "b": X(seed=1)}), a="batch", b="like"),
    R(
        "noise_floor",
        lambda: (O("noise_floor"), {"data": _mixture(), "n": 8, "repeats": 2, "generator": G()}),
        data="object",
        n="count",
        repeats="count",
    ),
    # -- losses ----------------------------------------------------------------------------------------
    *[
        R(
            loss,
            lambda loss=loss: (
                O(loss),
                {"model": zero_field, "x1": X(), "path": _path(), "generator": G(), "t": T() * 0.5},
            ),
            model="model",
            x1="batch",
            path="path",
            t="time",
        )
        for loss in ("cfm_loss", "dsm_loss", "noise_prediction_loss")
    ],
    R(
        "ddpm_loss",
        lambda: (O("ddpm_loss"), {"model": zero_field, "x1": X(), "ddpm": O("DDPM")(10), "generator": G()}),
        model="model",
        x1="batch",
        ddpm="object",
    ),
    R(
        "regression_loss",
        lambda: (O("regression_loss"), {"model": zero_field, "x": X(), "t": T(), "target": X(), "cond": {}}),
        model="model",
    ),
    R(
        "noisy_cfm_loss",
        lambda: (
            O("noisy_cfm_loss"),
            {
                "model": zero_field,
                "x1": X(),
                "path": O("NoisyLinearPath")(0.5),
                "target": "gaussian",
                "generator": G(),
                "t": T(),
            },
        ),
        model="model",
        x1="batch",
        path="path",
        target="name",
        t="time",
    ),
    R("NoisyLinearPath", lambda: (O("NoisyLinearPath"), {"sigma": 0.5}), sigma="nonnegative"),
    R(
        "NoisyLinearPath.sample",
        lambda: (O("NoisyLinearPath")(0.5).sample, {"x1": X(), "t": T(), "x0": X(seed=1), "eps": X(seed=2)}),
        x1="batch",
        t="time",
        x0="like",
        eps="like",
    ),
    R(
        "naive_minimizer",
        lambda: (O("naive_minimizer"), {"velocity": zero_field, "score": zero_field, "sigma": 0.5}),
        sigma="nonnegative",
        velocity="object",
        score="object",
    ),
    R(
        "fm_loss",
        lambda: (
            O("fm_loss"),
            {"model": zero_field, "field": one_field, "x1": X(), "path": _path(), "generator": G(), "t": T()},
        ),
        model="model",
        x1="batch",
        path="path",
        t="time",
    ),
    # -- networks ----------------------------------------------------------------------------------------
    R(
        "MLPField",
        lambda: (O("MLPField"), {"dim": 2, "hidden": 8, "depth": 1, "time_dim": 4}),
        dim="count",
        hidden="count",
        depth="count",
        time_dim="count",
    ),
    R("MLPField.forward", lambda: (_net(), {"x": X(), "t": T()}), x="net_shapes", t="time_shape"),
    R(
        "SinusoidalEmbedding",
        lambda: (O("SinusoidalEmbedding"), {"dim": 4, "max_period": 100.0, "scale": 10.0}),
        dim="count",
        max_period="positive",
        scale="positive",
    ),
    # -- solvers and sampling --------------------------------------------------------------------------
    R(
        "time_grid",
        lambda: (O("time_grid"), {"n_steps": 4, "t_start": 0.0, "t_end": 1.0}),
        n_steps="count",
        t_start="real",
        t_end="real",
    ),
    R(
        "solve_ode",
        lambda: (O("solve_ode"), {"field": one_field, "x": X(), "times": GRID(), "method": "heun"}),
        field="field",
        x="batch",
        times="grid",
        method="name",
    ),
    R(
        "euler_maruyama",
        lambda: (
            O("euler_maruyama"),
            {"drift": one_field, "diffusion": 0.5, "x": X(), "times": GRID(), "generator": G()},
        ),
        drift="field",
        diffusion="nonnegative",
        x="batch",
        times="grid",
        names={"drift": ("field",)},
    ),
    R(
        "sample_ode",
        lambda: (
            O("sample_ode"),
            {"velocity": one_field, "x0": X(), "n_steps": 4, "method": "euler", "t_start": 0.0, "t_end": 1.0},
        ),
        velocity="field",
        x0="batch",
        n_steps="count",
        method="name",
        t_start="real",
        t_end="real",
        names={"velocity": ("field",)},
    ),
    R(
        "sample_sde",
        lambda: (
            O("sample_sde"),
            {"velocity": one_field, "score": zero_field, "sigma": 0.5, "x0": X(), "n_steps": 4, "generator": G()},
        ),
        velocity="field",
        score="field",
        sigma="nonnegative",
        x0="batch",
        n_steps="count",
        names={"velocity": ("field",), "score": ("field",)},
    ),
    R(
        "sde_drift",
        lambda: (O("sde_drift"), {"velocity": one_field, "score": zero_field, "sigma": 0.5}),
        velocity="object",
        score="object",
        sigma="nonnegative",
    ),
    R(
        "joint_sde_drift",
        lambda: (O("joint_sde_drift"), {"velocity_and_score": lambda x, t: (x, x), "sigma": 0.5}),
        velocity_and_score="object",
        sigma="nonnegative",
    ),
    R(
        "converted_field",
        lambda: (
            O("converted_field"),
            {"model": zero_field, "path": _path(), "source": "epsilon", "target": "velocity"},
        ),
        model="object",
        path="path",
        source="name",
        target="name",
    ),
    R(
        "probability_flow",
        lambda: (O("probability_flow"), {"score": zero_field, "path": _path()}),
        score="object",
        path="path",
    ),
    # -- DDPM ---------------------------------------------------------------------------------------------
    R(
        "DDPM",
        lambda: (O("DDPM"), {"T": 10, "beta_start": 1e-3, "beta_end": 0.02}),
        T="count",
        beta_start="positive",
        beta_end="positive",
    ),
    R("DDPM.index_to_time", lambda: (O("DDPM")(10).index_to_time, {"n": torch.tensor([0, 5, 10])}), n="count0"),
    R("DDPM.time_to_index", lambda: (O("DDPM")(10).time_to_index, {"t": T()}), t="times"),
    R(
        "DDPM.q_sample",
        lambda: (O("DDPM")(10).q_sample, {"x_clean": X(), "n": 3, "noise": X(seed=1)}),
        x_clean="batch",
        n="count0",
        noise="like",
    ),
    R(
        "DDPM.forward_step",
        lambda: (O("DDPM")(10).forward_step, {"x_prev": X(), "n": 3, "noise": X(seed=1)}),
        x_prev="batch",
        n="count",
        noise="like",
    ),
    R("DDPM.timesteps", lambda: (O("DDPM")(10).timesteps, {"n_steps": 5}), n_steps="count"),
    R(
        "DDPM.ddim_step",
        lambda: (
            O("DDPM")(10).ddim_step,
            {"eps_model": zero_field, "x": X(), "n": 5, "n_prev": 2, "eta": 0.5, "generator": G()},
        ),
        eps_model="field",
        x="batch",
        n="count",
        n_prev="count0",
        eta="unit",
    ),
    R(
        "DDPM.sample",
        lambda: (
            O("DDPM")(10).sample,
            {"eps_model": zero_field, "x_T": X(), "n_steps": 5, "eta": 1.0, "generator": G()},
        ),
        eps_model="field",
        x_T="batch",
        n_steps="count",
        eta="unit",
    ),
    # -- SDEs, ODEs, trajectories ---------------------------------------------------------------------------
    R(
        "brownian_paths",
        lambda: (O("brownian_paths"), {"n_paths": 3, "times": GRID(), "generator": G(), "dim": 2}),
        n_paths="count",
        times="grid",
        dim="count",
    ),
    R(
        "OrnsteinUhlenbeck",
        lambda: (O("OrnsteinUhlenbeck"), {"theta": 1.0, "sigma": 0.5}),
        theta="positive",
        sigma="nonnegative",
    ),
    R(
        "OrnsteinUhlenbeck.moments",
        lambda: (O("OrnsteinUhlenbeck")().moments, {"x0": X(), "t": 0.5}),
        x0="batch",
        t="nonnegative",
    ),
    R(
        "OrnsteinUhlenbeck.em_moments",
        lambda: (O("OrnsteinUhlenbeck")().em_moments, {"x0": X(), "h": 0.1, "n_steps": 3}),
        x0="batch",
        h="positive",
        n_steps="count0",
    ),
    R(
        "OrnsteinUhlenbeck.simulate",
        lambda: (O("OrnsteinUhlenbeck")().simulate, {"x0": X(), "times": GRID(), "generator": G()}),
        x0="batch",
        times="grid",
    ),
    R("OrnsteinUhlenbeck.stationary", lambda: (O("OrnsteinUhlenbeck")().stationary, {"dim": 2}), dim="count"),
    R(
        "langevin_drift",
        lambda: (O("langevin_drift"), {"density": _mixture(), "sigma": 0.5}),
        density="object",
        sigma="nonnegative",
    ),
    R(
        "langevin",
        lambda: (O("langevin"), {"density": _mixture(), "x0": X(), "sigma": 0.5, "times": GRID(), "generator": G()}),
        density="object",
        x0="batch_d",
        sigma="nonnegative",
        times="grid",
    ),
    R("LinearODE", lambda: (O("LinearODE"), {"A": -torch.eye(2), "B": torch.eye(2)}), A="batch_d", B="like"),
    R(
        "LinearODE.spiral",
        lambda: (O("LinearODE").spiral, {"omega": 3.0, "rate": 0.5, "rate_slope": -2.0}),
        omega="real",
        rate="real",
        rate_slope="real",
    ),
    R("LinearODE.field", lambda: (O("LinearODE")(-torch.eye(2)).field, {"x": X(), "t": 0.5}), x="batch_d", t="real"),
    R(
        "LinearODE.flow",
        lambda: (O("LinearODE")(-torch.eye(2)).flow, {"x": X(), "t_end": 1.0, "t_start": 0.0}),
        x="batch_d",
        t_end="real",
        t_start="real",
    ),
    R(
        "GrowthODE",
        lambda: (O("GrowthODE"), {}),
    ),
    R("GrowthODE.field", lambda: (O("GrowthODE")().field, {"x": X(), "t": 0.5}), x="batch", t="real"),
    R(
        "GrowthODE.flow",
        lambda: (O("GrowthODE")().flow, {"x": X(), "t_end": 1.0, "t_start": 0.0}),
        x="batch",
        t_end="real",
        t_start="real",
    ),
    R("SqrtODE.field", lambda: (O("SqrtODE")().field, {"x": X().abs(), "t": 0.5}), x="batch"),
    R(
        "SqrtODE.solution",
        lambda: (O("SqrtODE").solution, {"t": GRID(), "x0": 0.0, "wait": 0.0}),
        x0="nonnegative",
        wait="nonnegative",
    ),
    R(
        "convergence_order",
        lambda: (O("convergence_order"), {"n_steps": [8, 16, 32], "errors": [0.4, 0.2, 0.1]}),
        n_steps="object",
        errors="object",
    ),
    R(
        "global_error",
        lambda: (O("global_error"), {"ode": O("GrowthODE")(), "x0": X(), "method": "euler", "n_steps": 4}),
        ode="object",
        x0="batch",
        method="name",
        n_steps="count",
    ),
    R(
        "convergence_study",
        lambda: (
            O("convergence_study"),
            {"ode": O("GrowthODE")(), "x0": X(), "methods": ("euler",), "n_steps": (4, 8)},
        ),
        ode="object",
        x0="batch",
        methods="object",
        n_steps="object",
    ),
    R("path_length", lambda: (O("path_length"), {"path": torch.randn(3, 4, 2, generator=G())}), path="batch"),
    R(
        "straightness_ratio",
        lambda: (O("straightness_ratio"), {"path": torch.randn(3, 4, 2, generator=G()), "eps": 1e-12}),
        path="batch",
        eps="positive",
    ),
    R(
        "velocity_deviation",
        lambda: (O("velocity_deviation"), {"path": torch.randn(3, 4, 2, generator=G()), "times": GRID(2)}),
        path="batch",
        times="grid",
    ),
    # -- training and checkpoints ---------------------------------------------------------------------------
    R(
        "Trainer.fit",
        lambda: (
            O("Trainer")(_net(), lambda m, g: m(X(), T()).pow(2).mean()).fit,
            {"train_steps": 0, "checkpoint": _folder() / "run.pt", "checkpoint_every": 5, "progress": False},
        ),
        train_steps="count0",
        checkpoint="file",
        checkpoint_every="count",
    ),
    R("seeded", lambda: (O("seeded"), {"seed": 3}), seed="count0"),
    R(
        "sliced_w2_to",
        lambda: (O("sliced_w2_to"), {"reference": X(), "seed": 0, "n_projections": 8}),
        reference="batch",
        seed="count0",
        n_projections="count",
    ),
    R("steps_for_nfe", lambda: (O("steps_for_nfe"), {"solver": "heun", "nfe": 4}), solver="name", nfe="count"),
    R(
        "exact_model",
        lambda: (O("exact_model"), {"kind": "diffusion", "mixture": _mixture()}),
        kind="name",
        mixture="object",
    ),
    R(
        "TrainedModel.log_likelihood",
        lambda: (O("exact_model")("flow-matching", _mixture()).log_likelihood, {"x": X(), "nfe": 4, "method": "heun"}),
        x="batch_d",
        nfe="count",
        method="name",
    ),
    R(
        "nfe_to_reach",
        lambda: (O("nfe_to_reach"), {"curve": {1: 0.5, 2: 0.2}, "threshold": 0.3}),
        curve="object",
        threshold="real",
    ),
    R(
        "plateau",
        lambda: (O("plateau"), {"curve": {1: 0.5, 2: 0.2, 4: 0.1}, "n_last": 2}),
        curve="object",
        n_last="count",
    ),
    R(
        "data_loss",
        lambda: (
            O("data_loss"),
            {"data": X(8), "batch_size": 4, "objective": lambda m, x1, g: m(x1, T()).pow(2).mean()},
        ),
        data="batch",
        batch_size="count",
        objective="object",
    ),
    R(
        "train_2d",
        lambda: (
            O("train_2d"),
            {
                "data": X(8),
                "train_steps": 2,
                "kind": "flow-matching",
                "objective": None,
                "path": None,
                "batch_size": 4,
                "hidden": 8,
                "depth": 1,
                "lr": 1e-3,
                "ema_decay": 0.9,
                "seed": 0,
                "callback_every": 1,
                "progress": False,
            },
        ),
        data="batch",
        train_steps="count",
        kind="name",
        objective="object",
        path="object",
        batch_size="count",
        hidden="count",
        depth="count",
        lr="positive",
        ema_decay="unit",
        seed="count0",
        callback_every="count",
    ),
    R(
        "sliced_w2_vs_nfe",
        lambda: (
            O("sliced_w2_vs_nfe"),
            {
                "model": O("exact_model")("flow-matching", _mixture()),
                "sampler": "euler",
                "nfes": (1, 2),
                "reference": X(8),
                "seed": 0,
            },
        ),
        model="object",
        sampler="name",
        nfes="counts",
        reference="batch",
        seed="count0",
    ),
    R(
        "sliced_w2_spread",
        lambda: (
            O("sliced_w2_spread"),
            {
                "model": O("exact_model")("flow-matching", _mixture()),
                "sampler": "euler",
                "nfes": (1,),
                "reference": X(8),
                "seeds": (0, 1),
            },
        ),
        model="object",
        sampler="name",
        nfes="counts",
        reference="batch",
        seeds="counts",
    ),
    R(
        "solver_error_vs_nfe",
        lambda: (
            O("solver_error_vs_nfe"),
            {
                "model": O("exact_model")("flow-matching", _mixture()),
                "sampler": "euler",
                "nfes": (1, 2),
                "x0": X(),
                "limit": X(seed=1),
            },
        ),
        model="object",
        sampler="name",
        nfes="counts",
        x0="batch",
        limit="like",
    ),
    R("save_atomic", lambda: (O("save_atomic"), {"obj": {"a": 1}, "path": _folder() / "x.pt"}), path="file"),
    R(
        "load_checkpoint",
        lambda: (O("load_checkpoint"), {"path": _checkpoint(), "keys": ("model",)}),
        path="file",
        names={"path": ("checkpoint",)},
    ),
    R("remove_stale_temporaries", lambda: (O("remove_stale_temporaries"), {"path": _folder() / "x.pt"}), path="file"),
    # -- MNIST (tiny networks, two images) --------------------------------------------------------------
    R("build_model", lambda: (O("build_model"), {"arch": "unet", **TINY_UNET}), arch="name"),
    *[
        R(
            f"{arch}.forward",
            lambda arch=arch: (_mnist_net(arch), {"x": IMAGES(), "t": T(2), "y": LABELS()}),
            x="net_input",
            t="time",
            y="labels",
        )
        for arch in ("UNet", "DiT")
    ],
    R("GlyphField", lambda: (O("GlyphField"), {"std": 0.1}), std="positive"),
    R(
        "GlyphField.forward",
        lambda: (_glyphs(), {"x": IMAGES(), "t": T(2), "y": LABELS()}),
        x="batch_d",
        t="time",
        y="labels",
    ),
    R("glyph_templates", lambda: (O("glyph_templates"), {"fontsize": 22.0}), fontsize="positive"),
    R(
        "check_inputs",
        lambda: (O("check_inputs"), {"x": IMAGES(), "t": T(2), "y": LABELS()}),
        x="batch_d",
        t="time",
        y="labels",
    ),
    R("Classifier", lambda: (O("Classifier"), {"widths": (4, 4, 4)}), widths="object"),
    R("Classifier.forward", lambda: (_classifier(), {"x": IMAGES()}), x="net_input"),
    R(
        "accuracy",
        lambda: (O("accuracy"), {"model": _classifier(), "images": IMAGES(), "labels": LABELS(), "batch_size": 1}),
        images="net_input",
        labels="labels",
        batch_size="count",
        names={"images": ("x",)},
    ),
    R(
        "features",
        lambda: (O("features"), {"classifier": _classifier(), "images": IMAGES(), "batch_size": 1}),
        images="net_input",
        batch_size="count",
        names={"images": ("x",)},
    ),
    R(
        "score",
        lambda: (
            O("score"),
            {
                "classifier": _classifier(),
                "images": IMAGES(4),
                "labels": LABELS(4),
                "test_features": O("features")(_classifier(), IMAGES(3))[0],
            },
        ),
        classifier="object",
        images="net_input",
        labels="labels",
        test_features="batch_d",
        names={"images": ("x",)},
    ),
    R("count_parameters", lambda: (O("count_parameters"), {"model": _classifier()}), model="object"),
    R("get_preset", lambda: (O("get_preset"), {"name": "quick"}), name="name", names={"name": ("preset",)}),
    R("class_labels", lambda: (O("class_labels"), {"n": 12}), n="count"),
    R(
        "make_grid",
        lambda: (O("make_grid"), {"images": IMAGES(), "nrow": 2, "pad": 1}),
        images="batch",
        nrow="count",
        pad="count0",
    ),
    R(
        "save_grid",
        lambda: (O("save_grid"), {"images": IMAGES(), "path": _folder() / "g.png", "nrow": 2}),
        images="batch",
        path="file",
        nrow="count",
    ),
    R(
        "sample",
        lambda: (
            O("sample"),
            {
                "model": _glyphs(),
                "labels": LABELS(),
                "w": 2.0,
                "nfe": 2,
                "solver": "heun",
                "t_start": 0.0,
                "batch_size": 1,
                "generator": G(),
            },
        ),
        labels="labels",
        w="real",
        nfe="count",
        solver="name",
        t_start="unit",
        batch_size="count",
    ),
    R(
        "check_sampling",
        lambda: (O("check_sampling"), {"w": 2.0, "nfe": 2, "solver": "heun", "t_start": 0.5}),
        w="real",
        nfe="count",
        solver="name",
        t_start="unit",
    ),
    R("guided_field", lambda: (O("guided_field"), {"model": _glyphs(), "w": 2.0}), model="object", w="real"),
    R(
        "velocity_field",
        lambda: (O("velocity_field"), {"model": _glyphs(), "w": 2.0, "prediction": "epsilon", "path": _path()}),
        model="object",
        w="real",
        prediction="name",
        path="object",
    ),
    R(
        "clipped_velocity",
        lambda: (O("clipped_velocity"), {"field": zero_field, "path": _path(), "source": "epsilon"}),
        field="object",
        path="path",
        source="name",
    ),
    R(
        "check_train_args",
        lambda: (
            O("check_train_args"),
            {
                "arch": "unet",
                "preset": "quick",
                "prediction": "velocity",
                "out": _folder() / "run",
                "steps": 3,
                "batch_size": 4,
                "lr": 1e-3,
                "seed": 0,
            },
        ),
        arch="name",
        preset="name",
        prediction="name",
        out="file",
        steps="count",
        batch_size="count",
        lr="positive",
        seed="count0",
    ),
    R("load_run", lambda: (O("load_run"), {"checkpoint": _run_checkpoint()}), checkpoint="infile"),
    R(
        "load_classifier",
        lambda: (O("load_classifier"), {"path": _classifier_checkpoint()}),
        path="infile",
        names={"path": ("checkpoint",)},
    ),
    R("read_idx", lambda: (O("read_idx"), {"path": _idx_file()}), path="type_only"),
    R("md5sum", lambda: (O("md5sum"), {"path": _idx_file()}), path="type_only"),
    R(
        "draw_batch",
        lambda: (O("draw_batch"), {"data": _digits(), "path": _path(), "config": _config(), "generator": G()}),
        data="object",
        path="path",
        config="object",
    ),
    R(
        "flow_loss",
        lambda: (O("flow_loss"), {"net": _mnist_net("UNet"), "data": _digits(), "path": _path(), "config": _config()}),
        data="object",
        path="path",
        config="object",
    ),
    R(
        "evaluate",
        lambda: (
            O("evaluate"),
            {
                "model": _glyphs(),
                "classifier": _classifier(),
                "test": _digits(),
                "n": 10,
                "w": 1.0,
                "nfe": 1,
                "solver": "euler",
                "generator": G(),
            },
        ),
        model="object",
        classifier="object",
        test="object",
        n="count",
        w="real",
        nfe="count",
        solver="name",
    ),
    R("sqrtm_psd", lambda: (O("sqrtm_psd"), {"a": torch.eye(2)}), a="batch_d"),
    R("gaussian_stats", lambda: (O("gaussian_stats"), {"x": X()}), x="batch"),
    R("frechet_distance", lambda: (O("frechet_distance"), {"x": X(), "y": X(5, seed=1)}), x="batch", y="batch_d"),
    R(
        "frechet_gaussians",
        lambda: (
            O("frechet_gaussians"),
            {"mu1": torch.zeros(2), "cov1": torch.eye(2), "mu2": torch.ones(2), "cov2": torch.eye(2)},
        ),
        mu1="param",
        cov1="batch_d",
        mu2="param",
        cov2="batch_d",
    ),
    R(
        "gradient_variance",
        lambda: (
            O("gradient_variance"),
            {"loss_fn": lambda m, g: m(X(), T()).pow(2).mean(), "model": _net(), "n_batches": 2, "generator": G()},
        ),
        loss_fn="object",
        model="object",
        n_batches="count",
    ),
    # -- likelihoods -------------------------------------------------------------------------------------
    *[
        R(fn, lambda fn=fn: (O(fn), {"field": tanh_field, "x": X(), "t": T()}), field="field", x="batch", t="time")
        for fn in ("jacobian", "divergence")
    ],
    R(
        "hutchinson_divergence",
        lambda: (
            O("hutchinson_divergence"),
            {"field": tanh_field, "x": X(), "t": T(), "probes": O("draw_probes")(X(), 2, generator=G())},
        ),
        field="field",
        x="batch",
        t="time",
        probes="probes",
    ),
    R(
        "draw_probes",
        lambda: (O("draw_probes"), {"x": X(), "n": 2, "kind": "gaussian", "generator": G()}),
        x="batch",
        n="count",
        kind="name",
    ),
    R(
        "hutchinson_variance",
        lambda: (O("hutchinson_variance"), {"jacobian": torch.randn(4, 2, 2, generator=G()), "kind": "rademacher"}),
        jacobian="batch_d",
        kind="name",
    ),
    R(
        "log_likelihood",
        lambda: (
            O("log_likelihood"),
            {
                "field": tanh_field,
                "x": X(),
                "times": BACKWARD.clone(),
                "method": "euler",
                "estimator": "rademacher",
                "n_probes": 2,
                "generator": G(),
                "prior": gaussian_log_density,
            },
        ),
        field="field",
        x="batch",
        times="grid",
        method="name",
        estimator="name",
        n_probes="count",
        prior="log_density",
    ),
    R(
        "dequantize",
        lambda: (O("dequantize"), {"x": X().clamp(-1, 1), "generator": G(), "levels": 256, "low": -1.0, "high": 1.0}),
        x="batch",
        levels="count",
        low="real",
        high="real",
    ),
    R(
        "bits_per_dim",
        lambda: (O("bits_per_dim"), {"log_p": -torch.rand(4, generator=G()), "n_dims": 2, "bin_width": 2 / 256}),
        log_p="values",
        n_dims="count",
        bin_width="positive",
    ),
    # -- guidance on a labelled mixture ----------------------------------------------------------------------
    R("two_class_mixture", lambda: (O("two_class_mixture"), {})),
    R(
        "LabelledMixture",
        lambda: (O("LabelledMixture"), {"mixture": _mixture(), "labels": torch.tensor([0, 1])}),
        mixture="object",
        labels="labels",
    ),
    R("LabelledMixture.prior", lambda: (_labelled().prior, {})),
    R("LabelledMixture.conditional", lambda: (_labelled().conditional, {"y": 1}), y="class"),
    R("LabelledMixture.log_posterior", lambda: (_labelled().log_posterior, {"x": X(), "y": 0}), x="batch_d", y="class"),
    R(
        "GuidedField",
        lambda: (O("GuidedField"), {"data": _labelled(), "path": _path(), "y": 0, "w": 2.0}),
        data="object",
        path="path",
        y="class",
        w="real",
    ),
    *[
        R(f"GuidedField.{m}", lambda m=m: (getattr(_guided(), m), {"x": X(), "t": T()}), x="batch_d", t="time")
        for m in ("__call__", "score", "log_posterior", "tilted_log_density")
    ],
    R(
        "grid_density",
        lambda: (O("grid_density"), {"log_density": gaussian_log_density, "lo": -3.0, "hi": 3.0, "bins": 4}),
        log_density="log_density",
        lo="real",
        hi="real",
        bins="count",
    ),
    R(
        "GridDensity.sample",
        lambda: (O("grid_density")(gaussian_log_density, bins=4).sample, {"n": 5, "generator": G()}),
        n="count",
    ),
    R(
        "histogram",
        lambda: (O("histogram"), {"x": X(), "lo": -3.0, "hi": 3.0, "bins": 4}),
        x="batch_d",
        lo="real",
        hi="real",
        bins="count",
    ),
    R(
        "total_variation",
        lambda: (
            O("total_variation"),
            {"p": torch.full((3, 3), 1 / 9), "q": torch.rand(3, 3, generator=G()).softmax(0) / 3},
        ),
        p="masses",
        q="like",
    ),
    R(
        "guidance_gap",
        lambda: (
            O("guidance_gap"),
            {
                "data": _labelled(),
                "path": _path(),
                "y": 0,
                "ws": [1.0],
                "n": 50,
                "nfe": 4,
                "generator_seed": 0,
                "bins": 4,
                "lim": 4.0,
            },
        ),
        data="object",
        path="path",
        y="class",
        ws="reals",
        n="count",
        nfe="count",
        generator_seed="count0",
        bins="count",
        lim="positive",
    ),
    # -- stored networks -------------------------------------------------------------------------------------
    R("sha256_file", lambda: (O("sha256_file"), {"path": _idx_file()}), path="infile"),
    *[
        R(fn, lambda fn=fn: (O(fn), {"directory": _weights()}), directory="folder")
        for fn in ("read_manifest", "pretrained_names")
    ],
    *[
        R(fn, lambda fn=fn: (O(fn), {"name": "tiny", "directory": _weights()}), name="name", directory="folder")
        for fn in ("verify", "annotate")
    ],
    R(
        "load_pretrained",
        lambda: (O("load_pretrained"), {"name": "tiny", "directory": _weights(), "device": "cpu"}),
        name="name",
        directory="folder",
        device="device_name",
    ),
    R(
        "half_state",
        lambda: (O("half_state"), {"model": _classifier(), "dtype": torch.float16}),
        model="object",
        dtype="float_dtype",
    ),
    R(
        "store",
        lambda: (
            O("store"),
            {
                "name": "tiny",
                "model": _classifier(),
                "steps": 1,
                "command": "",
                "commit": "",
                "metrics": {},
                "config": None,
                "directory": _folder() / "w",
            },
        ),
        name="new_name",
        model="object",
        steps="count0",
        command="text",
        commit="text",
        metrics="object",
        config="object",
        directory="file",
    ),
    # chapter 8: couplings, Gaussian OT, reflow, fitted grids
    R("squared_distances", lambda: (O("squared_distances"), {"x0": X(), "x1": X(5, seed=1)}), x0="batch", x1="batch_d"),
    R(
        "ot_pair",
        lambda: (O("ot_pair"), {"x0": X(), "x1": X(seed=1), "reg": 0.0}),
        x0="batch",
        x1="batch_d",
        reg="nonnegative",
    ),
    R("split_pairs", lambda: (O("split_pairs"), {"pairs": torch.randn(4, 2, 2, generator=G())}), pairs="type_only"),
    R("PairedData", lambda: (O("PairedData"), {"x0": X(), "x1": X(seed=1)}), x0="batch", x1="like"),
    R("distillation_times", lambda: (O("distillation_times"), {"k": 2}), k="count"),
    R("distillation_loss", lambda: (O("distillation_loss"), {"k": 2}), k="count"),
    R(
        "gaussian_w2",
        lambda: (
            O("gaussian_w2"),
            {"mean0": torch.zeros(2), "cov0": torch.eye(2), "mean1": torch.ones(2), "cov1": 2 * torch.eye(2)},
        ),
        mean0="param",
        cov0="param",
        mean1="param",
        cov1="param",
    ),
    R(
        "gaussian_ot_map",
        lambda: (
            O("gaussian_ot_map"),
            {"mean0": torch.zeros(2), "cov0": torch.eye(2), "mean1": torch.ones(2), "cov1": 2 * torch.eye(2)},
        ),
        mean0="param",
        cov0="param",
        mean1="param",
        cov1="param",
    ),
    R("Gaussian", lambda: (O("Gaussian"), {"mean": torch.zeros(2), "cov": torch.eye(2)}), mean="param", cov="param"),
    R("exact_assignment", lambda: (O("exact_assignment"), {"cost": _cost()}), cost="square"),
    R(
        "sinkhorn_plan",
        lambda: (O("sinkhorn_plan"), {"cost": _cost(5), "reg": 0.5, "n_iter": 50, "tol": 1e-6}),
        cost="matrix",
        reg="positive",
        n_iter="count",
        tol="positive",
    ),
    R("sample_plan_rows", lambda: (O("sample_plan_rows"), {"plan": _cost().softmax(1), "generator": G()}), plan="plan"),
    R(
        "coupled_cfm_loss",
        lambda: (
            O("coupled_cfm_loss"),
            {"model": zero_field, "pairs": _pairs(), "generator": G(), "sigma": 0.5, "times": torch.tensor([0.0, 0.5])},
        ),
        model="model",
        pairs="batch",
        sigma="nonnegative",
        times="time_set",
    ),
    R("bridge_cfm_loss", lambda: (O("bridge_cfm_loss"), {"sigma": 0.5}), sigma="positive"),
    R(
        "IndependentCoupling",
        lambda: (O("IndependentCoupling"), {"source": O("StandardGaussian")(2), "target": _mixture()}),
        source="object",
        target="object",
    ),
    R(
        "IndependentCoupling.sample",
        lambda: (O("IndependentCoupling")(O("StandardGaussian")(2), _mixture()).sample, {"n": 3, "generator": G()}),
        n="count",
    ),
    *[
        R(
            name,
            lambda make=make, knob=knob: (
                make(),
                {"source": O("StandardGaussian")(2), "target": _mixture(), **knob, "ot_batch": 4},
            ),
            source="object",
            target="object",
            ot_batch="count",
            **{next(iter(knob)): kind},
        )
        for name, make, knob, kind in (
            ("MinibatchOTCoupling", lambda: O("MinibatchOTCoupling"), {"reg": 0.0}, "nonnegative"),
            ("MinibatchOTCoupling.bridge", lambda: O("MinibatchOTCoupling").bridge, {"sigma": 0.5}, "positive"),
        )
    ],
    R(
        "MinibatchOTCoupling.sample",
        lambda: (O("MinibatchOTCoupling")(O("StandardGaussian")(2), _mixture()).sample, {"n": 3, "generator": G()}),
        n="count",
    ),
    R(
        "reflow_pairs",
        lambda: (O("reflow_pairs"), {"velocity": one_field, "x0": X(), "n_steps": 2, "method": "heun", "chunk": 2}),
        names={"velocity": ("field",)},
        velocity="field",
        x0="batch",
        n_steps="count",
        method="name",
        chunk="count",
    ),
    R(
        "acceleration_profile",
        lambda: (O("acceleration_profile"), {"velocity": one_field, "x0": X(), "n_fine": 4}),
        names={"velocity": ("field",)},
        velocity="field",
        x0="batch",
        n_fine="count",
    ),
    R(
        "adapted_grid",
        lambda: (O("adapted_grid"), {"velocity": one_field, "x0": X(), "n_steps": 2, "n_fine": 4, "floor": 0.05}),
        names={"velocity": ("field",)},
        velocity="field",
        x0="batch",
        n_steps="count",
        n_fine="count",
        floor="nonnegative",
    ),
    R(
        "grid_from_profile",
        lambda: (
            O("grid_from_profile"),
            {"edges": GRID(), "accel": torch.tensor([1.0, 2.0, 0.5, 0.0]), "n_steps": 3, "floor": 0.05},
        ),
        edges="grid",
        accel="profile",
        n_steps="count",
        floor="nonnegative",
    ),
    R(
        "GaussianCouplingField",
        lambda: (O("GaussianCouplingField"), {**_gaussians(), "cross": 0.5 * torch.eye(2), "sigma": 0.5}),
        mean0="param",
        cov0="param",
        mean1="param",
        cov1="param",
        cross="param",
        sigma="nonnegative",
    ),
    *[
        R(
            f"GaussianCouplingField.{kind}",
            lambda kind=kind: (getattr(O("GaussianCouplingField"), kind), _gaussians()),
            mean0="param",
            cov0="param",
            mean1="param",
            cov1="param",
        )
        for kind in ("independent", "optimal")
    ],
    R(
        "GaussianCouplingField.bridge",
        lambda: (O("GaussianCouplingField").bridge, {**_gaussians(), "sigma": 0.5}),
        mean0="param",
        cov0="param",
        mean1="param",
        cov1="param",
        sigma="nonnegative",
    ),
    R("GaussianCouplingField.__call__", lambda: (_bridge(), {"x": X(), "t": T()}), x="batch_d", t="time"),
    R("GaussianCouplingField.moments", lambda: (_bridge().moments, {"t": 0.5}), t="unit"),
    R(
        "GaussianCouplingField.sample_path",
        lambda: (_bridge().sample_path, {"n": 3, "t": 0.5, "generator": G()}),
        n="count",
        t="unit",
    ),
    R(
        "bridge_cross_covariance",
        lambda: (O("bridge_cross_covariance"), {"cov0": torch.eye(2), "cov1": 2 * torch.eye(2), "sigma": 0.5}),
        cov0="param",
        cov1="param",
        sigma="nonnegative",
    ),
    R(
        "field_distance",
        lambda: (
            O("field_distance"),
            {"field": one_field, "reference": _bridge(), "times": (0.2, 0.8), "n": 8, "generator": G(), "on": None},
        ),
        field="field",
        reference="object",
        times="reals",
        n="count",
    ),
    R("seeded_generator", lambda: (O("seeded_generator"), {"seed": 3}), seed="count0"),
]


def _cost(n: int = 4):
    return O("squared_distances")(X(n), X(n, seed=1))


def _pairs(b: int = 4):
    return torch.randn(b, 2, 2, generator=G())


def _gaussians() -> dict:
    return {
        "mean0": torch.zeros(2),
        "cov0": torch.eye(2),
        "mean1": torch.ones(2),
        "cov1": torch.tensor([[2.0, 0.5], [0.5, 1.0]]),
    }


def _bridge():
    return O("GaussianCouplingField").bridge(**_gaussians(), sigma=0.5)
