"""The tensors a run trains and is tested on, prepared once per process and shared by its runs.

    >>> data = run_tensors(cfg, load_mnist(), torch.device("cpu"))   # the run's subsets, padded, normalized
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from ..runconfig import RunConfig
from .mnist import FULL_COUNTS, MNISTArrays, TensorData, evaluation_indices, prepare
from .perturb import Perturbation, perturb


def _subsets(cfg: RunConfig) -> tuple:
    # The original picks the images only of a stratified subset; elsewhere runs of different seeds share
    # one copy (and a stack of them gathers its batches from it).
    by_seed = cfg.subset_mode == "stratified" and bool(cfg.train_subset or cfg.test_subset)
    return cfg.train_subset, cfg.test_subset, cfg.subset_mode, cfg.seed if by_seed else 0, cfg.validation


def training_images(cfg: RunConfig) -> int:
    """How many training images ``cfg``'s run sees an epoch: its subset, or MNIST's 60,000 less those held out."""
    return cfg.train_subset or FULL_COUNTS["train"] - cfg.validation


def evaluation_set(cfg: RunConfig, arrays: MNISTArrays) -> tuple[str, np.ndarray]:
    """(split, indices) of the images ``cfg``'s run is evaluated on (:func:`mnistlib.data.mnist.evaluation_indices`):
    the ones its ``run_tensors`` test tensors hold."""
    _, test_subset, subset_mode, seed, validation = _subsets(cfg)
    return evaluation_indices(arrays, test_subset=test_subset, subset_mode=subset_mode, seed=seed,
                              validation=validation)


def run_tensors(cfg: RunConfig, arrays: MNISTArrays, device: torch.device) -> TensorData:
    """The run's training and test tensors on ``device`` (its subsets, padded and normalized)."""
    return prepared(arrays, str(device), *_subsets(cfg))


def perturbed_images(cfg: RunConfig, arrays: MNISTArrays, device: torch.device,
                perturbation: Perturbation = Perturbation()) -> torch.Tensor:
    """The run's test images on ``device``, perturbed (:mod:`mnistlib.data.perturb`): made once per setting,
    so every model evaluated on it sees the very same images."""
    return _perturbed(arrays, str(device), *_subsets(cfg), perturbation)


@functools.lru_cache(maxsize=4)
def _perturbed(arrays: MNISTArrays, device: str, train_subset, test_subset, subset_mode, seed, validation,
               perturbation: Perturbation) -> torch.Tensor:
    return perturb(prepared(arrays, device, train_subset, test_subset, subset_mode, seed, validation).x_test,
                   perturbation)


@functools.lru_cache(maxsize=1)
def prepared(arrays: MNISTArrays, device: str, train_subset: int | None, test_subset: int | None, subset_mode: str,
             seed: int, validation: int = 0) -> TensorData:
    """:func:`mnistlib.data.mnist.prepare`, the last result kept: runs of one notebook or worker share their
    data. Keyed by the data's content (MNISTArrays hash and compare by :func:`~mnistlib.data.mnist.content_hash`)."""
    return prepare(arrays, device, train_subset=train_subset, test_subset=test_subset, subset_mode=subset_mode,
                   seed=seed, validation=validation)
