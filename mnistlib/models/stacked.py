"""K runs of one architecture as one model: their layers stacked, so each operator serves them all.

    >>> stacked, pairs = stack_model([run_a_model, run_b_model])   # input (B, K·C, H, W), run k's at [k·C, (k+1)·C)

On a CPU a small network's step costs far more than its arithmetic at small batches (oneDNN's
per-call work on tiny shapes); K runs stacked along the channel axis run as one grouped
convolution or one batched matrix product per layer, several times the images per second of K
separate runs (``benchmarks/bench_stacking.py``). Architecture only: the training of a stack is
:mod:`mnistlib.training.loop`'s.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .nets import GeneratorDropout, SparseConv2d, Subsampling


class StackedConv2d(nn.Module):
    """K runs' convolutions (``nn.Conv2d`` or ``SparseConv2d``) as one grouped convolution.

    Input and output hold the runs along the channel axis: (B, K·C, H, W), run k's maps at
    [k·C, (k+1)·C). Parameters are the runs' own, concatenated: ``weight.view(K, -1)[k]``
    is run k's weight, flattened (the same for the bias).
    """

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        first = layers[0]
        self.runs, self.sparse = len(layers), isinstance(first, SparseConv2d)
        self.k = first.kernel_size if self.sparse else first.kernel_size[0]
        self.in_channels, self.out_channels = first.in_channels, first.out_channels
        self.weight = nn.Parameter(torch.cat([layer.weight.detach() for layer in layers]).clone())
        self.bias = nn.Parameter(torch.cat([layer.bias.detach() for layer in layers]).clone())
        if self.sparse:
            self.register_buffer("flat_index", first.flat_index, persistent=False)

    def dense_weight(self) -> torch.Tensor:
        """The (K·out, in, k, k) kernel of the grouped convolution."""
        if not self.sparse:
            return self.weight
        runs, k = self.runs, self.k
        dense = self.weight.new_zeros(runs, self.out_channels * self.in_channels, k, k)
        dense = dense.index_copy(1, self.flat_index, self.weight.view(runs, -1, k, k))
        return dense.view(runs * self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.k, self.k):
            # The kernel covers the whole input (LeNet-5's C5): one batched matrix product per run,
            # much faster than a grouped convolution of that shape.
            batch, runs = x.shape[0], self.runs
            weight = self.dense_weight().view(runs, self.out_channels, -1)
            xs = x.reshape(batch, runs, -1).transpose(0, 1)
            out = torch.baddbmm(self.bias.view(runs, 1, -1), xs, weight.transpose(1, 2))
            return out.transpose(0, 1).reshape(batch, runs * self.out_channels, 1, 1)
        return F.conv2d(x, self.dense_weight(), self.bias, groups=self.runs)


class StackedLinear(nn.Module):
    """K runs' ``nn.Linear`` layers as one batched matrix product; input (B, K·in), output (B, K·out)."""

    def __init__(self, layers: Sequence[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]).clone())  # K, out, in
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]).unsqueeze(1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        runs, out, inp = self.weight.shape
        xs = x.reshape(x.shape[0], runs, inp).transpose(0, 1)
        return torch.baddbmm(self.bias, xs, self.weight.transpose(1, 2)).transpose(0, 1).reshape(x.shape[0], -1)


def stacked_subsampling(layers: Sequence[Subsampling]) -> Subsampling:
    """K runs' :class:`~mnistlib.models.nets.Subsampling` layers as one: its parameters are per map, so the runs'
    own, concatenated, match the stacked maps (run k's at [k·C, (k+1)·C))."""
    new = Subsampling(sum(len(layer.weight) for layer in layers))
    with torch.no_grad():
        new.weight.copy_(torch.cat([layer.weight for layer in layers]))
        new.bias.copy_(torch.cat([layer.bias for layer in layers]))
    return new


class StackedDropout(nn.Module):
    """K runs' :class:`GeneratorDropout` on their stacked features (B, K·C): run k's mask, (B, C), from run k's own
    generator, as it draws it alone, so a stacked run drops the same values as the run alone."""

    def __init__(self, layers: Sequence[GeneratorDropout]):
        super().__init__()
        self.layers = list(layers)  # not submodules: they hold no parameters, only the runs' generators

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        parts = x.shape[1] // len(self.layers)
        return x * torch.cat([layer.mask((x.shape[0], parts), x.device) for layer in self.layers], dim=1)


def stack_model(models: Sequence[nn.Module]) -> tuple[nn.Module, list[tuple[nn.Parameter, list[nn.Parameter]]]]:
    """One model computing all of ``models`` (same architecture) on inputs stacked along dim 1.

    Returns it and, for each of its parameters, the runs' own parameters it holds (in run order).
    Layers without parameters (pooling, activations) act on the stacked tensor unchanged.
    """
    stacked = copy.deepcopy(models[0])
    pairs = []
    for name, module in models[0].named_modules():
        if isinstance(module, GeneratorDropout):  # each run's masks from its own generator
            parent, _, child = name.rpartition(".")
            setattr(stacked.get_submodule(parent) if parent else stacked, child,
                    StackedDropout([model.get_submodule(name) for model in models]))
            continue
        if not isinstance(module, (nn.Linear, nn.Conv2d, SparseConv2d, Subsampling)):
            if next(module.parameters(recurse=False), None) is not None:
                raise ConfigError(f"cannot stack layer {name} ({type(module).__name__}); train these runs alone")
            continue
        layers = [model.get_submodule(name) for model in models]
        new = (StackedLinear(layers) if isinstance(module, nn.Linear) else stacked_subsampling(layers)
               if isinstance(module, Subsampling) else StackedConv2d(layers))
        parent, _, child = name.rpartition(".")
        setattr(stacked.get_submodule(parent) if parent else stacked, child, new)
        pairs += [(getattr(new, attr), [getattr(layer, attr) for layer in layers]) for attr in ("weight", "bias")]
    return stacked, pairs


