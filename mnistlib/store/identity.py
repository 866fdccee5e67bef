"""A run's identity in the store: the hash of what makes its numbers, and its folder's name.

    >>> cfg = RunConfig(model="CustomMLP_6", weight_decay=1e-3)
    >>> run_name(cfg)                 # the run folder: <folder label>-<hash>
    'custommlp_6-wd0.001-...'

The labels readers see are :mod:`mnistlib.words`'.

The hash rule: a field at its default value is never part of a run's identity, nor are the fields
that do not change its numbers (:data:`NOT_IDENTITY`), nor a model revision of 1. So a field
added with a default that keeps today's behaviour leaves every stored run's name as it was.
The other side of that rule: a default can never change meaning without a new store format
(:mod:`mnistlib.store.format`), and a test holds the defaults fixed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields

from ..models.nets import model_revision
from ..runconfig import RunConfig

NOT_IDENTITY = ("name", "device", "save_every_epoch")  # they never change a run's numbers
# Folder-label abbreviations, in the order they appear: field -> prefix.
_SHORT = {"weight_decay": "wd", "noise_std": "noise", "noise_mean": "noisemean", "lr": "lr", "momentum": "mom",
          "batch_size": "bs", "epochs": "e", "seed": "seed", "train_subset": "n", "test_subset": "ntest",
          "warmup_epochs": "warm", "shift": "shift", "rotate": "rot", "scale": "scale", "label_smoothing": "ls",
          "one_cycle_warmup": "up", "elastic": "elastic", "elastic_sigma": "sigma", "validation": "val",
          "eval_every": "every", "average": "ema", "dropout": "drop"}


def identity(cfg: RunConfig) -> dict:
    """The values that make a run what it is: every field not at its default, and the model's
    revision past 1, but never :data:`NOT_IDENTITY`."""
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg)
              if f.name not in NOT_IDENTITY and getattr(cfg, f.name) != f.default}
    if model_revision(cfg.model) != 1:
        values["model_revision"] = model_revision(cfg.model)
    return values


def config_hash(cfg: RunConfig) -> str:
    """8 hex digits of SHA-256 over :func:`identity`: equal for runs that would give the same numbers."""
    return hashlib.sha256(json.dumps(identity(cfg), sort_keys=True).encode()).hexdigest()[:8]


def folder_label(cfg: RunConfig) -> str:
    """The readable part of a run folder's name: ``cfg.name``, else the model plus what differs from
    its protocol's preset ('lenet5-wd0.001-e20')."""
    if cfg.name:
        return cfg.name
    default = RunConfig.preset(cfg.protocol)
    parts = [cfg.model.lower().replace(":", "").replace(",", "-")]
    for key, prefix in _SHORT.items():
        value = getattr(cfg, key)
        if value != getattr(default, key):
            parts.append(f"{prefix}{value:g}" if isinstance(value, float) else f"{prefix}{value}")
    if cfg.noise_std and cfg.noise_mode != default.noise_mode:
        parts.append(cfg.noise_mode.replace("-", ""))
    if cfg.optimizer != default.optimizer:
        parts.append(cfg.optimizer)
    if cfg.schedule != default.schedule:
        parts.append(cfg.schedule.replace("-", ""))
    if cfg.loss != default.loss:
        parts.append("softmaxloss" if cfg.loss == "softmax_then_cross_entropy" else "celoss")
    if cfg.train_subset and cfg.subset_mode != default.subset_mode:
        parts.append(cfg.subset_mode)
    if cfg.protocol != "mnistlib":
        parts.append(f"{cfg.protocol}protocol")
    if cfg.origin != "trained":
        parts.append("imported")
    return "-".join(parts)


def run_name(cfg: RunConfig) -> str:
    """A run folder's name: ``<folder label>-<config hash>``."""
    return f"{folder_label(cfg)}-{config_hash(cfg)}"


