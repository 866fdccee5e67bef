"""Training-time augmentation: Gaussian noise, random shifts, rotation and scaling, elastic distortions, and the per-batch
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

from .mnist import BACKGROUND, TensorData
from ..runconfig import RunConfig


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


def _gaussian_kernel(sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A normalized 1-D Gaussian of standard deviation ``sigma`` pixels over ±3σ."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    return kernel / kernel.sum()


def elastic_displacement(n: int, height: int, width: int, alpha: float, sigma: float,
                         generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Simard et al. (2003)'s random displacement fields, in pixels: (n, 2, H, W), channel 0 along x
    (columns), 1 along y (rows). Each pixel's displacement is drawn uniform in [-1, 1], smoothed by a
    Gaussian of ``sigma`` pixels (zeros beyond the border) and scaled by ``alpha``."""
    field = torch.rand((n * 2, 1, height, width), generator=generator, device=device, dtype=dtype) * 2 - 1
    kernel = _gaussian_kernel(sigma, field.device, dtype)
    radius = len(kernel) // 2
    field = F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0))  # along rows, then columns
    field = F.conv2d(field, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return field.view(n, 2, height, width) * alpha


def warp(x: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) resampled (bilinear) at its pixels moved by ``displacement``
    (N, 2, H, W, in pixels, x then y): output pixel (i, j) reads input (i + dy, j + dx); from outside
    the frame it reads the background."""
    n, _, height, width = x.shape
    rows = (torch.arange(height, device=x.device, dtype=x.dtype) * 2 + 1) / height - 1  # pixel centres in [-1, 1]
    cols = (torch.arange(width, device=x.device, dtype=x.dtype) * 2 + 1) / width - 1
    grid = torch.stack([cols.view(1, -1).expand(height, width), rows.view(-1, 1).expand(height, width)], -1)
    scale = torch.tensor([2 / width, 2 / height], device=x.device, dtype=x.dtype)
    grid = grid + displacement.permute(0, 2, 3, 1) * scale
    moved = F.grid_sample(x - BACKGROUND, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + BACKGROUND


def random_elastic(x: torch.Tensor, alpha: float, sigma: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) distorted by its own elastic field
    (:func:`elastic_displacement`, :func:`warp`): Simard et al. (2003)'s distortions, which took their
    convolutional network on MNIST from 99.2% (affine) to 99.6%; a new tensor."""
    if alpha == 0:
        return x
    n, _, height, width = x.shape
    return warp(x, elastic_displacement(n, height, width, alpha, sigma, generator, x.device, x.dtype))


def augmentation(cfg: RunConfig, data: TensorData) -> tuple[TensorData, Callable | None, dict]:
    """(training data, per-batch function, its generators by name) for shifts, rotation and scaling,
    elastic distortions and noise.

    Shifts come first, then rotation/scaling, then elastic distortions, then noise, so the noise also covers the border. Each has its
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
    if cfg.elastic:
        elastic_gen = generators["elastic"] = torch.Generator(device=data.device).manual_seed(cfg.seed + 4)
        steps.append(lambda xb: random_elastic(xb, cfg.elastic, cfg.elastic_sigma, elastic_gen))
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
