"""The MNIST velocity networks by name: ``build_model("unet")`` or ``build_model("dit", depth=4)``."""

from __future__ import annotations

from torch import nn

from .._validate import check_choice
from .dit import DiT
from .unet import UNet

__all__ = ["ARCHS", "build_model", "count_parameters"]

ARCHS: dict[str, type[nn.Module]] = {"unet": UNet, "dit": DiT}


def build_model(arch: str, **kwargs) -> nn.Module:
    """A fresh network ``model(x, t, y)`` of architecture 'unet' or 'dit'; ``kwargs`` go to its constructor."""
    return ARCHS[check_choice("arch", arch, ARCHS)](**kwargs)


def count_parameters(model: nn.Module) -> int:
    """The number of parameters (frozen ones too: an EMA copy has the size of the network it tracks)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())
