"""The original's models: LeNet-5 with the sparse C3 table, and width-list MLPs. Logits out.

    >>> from mnistlib.models.nets import build_model, count_parameters
    >>> model = build_model("LeNet5")
    >>> count_parameters(model)
    60806

Models hold architecture only: no device, optimizer or loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

INPUT_SIZE = 32  # MNIST's 28x28 padded by 2 on each side
N_CLASSES = 10

# LeCun et al. 1998, Table I: output map of C3 -> the S2 maps it reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class SparseConv2d(nn.Module):
    """A convolution in which output map ``o`` reads only the input maps ``table[o]``.

    The weight holds one k×k kernel per real connection (C3: 60 of them), so the module's
    parameter count is the sparse one. The forward pass scatters them into a dense
    (out, in, k, k) kernel, zeros elsewhere, and runs one ordinary convolution.
    """

    def __init__(self, in_channels: int, table: Sequence[Sequence[int]], kernel_size: int):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        pairs = [(o, i) for o, inputs in enumerate(table) for i in sorted(inputs)]
        self.register_buffer("flat_index", torch.tensor([o * in_channels + i for o, i in pairs]),
                             persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        # PyTorch's default conv init, U(±1/sqrt(fan_in)), with each output map's own fan-in.
        map_fan_in = torch.tensor([len(inputs) * kernel_size ** 2 for inputs in table], dtype=torch.float)
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(map_fan_in[[o for o, _ in pairs]].rsqrt().view(-1, 1, 1))
            self.bias.uniform_(-1, 1).mul_(map_fan_in.rsqrt())

    @property
    def mask(self) -> torch.Tensor:
        """Boolean (out, in) connection matrix: True where output map o reads input map i."""
        mask = torch.zeros(self.out_channels * self.in_channels, dtype=torch.bool)
        mask[self.flat_index.cpu()] = True
        return mask.view(self.out_channels, self.in_channels)

    def dense_weight(self) -> torch.Tensor:
        """The (out, in, k, k) kernel the forward pass uses, zeros where there is no connection."""
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        dense = dense.index_copy(0, self.flat_index, self.weight)
        return dense.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, connections={len(self.weight)}"


class ScaledTanh(nn.Module):
    """The squashing function A·tanh(S·x), A = 1.7159: S = 1 in the original's text and code,
    S = 2/3 in LeCun et al. (1998)."""

    def __init__(self, slope: float = 1.0):
        super().__init__()
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.slope == 1.0:
            return 1.7159 * torch.tanh(x)
        return 1.7159 * torch.tanh(x * self.slope)

    def extra_repr(self) -> str:
        return f"1.7159·tanh({'' if self.slope == 1.0 else f'{self.slope:.4g}·'}x)"


class MaxPool2x2(nn.MaxPool2d):
    """``nn.MaxPool2d(2, 2)``, with a faster forward pass where no gradient flows through it (evaluation): the
    elementwise maximum of the four strided quarters of each 2×2 window. A maximum is exact, so the values are
    the same bit for bit, at several times max_pool2d's speed on a CPU, whose kernel also records the indices
    (``benchmarks/bench_inference.py``). With a gradient it is max_pool2d, whose backward sends a tie's gradient to
    the first maximum (torch.maximum would split it), so training is unchanged."""

    def __init__(self):
        super().__init__(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad:
            return super().forward(x)
        rows, cols = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        pairs = torch.maximum(x[..., 0:rows:2, :cols], x[..., 1:rows:2, :cols])
        return torch.maximum(pairs[..., 0::2], pairs[..., 1::2])


class GeneratorDropout(nn.Module):
    """Dropout whose masks come from a generator of the run's own (``F.dropout`` takes none), so that a resumed
    run, whose checkpoint keeps the generator's state, draws the same masks: in training each value is zeroed
    with probability ``p`` and the rest scaled by 1/(1 − p); in eval mode it passes ``x`` through."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator = p, generator

    def mask(self, shape: Sequence[int], device) -> torch.Tensor:
        """A mask of ``shape``: 0 where a value is dropped, 1/(1 − p) elsewhere."""
        keep = torch.empty(shape, device=device).bernoulli_(1 - self.p, generator=self.generator)
        return keep.div_(1 - self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * self.mask(x.shape, x.device)

    def __deepcopy__(self, memo):  # a copy draws from the same generator: a generator is the run's, not a module's
        copied = GeneratorDropout(self.p, self.generator)
        copied.train(self.training)
        return copied

    def extra_repr(self) -> str:
        return f"p={self.p:g}, the run's own generator"


class Subsampling(nn.Module):
    """LeCun et al.'s (1998) subsampling layer, as the original describes the paper's S2: each map's 2×2 average,
    times a trainable coefficient, plus a trainable bias (2 parameters a map); the squashing function follows.
    The coefficient starts at 1 and the bias at 0, so the layer starts as plain average pooling."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias.view(1, -1, 1, 1), F.avg_pool2d(x, 2), self.weight.view(1, -1, 1, 1))

    def extra_repr(self) -> str:
        return f"{len(self.weight)}, 2×2 average · coefficient + bias"


# F6's squashing: the original's A·tanh(x), LeCun's A·tanh(2x/3), or SiLU (x·sigmoid(x)), which does
# not saturate: the step that takes the fast recipe past 99% in two epochs (notebook 8).
F6_SQUASHING: dict[str, Callable[[], nn.Module]] = {
    "original": lambda: ScaledTanh(1.0), "lecun": lambda: ScaledTanh(2.0 / 3.0), "silu": nn.SiLU,
}


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU,
}

# After C5: nothing, as the original's code (C5 and F6 then compose into one linear map before F6's squashing), or
# one of ACTIVATIONS, as the paper squashes C5 too.
C5_SQUASHING: dict[str, Callable[[], nn.Module]] = {"none": nn.Identity, **ACTIVATIONS}


# What S2 and S4 do before their squashing: the original's 2×2 max-pool, or the paper's subsampling (maps -> module).
POOLING: dict[str, Callable[[int], nn.Module]] = {"max": lambda channels: MaxPool2x2(),
                                                  "subsampling": Subsampling}


class LeNet5(nn.Module):
    """LeNet-5 as the original builds it (60,806 parameters); returns logits.

    C1 conv5 1→6, S2 max-pool + activation, C3 sparse conv5 6→16, S4 max-pool + activation,
    C5 conv5 16→120, F6 linear 120→84 + scaled tanh, F7 linear 84→10.
    ``activation`` is what follows each pooling: sigmoid as the original, or tanh / relu / silu.
    ``f6``: 'original' for 1.7159·tanh(x) (the original's text and code), 'lecun' for 1.7159·tanh(2x/3),
    'silu' for x·sigmoid(x). ``c5``: what follows C5, 'none' as the original's code or one of the activations.
    ``pooling``: 'max' as the original's code, or 'subsampling', the paper's
    (:class:`Subsampling` at S2 and S4: 2 parameters a map, 44 in all).
    """

    def __init__(self, activation: str = "sigmoid", f6: str = "original", pooling: str = "max", c5: str = "none"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if f6 not in F6_SQUASHING:
            raise ConfigError(f"unknown F6 {f6!r}; choose one of {', '.join(F6_SQUASHING)}")
        if pooling not in POOLING:
            raise ConfigError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLING)}")
        if c5 not in C5_SQUASHING:
            raise ConfigError(f"unknown C5 squashing {c5!r}; choose one of {', '.join(C5_SQUASHING)}")
        self.activation = activation
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = nn.Sequential(POOLING[pooling](6), ACTIVATIONS[activation]())
        self.c3 = SparseConv2d(6, C3_TABLE, 5)
        self.s4 = nn.Sequential(POOLING[pooling](16), ACTIVATIONS[activation]())
        self.c5 = nn.Conv2d(16, 120, 5)
        self.c5_squashing = C5_SQUASHING[c5]()  # no parameters: a state dict's keys are the same for every choice
        self.f6 = nn.Sequential(nn.Linear(120, 84), F6_SQUASHING[f6]())
        self.f7 = nn.Linear(84, N_CLASSES)
        # Before F6: nothing, or a run's GeneratorDropout (RunConfig.dropout, set by its training job).
        self.dropout: nn.Module = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, 32, 32)
        x = self.s2(self.c1(x))             # (B, 6, 14, 14)
        x = self.s4(self.c3(x))             # (B, 16, 5, 5)
        x = self.dropout(self.c5_squashing(self.c5(x)).flatten(1))  # (B, 120)
        return self.f7(self.f6(x))               # (B, 10) logits


class CustomMLP(nn.Module):
    """Fully connected net over the 1,024 padded pixels; ReLU between layers; logits out.

    ``hidden_sizes`` are the widths after the input, the last being the 10 outputs is
    optional: ``CustomMLP([58])`` and ``CustomMLP([58, 10])`` are the same model.
    """

    def __init__(self, hidden_sizes: Sequence[int]):
        super().__init__()
        sizes = [int(s) for s in hidden_sizes]
        if sizes and sizes[-1] == N_CLASSES and len(sizes) > 1:
            sizes = sizes[:-1]
        if not sizes or any(s <= 0 for s in sizes):
            raise ConfigError(f"MLP widths must be positive integers, got {list(hidden_sizes)}")
        self.hidden_sizes = tuple(sizes)
        widths = [INPUT_SIZE * INPUT_SIZE, *sizes, N_CLASSES]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.layers = nn.Sequential(*layers[:-1])  # no ReLU on the logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, 32, 32) or (B, 1024)
        return self.layers(x.flatten(1))


@dataclass(frozen=True)
class ModelSpec:
    """A named preset: how to build it and the parameter count the original states.

    ``revision`` counts changes to what the name builds; it is part of a run's config hash, so a
    run stored under an earlier revision is never read back as the current model.
    """

    name: str
    build: Callable[[], nn.Module]
    original_parameters: int | None
    description: str
    revision: int = 1
    hidden_sizes: tuple[int, ...] | None = None  # an MLP's widths after the input, the 10 outputs left out

    @property
    def depth(self) -> int | None:
        """An MLP's number of weight layers (hidden layers + the output layer); None for other models."""
        return None if self.hidden_sizes is None else len(self.hidden_sizes) + 1


def _mlp_spec(i: int, widths: tuple[int, ...], original_count: int) -> ModelSpec:
    return ModelSpec(f"CustomMLP_{i}", lambda: CustomMLP(widths), original_count,
                     "MLP 1024-" + "-".join(map(str, widths)), hidden_sizes=CustomMLP(widths).hidden_sizes)


_WORDS = {"relu": "ReLU", "silu": "SiLU", "tanh": "tanh", "sigmoid": "sigmoid"}

MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in [
        # LeNet-5 is revision 2: F6 is the original's 1.7159·tanh(x); runs of revision 1 (LeCun's F6)
        # belong to LeNet5-lecun.
        ModelSpec("LeNet5", LeNet5, 60806, "LeNet-5, sigmoid after pooling, F6 1.7159·tanh(x) (the original)", 2),
        ModelSpec("LeNet5-lecun", lambda: LeNet5(f6="lecun"), 60806,
                  "LeNet-5, sigmoid after pooling, F6 1.7159·tanh(2x/3) (LeCun et al. 1998)"),
        ModelSpec("LeNet5-tanh", lambda: LeNet5("tanh"), 60806, "LeNet-5, tanh after pooling", 2),
        ModelSpec("LeNet5-relu", lambda: LeNet5("relu"), 60806, "LeNet-5, ReLU after pooling", 2),
        ModelSpec("LeNet5-relu-silu", lambda: LeNet5("relu", f6="silu"), 60806,
                  "LeNet-5, ReLU after pooling, F6 SiLU (the fast recipe's)"),
        # Issue #30's one-epoch screen: activations after C5, and SiLU after pooling (RECIPES.md).
        *[ModelSpec(f"LeNet5-{pool}-silu" + (f"-c5{c5}" if c5 != "none" else ""),
                    (lambda pool=pool, c5=c5: LeNet5(pool, f6="silu", c5=c5)), 60806,
                    f"LeNet-5, {_WORDS[pool]} after pooling, " + (f"{_WORDS[c5]} after C5, " if c5 != "none" else "")
                    + "F6 SiLU")
          for pool, c5 in [("relu", "relu"), ("relu", "silu"), ("relu", "tanh"), ("silu", "none"), ("silu", "silu")]],
        ModelSpec("LeNet5-subsampling", lambda: LeNet5(pooling="subsampling"), 60850,
                  "LeNet-5 with the paper's subsampling at S2 and S4 (2×2 average · a trainable coefficient + a "
                  "trainable bias, then the sigmoid)"),
        _mlp_spec(1, (54, 47, 35, 10, 39, 10), 60804),
        _mlp_spec(2, (55, 35, 30, 34, 10), 60819),
        _mlp_spec(3, (55, 34, 33, 31, 10), 60808),
        _mlp_spec(4, (55, 41, 41, 10), 60813),
        _mlp_spec(5, (56, 51, 10), 60827),
        _mlp_spec(6, (58, 10), 60040),
    ]
}
ORIGINAL_MODELS = ["LeNet5"] + [f"CustomMLP_{i}" for i in range(1, 7)]


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def resolve_model_name(name: str) -> str:
    """The registry's spelling of ``name`` (case, '-' and '_' ignored), or ``mlp:W1,W2,...``.

    Raises ConfigError listing the valid names when there is no such model.
    """
    if not isinstance(name, str):
        raise ConfigError(f"model must be a name (str), got {type(name).__name__} {name!r}")
    if name.lower().startswith("mlp:"):
        widths = name[4:].replace("-", ",").split(",")
        try:
            CustomMLP([int(w) for w in widths if w.strip()])
        except ValueError:
            raise ConfigError(f"bad MLP widths in {name!r}; write e.g. 'mlp:100,50'") from None
        return "mlp:" + ",".join(str(int(w)) for w in widths if w.strip())
    for known in MODELS:
        if _key(known) == _key(name):
            return known
    raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} or 'mlp:W1,W2,...'")


