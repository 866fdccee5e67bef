"""``RunConfig``: the record of everything that decides a run's numbers, validated on construction.

    >>> RunConfig(model="LeNet5", weight_decay="1e-3").weight_decay
    0.001

Defaults are the course template: SGD lr 0.01, momentum 0.9, cross-entropy on logits,
50 epochs, batch 64 (the original does not state one; 64 is used for every run). Values are
checked on construction, so a bad one fails at once with one line naming it; numbers given as
strings (papermill, YAML's ``1e-3``) are accepted when they parse. A run's name and hash are the
run store's (:mod:`mnistlib.store.identity`), its learning-rate schedule training's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from ._util.checks import choice, number
from .errors import ConfigError
from .models.nets import model_revision, resolve_model_name

NOISE_MODES = ("per-batch", "fixed")
LOSSES = ("cross_entropy", "softmax_then_cross_entropy")
SUBSET_MODES = ("first", "stratified")
SCHEDULES = ("constant", "cosine", "step", "one-cycle")
OPTIMIZERS = ("sgd", "adam", "adamw")
# One-cycle cycles the momentum (SGD's, or Adam's β1) itself, as torch's OneCycleLR does by default.
ONE_CYCLE_MOMENTUM = (0.95, 0.85)  # (at the start and the end, at the peak of the learning rate)
DEVICES = ("auto", "cpu", "cuda", "mps")
ORIGINS = ("trained", "original-checkpoint")  # trained by mnistlib, or imported from the original's published weights
# A protocol preset: the values it sets, which explicitly given fields still override. 'original' is
# the original's code as published (../shared/spec/original-code.md): batch 10, momentum 0.6, softmax-then-CE, noise drawn once;
# its runs also record an epoch-0 row and compute training metrics as the original did.
PROTOCOLS: dict[str, dict] = {
    "mnistlib": {},
    "original": {"batch_size": 10, "momentum": 0.6, "loss": "softmax_then_cross_entropy", "noise_mode": "fixed"},
}
# Each field's check (see mnistlib._util.checks). The digits sit in a 2-pixel border inside 32x32: beyond a
# 4-pixel shift strokes leave the frame.
NUMBERS = {
    "epochs": dict(integer=True, minimum=1), "batch_size": dict(integer=True, minimum=1),
    "lr": dict(minimum=0, strict_min=True), "momentum": dict(minimum=0, maximum=1),
    "weight_decay": dict(minimum=0), "noise_std": dict(minimum=0), "noise_mean": dict(),
    "warmup_epochs": dict(integer=True, minimum=0), "shift": dict(integer=True, minimum=0, maximum=4),
    "rotate": dict(minimum=0, maximum=45), "scale": dict(minimum=0, maximum=0.5),
    "label_smoothing": dict(minimum=0, maximum=0.99), "one_cycle_warmup": dict(minimum=0, strict_min=True, maximum=0.99),
    "elastic": dict(minimum=0, maximum=100), "elastic_sigma": dict(minimum=0.5, maximum=16),
    "average": dict(minimum=0, maximum=0.99999), "dropout": dict(minimum=0, maximum=0.9),
    "validation": dict(integer=True, minimum=0, maximum=30_000), "eval_every": dict(integer=True, minimum=0),
    "seed": dict(integer=True, minimum=0), "train_subset": dict(integer=True, minimum=1, optional=True),
    "test_subset": dict(integer=True, minimum=1, optional=True),
}
CHOICES = {"noise_mode": NOISE_MODES, "loss": LOSSES, "schedule": SCHEDULES, "optimizer": OPTIMIZERS,
           "protocol": tuple(PROTOCOLS),
           "origin": ORIGINS, "subset_mode": SUBSET_MODES, "device": DEVICES}


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
    noise_mode: str = "per-batch"   # 'per-batch': fresh each batch; 'fixed': drawn once, as the original
    loss: str = "cross_entropy"     # 'softmax_then_cross_entropy' reproduces the original's softmax-then-CE
    schedule: str = "constant"      # learning rate per step: constant, cosine (to 0), step (x0.1 at 1/2 and 3/4)
    warmup_epochs: int = 0          # linear warm-up from 0 to lr over these first epochs
    shift: int = 0                  # random translation of training digits by up to this many pixels
    rotate: float = 0.0             # random rotation of training digits by up to this many degrees
    scale: float = 0.0              # random scaling of training digits by a factor in 1 ± this
    optimizer: str = "sgd"          # 'adam': Adam, β1 = momentum, β2 = 0.999, weight decay as L2 (as SGD's);
                                    # 'adamw': the same, weight decay decoupled (Loshchilov & Hutter 2019)
    label_smoothing: float = 0.0    # training targets (1 − ε) on the label, ε/10 on every class (test loss: none)
    one_cycle_warmup: float = 0.3   # one-cycle: share of the steps rising to lr (torch OneCycleLR's pct_start)
    elastic: float = 0.0            # elastic distortions (Simard et al. 2003) of training digits: strength α, pixels
    elastic_sigma: float = 4.0      # ... and their smoothness σ, pixels
    dropout: float = 0.0            # LeNet-5: share of C5's 120 outputs zeroed in training, before F6 (own generator)
    average: float = 0.0            # a moving average of the weights (EMA) with this decay, e.g. 0.999, which every
                                    # evaluation and reader of the run's weights uses; 0: none
    validation: int = 0             # hold out this many training images and evaluate on them, never on the test set
    eval_every: int = 0             # also evaluate every this many steps (the run's curve.csv), 0: per epoch only
    protocol: str = "mnistlib"      # 'original': the original's code (see PROTOCOLS); use RunConfig.preset to get its values
    origin: str = "trained"         # 'original-checkpoint': imported by `mnistlib import-original`, never trained here
    seed: int = 0
    train_subset: int | None = None  # None: all 60,000
    test_subset: int | None = None   # None: all 10,000
    subset_mode: str = "first"       # or 'stratified'
    name: str | None = None          # readable label for the run folder (not part of its identity)
    device: str = "auto"             # auto: CUDA, else MPS, else CPU (not part of its identity)
    save_every_epoch: bool = False   # keep a checkpoint per epoch, as the original did (not part of its identity)

    def __post_init__(self):
        fix = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731  (frozen)
        fix("model", resolve_model_name(self.model))
        for key, rule in NUMBERS.items():
            fix(key, number(key, getattr(self, key), **rule))
        for key, choices in CHOICES.items():
            choice(key, getattr(self, key), choices)
        self._check_combinations()
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"warmup_epochs must be less than epochs ({self.epochs}), got {self.warmup_epochs}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()
                                      or "/" in self.name or self.name.startswith(".")):
            raise ConfigError(f"name must be a plain folder name, got {self.name!r}")
        if not isinstance(self.save_every_epoch, bool):
            raise ConfigError(f"save_every_epoch must be true or false, got {self.save_every_epoch!r}")

    def _check_combinations(self) -> None:
        if self.dropout and not self.model.startswith("LeNet5"):
            raise ConfigError(f"dropout is LeNet-5's (before F6), not {self.model}'s; leave it at 0 for an MLP")
        if self.schedule == "one-cycle":
            if self.warmup_epochs:
                raise ConfigError("one-cycle has its own warm-up (one_cycle_warmup); leave warmup_epochs at 0")
            if self.momentum != RunConfig.momentum:
                raise ConfigError(f"one-cycle cycles the momentum itself ({ONE_CYCLE_MOMENTUM[0]:g} → "
                                  f"{ONE_CYCLE_MOMENTUM[1]:g} → {ONE_CYCLE_MOMENTUM[0]:g}); leave momentum unset")
        elif self.one_cycle_warmup != RunConfig.one_cycle_warmup:
            raise ConfigError(f"one_cycle_warmup is for schedule one-cycle, not {self.schedule}; leave it unset")
        if self.validation and (self.train_subset or self.test_subset):
            raise ConfigError("validation holds images out of the whole training set; "
                              "leave train_subset and test_subset unset with it")

    @classmethod
    def preset(cls, protocol: str = "mnistlib", **values) -> "RunConfig":
        """A config of ``protocol`` (see PROTOCOLS): the preset's values, then ``values`` over them.

            >>> RunConfig.preset("original", model="CustomMLP_6").batch_size
            10
        """
        choice("protocol", protocol, PROTOCOLS)
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
