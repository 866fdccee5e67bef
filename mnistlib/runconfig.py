"""``RunConfig``: everything that decides a run's numbers, validated and hashable.

    >>> RunConfig(model="LeNet5", weight_decay=1e-3).run_name()
    'lenet5-wd0.001-9da1401b'

Defaults are the course template: SGD lr 0.01, momentum 0.9, cross-entropy on logits,
50 epochs, batch 64 (the seed does not state one; 64 is used for every run). Values are
checked on construction, so a bad one fails at once with one line naming it; numbers given as
strings (papermill, YAML's ``1e-3``) are accepted when they parse.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .models import model_revision, resolve_model_name

NOISE_MODES = ("per-batch", "fixed")
LOSSES = ("cross_entropy", "seed_softmax_ce")
LOSS_TEXT = {"cross_entropy": "cross-entropy on logits", "seed_softmax_ce": "softmax, then cross-entropy (the seed's)"}
SUBSET_MODES = ("first", "stratified")
SCHEDULES = ("constant", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda", "mps")
ORIGINS = ("trained", "seed-checkpoint")  # trained by mnistlib, or imported from the seed's published weights
# A protocol preset: the values it sets, which explicitly given fields still override. 'seed' is the
# seed's code as published (seed-code.md): batch 10, momentum 0.6, softmax-then-CE, noise drawn once;
# its runs also record an epoch-0 row and compute training metrics as the seed did.
PROTOCOLS: dict[str, dict] = {
    "mnistlib": {},
    "seed": {"batch_size": 10, "momentum": 0.6, "loss": "seed_softmax_ce", "noise_mode": "fixed"},
}
# Fields that do not change the numbers a run produces, so they stay out of its hash.
NOT_HASHED = ("name", "device", "save_every_epoch")
# Fields added after runs were stored: hashed only when set, so stored runs keep their names.
HASHED_WHEN_SET = ("schedule", "warmup_epochs", "shift", "rotate", "scale", "protocol", "origin")


def _as_number(name: str, value: Any, *, integer: bool = False, minimum: float | None = None,
               strict_min: bool = False, maximum: float | None = None, optional: bool = False):
    kind = "an integer" if integer else "a number"
    if value is None and optional:
        return None
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be {kind}, got the text {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    if integer:
        if value != int(value):
            raise ConfigError(f"{name} must be {kind}, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        raise ConfigError(f"{name} must be {'>' if strict_min else '>='} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


@dataclass(frozen=True)
class RunConfig:
    """One training run. Accuracies it produces are in percent."""

    model: str = "LeNet5"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0       # SGD's L2 coefficient λ
    noise_std: float = 0.0          # Gaussian noise on normalized training inputs only
    noise_mean: float = 0.0
    noise_mode: str = "per-batch"   # 'per-batch': fresh each batch; 'fixed': drawn once, as the seed
    loss: str = "cross_entropy"     # 'seed_softmax_ce' reproduces the seed's softmax-then-CE
    schedule: str = "constant"      # learning rate per step: constant, cosine (to 0), step (x0.1 at 1/2 and 3/4)
    warmup_epochs: int = 0          # linear warm-up from 0 to lr over these first epochs
    shift: int = 0                  # random translation of training digits by up to this many pixels
    rotate: float = 0.0             # random rotation of training digits by up to this many degrees
    scale: float = 0.0              # random scaling of training digits by a factor in 1 ± this
    protocol: str = "mnistlib"      # 'seed': the seed's code (see PROTOCOLS); use RunConfig.preset to get its values
    origin: str = "trained"         # 'seed-checkpoint': imported by `mnistlib import-seed`, never trained here
    seed: int = 0
    train_subset: int | None = None  # None: all 60,000
    test_subset: int | None = None   # None: all 10,000
    subset_mode: str = "first"       # or 'stratified'
    name: str | None = None          # readable label for the run folder (not hashed)
    device: str = "auto"             # auto: CUDA, else MPS, else CPU (not hashed)
    save_every_epoch: bool = False   # keep a checkpoint per epoch, as the seed did (not hashed)

    def __post_init__(self):
        fix = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731  (frozen)
        fix("model", resolve_model_name(self.model))
        fix("epochs", _as_number("epochs", self.epochs, integer=True, minimum=1))
        fix("batch_size", _as_number("batch_size", self.batch_size, integer=True, minimum=1))
        fix("lr", _as_number("lr", self.lr, minimum=0, strict_min=True))
        fix("momentum", _as_number("momentum", self.momentum, minimum=0, maximum=1))
        fix("weight_decay", _as_number("weight_decay", self.weight_decay, minimum=0))
        fix("noise_std", _as_number("noise_std", self.noise_std, minimum=0))
        fix("noise_mean", _as_number("noise_mean", self.noise_mean))
        fix("seed", _as_number("seed", self.seed, integer=True, minimum=0))
        fix("warmup_epochs", _as_number("warmup_epochs", self.warmup_epochs, integer=True, minimum=0))
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"warmup_epochs must be less than epochs ({self.epochs}), got {self.warmup_epochs}")
        # The digits sit in a 2-pixel border inside 32x32; beyond 4 pixels strokes leave the frame.
        fix("shift", _as_number("shift", self.shift, integer=True, minimum=0, maximum=4))
        fix("rotate", _as_number("rotate", self.rotate, minimum=0, maximum=45))
        fix("scale", _as_number("scale", self.scale, minimum=0, maximum=0.5))
        for key in ("train_subset", "test_subset"):
            fix(key, _as_number(key, getattr(self, key), integer=True, minimum=1, optional=True))
        _choice("noise_mode", self.noise_mode, NOISE_MODES)
        _choice("loss", self.loss, LOSSES)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("subset_mode", self.subset_mode, SUBSET_MODES)
        _choice("protocol", self.protocol, tuple(PROTOCOLS))
        _choice("origin", self.origin, ORIGINS)
        _choice("device", self.device, DEVICES)
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()
                                      or "/" in self.name or self.name.startswith(".")):
            raise ConfigError(f"name must be a plain folder name, got {self.name!r}")
        if not isinstance(self.save_every_epoch, bool):
            raise ConfigError(f"save_every_epoch must be true or false, got {self.save_every_epoch!r}")

    @classmethod
    def preset(cls, protocol: str = "mnistlib", **values) -> "RunConfig":
        """A config of ``protocol`` (see PROTOCOLS): the preset's values, then ``values`` over them.

            >>> RunConfig.preset("seed", model="CustomMLP_6").batch_size
            10
        """
        _choice("protocol", protocol, tuple(PROTOCOLS))
        return cls(**{**PROTOCOLS[protocol], **values, "protocol": protocol})

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build from a mapping (a YAML/JSON file, papermill parameters, a stored ``config.json``);
        unknown keys are an error. A ``protocol`` fills the fields the mapping leaves out with its
        preset; a ``model_revision`` (written to config.json) must be the model's current one."""
        if not isinstance(values, dict):
            raise ConfigError(f"a run config must be a mapping of field: value, got {type(values).__name__}")
        values = dict(values)
        revision = values.pop("model_revision", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config field {unknown[0]!r}; valid fields: {', '.join(sorted(known))}")
        cfg = cls.preset(**values) if values.get("protocol") in PROTOCOLS else cls(**values)
        if revision is not None and revision != model_revision(cfg.model):
            raise ConfigError(f"made with revision {revision} of model {cfg.model}, which is now revision "
                              f"{model_revision(cfg.model)} (see 'mnistlib params --list'); retrain it")
        return cfg

    def to_dict(self) -> dict:
        """All fields, and the model's revision, as written to ``config.json``."""
        return {**asdict(self), "model_revision": model_revision(self.model)}

    def config_hash(self) -> str:
        """8 hex digits over the fields that change results (not name, device, save_every_epoch),
        and the model's revision once it is past 1, so a changed model never reuses old runs."""
        default = RunConfig()
        values = {k: v for k, v in asdict(self).items()
                  if k not in NOT_HASHED and not (k in HASHED_WHEN_SET and v == getattr(default, k))}
        if model_revision(self.model) != 1:
            values["model_revision"] = model_revision(self.model)
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]

    def label(self) -> str:
        """A readable label: the name, else the model plus what differs from its protocol's preset."""
        if self.name:
            return self.name
        default = RunConfig.preset(self.protocol)
        parts = [self.model.lower().replace(":", "").replace(",", "-")]
        short = {"weight_decay": "wd", "noise_std": "noise", "noise_mean": "noisemean", "lr": "lr",
                 "momentum": "mom", "batch_size": "bs", "epochs": "e", "seed": "seed",
                 "train_subset": "n", "test_subset": "ntest", "warmup_epochs": "warm", "shift": "shift",
                 "rotate": "rot", "scale": "scale"}
        for key, prefix in short.items():
            value = getattr(self, key)
            if value != getattr(default, key):
                parts.append(f"{prefix}{value:g}" if isinstance(value, float) else f"{prefix}{value}")
        if self.noise_std and self.noise_mode != default.noise_mode:
            parts.append(self.noise_mode.replace("-", ""))
        if self.schedule != default.schedule:
            parts.append(self.schedule)
        if self.loss != default.loss:
            parts.append("seedloss" if self.loss == "seed_softmax_ce" else "celoss")
        if self.train_subset and self.subset_mode != default.subset_mode:
            parts.append(self.subset_mode)
        if self.protocol != "mnistlib":
            parts.append(f"{self.protocol}protocol")
        if self.origin != "trained":
            parts.append("imported")
        return "-".join(parts)

    def optimizer_text(self) -> str:
        """The optimizer and loss in words, e.g. 'SGD, lr 0.01, momentum 0.9; cross-entropy on logits'."""
        decay = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return f"SGD, lr {self.lr:g}, momentum {self.momentum:g}{decay}; {LOSS_TEXT[self.loss]}"

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """The learning rate at optimizer step ``step`` (from 0) as a fraction of ``lr``.

        A pure function of the step, so a resumed run needs no scheduler state.
        """
        total = self.epochs * steps_per_epoch
        warm = self.warmup_epochs * steps_per_epoch
        if step < warm:
            return (step + 1) / warm
        if self.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / (total - warm)))
        if self.schedule == "step":
            return 0.01 if step >= 0.75 * total else 0.1 if step >= 0.5 * total else 1.0
        return 1.0

    def continues(self, base: "RunConfig") -> bool:
        """Whether this run may start from ``base``'s last checkpoint: the same settings but fewer
        epochs, and a learning rate that does not depend on the total (constant, no warm-up), so
        this run's first epochs would be exactly ``base``'s."""
        ignored = ("epochs", *NOT_HASHED)
        same = lambda c: {k: v for k, v in asdict(c).items() if k not in ignored}  # noqa: E731
        return (base.epochs < self.epochs and self.schedule == "constant" and not self.warmup_epochs
                and same(self) == same(base))

    def run_name(self) -> str:
        """The run folder's name: ``<label>-<hash>``."""
        return f"{self.label()}-{self.config_hash()}"


def read_yaml_mapping(path: str | Path, what: str = "config") -> dict:
    """A YAML (or JSON: JSON is YAML) file holding a mapping; one-line ConfigError otherwise."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror}); check the path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON ({str(exc).splitlines()[0]}); fix the file") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: must be a mapping of name: value, got {type(values).__name__}")
    return values


def load_config_values(path: str | Path) -> dict:
    """The field: value mapping of a YAML or JSON file, checked by building a RunConfig from it."""
    values = read_yaml_mapping(path)
    try:
        RunConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return values