def build_model(name: str) -> nn.Module:
    """A fresh, randomly initialised model by registry name (uses torch's global RNG)."""
    name = resolve_model_name(name)
    if name.startswith("mlp:"):
        return CustomMLP([int(w) for w in name[4:].split(",")])
    return MODELS[name].build()


def model_revision(name: str) -> int:
    """The registry revision of a (resolved) model name; 1 for ``mlp:`` models."""
    return MODELS[name].revision if name in MODELS else 1


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counted the way users count them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _formula(module: nn.Module) -> str:
    if isinstance(module, Subsampling):
        return f"2·{len(module.weight)}"
    if isinstance(module, SparseConv2d):
        k = module.kernel_size
        return f"{len(module.weight)}·{k}·{k} + {module.out_channels}"
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        return f"({k}·{k}·{module.in_channels} + 1)·{module.out_channels}"
    if isinstance(module, nn.Linear):
        return f"({module.in_features} + 1)·{module.out_features}"
    return ""


def parameter_table(model: nn.Module | str) -> pd.DataFrame:
    """One row per layer with parameters: layer, type, weight shape, formula, count; plus a total."""
    if isinstance(model, str):
        model = build_model(model)
    rows = []
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        rows.append({"layer": name, "type": type(module).__name__,
                     "shape": " + ".join("×".join(map(str, p.shape)) for p in own),
                     "formula": _formula(module), "parameters": sum(p.numel() for p in own)})
    rows.append({"layer": "total", "type": "", "shape": "", "formula": "",
                 "parameters": sum(r["parameters"] for r in rows)})
    return pd.DataFrame(rows)


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities (softmax of the logits) for a batch, in eval mode."""
    was_training = model.training
    model.eval()
    try:
        return torch.softmax(model(x), dim=1)
    finally:
        model.train(was_training)
