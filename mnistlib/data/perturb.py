"""Test images perturbed on purpose (noise, a shift, a rotation), the same images the same way for every model.

    >>> p = Perturbation(noise=0.3, shift=2, rotate=15)
    >>> x = perturb(tensors.x_test, p)      # a new tensor; the same draws every time

Noise is Gaussian with std ``noise`` in normalized units, the units training noise uses here and in
the original (1.0 is about 0.31 of the pixel range), so "trained at 0.3, tested at 0.3" is the same
noise. A shift moves each image by exactly ``shift`` pixels in one of the eight compass directions; a
rotation turns each image by exactly ``rotate`` degrees, clockwise or anticlockwise. Each image's
direction, sense and noise are drawn from generators seeded by ``seed`` alone, on the CPU, so two
models evaluated on one setting see the very same images. They apply in the order shift, rotation,
noise (as the training augmentations do), each with its own generator: adding one never changes
another's draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._util.checks import number
from .mnist import BACKGROUND

# The eight compass directions as (rows, columns) of a unit step: N, NE, E, SE, S, SW, W, NW.
DIRECTIONS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
MAX_SHIFT, MAX_ROTATE = 8, 90.0


@dataclass(frozen=True)
class Perturbation:
    """How test images are perturbed; the default leaves them as they are."""

    noise: float = 0.0   # std of Gaussian noise added to the normalized image
    shift: int = 0       # pixels, 0-8
    rotate: float = 0.0  # degrees, 0-90
    seed: int = 0        # the random seed of every draw

    def __post_init__(self):
        fix = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731  (frozen)
        fix("noise", number("noise", self.noise, minimum=0))
        fix("shift", number("shift", self.shift, integer=True, minimum=0, maximum=MAX_SHIFT))
        fix("rotate", number("rotate", self.rotate, minimum=0, maximum=MAX_ROTATE))
        fix("seed", number("seed", self.seed, integer=True, minimum=0))

    @property
    def clean(self) -> bool:
        """Whether the images are left as they are."""
        return not (self.noise or self.shift or self.rotate)

    def name(self) -> str:
        """'clean', or the perturbation in a file name: 'noise0.3-shift2-rotate15' (and '-seed1' past 0)."""
        parts = [f"{key}{getattr(self, key):g}" for key in ("noise", "shift", "rotate") if getattr(self, key)]
        parts += [f"seed{self.seed}"] if self.seed and parts else []
        return "-".join(parts) or "clean"


def _generator(p: Perturbation, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(p.seed * 3 + offset)


def shift_exactly(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) moved by ``pixels`` in one of the eight compass directions
    (drawn per image); uncovered pixels get the background. A new tensor."""
    n, _, height, width = x.shape
    direction = torch.randint(0, len(DIRECTIONS), (n,), generator=generator).to(x.device)
    padded = F.pad(x, (pixels, pixels, pixels, pixels), value=BACKGROUND)
    out = torch.empty_like(x)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        chosen = direction == d
        # moving the image by (dy, dx) means reading the padded image from the opposite corner
        top, left = pixels - dy * pixels, pixels - dx * pixels
        out[chosen] = padded[chosen, :, top:top + height, left:left + width]
    return out


def rotate_exactly(x: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``x`` turned by ``degrees`` about its centre, clockwise or anticlockwise (drawn
    per image); bilinear, the border black. A new tensor."""
    sign = torch.randint(0, 2, (x.shape[0],), generator=generator).to(x.device, x.dtype) * 2 - 1
    angle = sign * math.radians(degrees)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, sin, zero], 1), torch.stack([-sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - BACKGROUND, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + BACKGROUND


def perturb(x: torch.Tensor, p: Perturbation) -> torch.Tensor:
    """``x`` (normalized (N, 1, 32, 32) images) perturbed as ``p`` says; ``x`` itself when ``p`` is clean."""
    if p.shift:
        x = shift_exactly(x, p.shift, _generator(p, 0))
    if p.rotate:
        x = rotate_exactly(x, p.rotate, _generator(p, 1))
    if p.noise:
        x = x + p.noise * torch.randn(x.shape, generator=_generator(p, 2), dtype=x.dtype).to(x.device)
    return x
