"""Training-time augmentation: Gaussian noise, random shifts, rotation and scaling, and the per-batch
function a run's config asks for.

Every function here acts on normalized (N, 1, 32, 32) batches and takes its own generator, so a
resumed run (whose checkpoint holds the generators' states) draws exactly what it would have drawn.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F

from .data import BACKGROUND, TensorData
from .runconfig import RunConfig


def add_noise(x: torch.Tensor, std: float, mean: float = 0.0,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` plus Gaussian noise N(mean, std²), on the normalized input; a new tensor."""
    if std == 0 and mean == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + (noise * std + mean)


@functools.lru_cache(maxsize=8)
def _shift_maps(max_shift: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """For each offset in [-k, k]^2 (row-major), the flat index of every output pixel in the
    image padded by k: one row per offset, so a batch's shifts are one gather. Kept per shape
    and device: every batch of a run asks for the same."""
    stride = width + 2 * max_shift
    pixels = (torch.arange(height)[:, None] * stride + torch.arange(width)[None, :]).reshape(1, -1)
    offsets = torch.tensor([dy * stride + dx for dy in range(2 * max_shift + 1) for dx in range(2 * max_shift + 1)])
    return (offsets[:, None] + pixels).to(device)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) moved by its own random whole-pixel offset in
    [-max_shift, max_shift] on both axes; uncovered pixels get the background (black, normalized).

    The "distortions" of LeCun et al. (1998), translations only; a new tensor.
    """
    if max_shift == 0:
        return x
    n, channels, height, width = x.shape
    maps = _shift_maps(max_shift, height, width, x.device)
    choice = torch.randint(0, len(maps), (n,), generator=generator, device=x.device)
    k = max_shift
    padded = F.pad(x, (k, k, k, k), value=BACKGROUND).reshape(n * channels, -1)
    # One gather of precomputed indices: faster than indexing with broadcast row/column grids
    # (benchmarks/bench_augment.py measures both).
    index = maps.index_select(0, choice).repeat_interleave(channels, 0)
    return padded.gather(1, index).reshape(n, channels, height, width)


def random_affine(x: torch.Tensor, max_degrees: float, max_scale: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) rotated by a uniform angle in ±``max_degrees`` and scaled
    by a uniform factor in 1 ± ``max_scale`` about its centre (bilinear; the border stays black).

    With :func:`random_shift`, the affine "distortions" of LeCun et al. (1998); a new tensor.
    """
    if max_degrees == 0 and max_scale == 0:
        return x
    n = x.shape[0]
    u = torch.rand((2, n), generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    angle = u[0] * math.radians(max_degrees)
    factor = 1 + u[1] * max_scale  # > 1 enlarges the digit
    cos, sin, zero = torch.cos(angle) / factor, torch.sin(angle) / factor, torch.zeros_like(angle)
    # affine_grid maps output to input coordinates, so the inverse transform: rotate back, shrink by factor
    theta = torch.stack([torch.stack([cos, sin, zero], 1), torch.stack([-sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Sample x − background with zero padding, so pixels from outside the frame are black.
    moved = F.grid_sample(x - BACKGROUND, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + BACKGROUND


def augmentation(cfg: RunConfig, data: TensorData) -> tuple[TensorData, Callable | None, dict]:
    """(training data, per-batch function, its generators by name) for shifts and noise.

    Shifts come first, then rotation/scaling, then noise, so the noise also covers the border. Each has its
    own generator (saved in checkpoints), so adding one never changes the other's draws.
    """
    generators: dict[str, torch.Generator] = {}
    steps: list[Callable] = []
    if cfg.shift:
        shift_gen = generators["shift"] = torch.Generator(device=data.device).manual_seed(cfg.seed + 2)
        steps.append(lambda xb: random_shift(xb, cfg.shift, shift_gen))
    if cfg.rotate or cfg.scale:
        affine_gen = generators["affine"] = torch.Generator(device=data.device).manual_seed(cfg.seed + 3)
        steps.append(lambda xb: random_affine(xb, cfg.rotate, cfg.scale, affine_gen))
    if cfg.noise_std != 0 or cfg.noise_mean != 0:
        noise_gen = torch.Generator(device=data.device).manual_seed(cfg.seed + 1)
        if cfg.noise_mode == "fixed":
            # One noisy copy of the training set, drawn once, as the original's dataset did.
            noisy = add_noise(data.x_train, cfg.noise_std, cfg.noise_mean, noise_gen)
            data = dataclasses.replace(data, x_train=noisy)
        else:
            generators["noise"] = noise_gen
            steps.append(lambda xb: add_noise(xb, cfg.noise_std, cfg.noise_mean, noise_gen))
    if not steps:
        return data, None, generators

    def augment(xb):
        for step in steps:
            xb = step(xb)
        return xb

    return data, augment, generators
