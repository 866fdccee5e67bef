"""The words a reader sees: column headers, model names, run labels, the optimizer and loss in words.

Analyses return tables keyed by ids (``mean_test_acc``, ``LeNet5``); the notebooks, plots and the
command line turn them into these words at the edge, so rewording a header never touches an analysis.

    >>> column_text("mean_test_acc")
    'mean test accuracy (%)'
    >>> run_label("CustomMLP_6", weight_decay=1e-3)
    'CustomMLP_6, λ=1e-3'
"""
from __future__ import annotations

from .runconfig import ONE_CYCLE_MOMENTUM, RunConfig


DISPLAY_NAMES = {"LeNet5": "LeNet-5"}


def display_name(model: str) -> str:
    """A model's name as the report prints it ('LeNet-5' for 'LeNet5')."""
    return DISPLAY_NAMES.get(model, model)


def run_label(model: str, weight_decay: float = 0.0, noise_std: float = 0.0) -> str:
    """The report's label of a run, in the original's spelling: 'LeNet-5', 'CustomMLP_6, λ=1e-5',
    'LeNet-5, noise 0.2'."""
    if weight_decay:
        return f"{display_name(model)}, λ={weight_decay:.0e}".replace("e-0", "e-").replace("e+0", "e")
    if noise_std:
        return f"{display_name(model)}, noise {noise_std:g}"
    return display_name(model)


# Column names as a reader reads them: words and units, not identifiers.
_WORDS = {"mean_train_loss": "mean training loss", "mean_test_loss": "mean test loss",
          "mean_train_acc": "mean training accuracy (%)", "mean_test_acc": "mean test accuracy (%)",
          "best_test_acc": "best test accuracy (%)", "best_epoch": "best epoch", "min_test_loss": "lowest test loss",
          "min_loss_epoch": "epoch of lowest loss", "final_test_acc": "final test accuracy (%)",
          "final_train_acc": "final training accuracy (%)", "final_train_loss": "final training loss",
          "diff_test_acc": "ours − the original's test accuracy (points)", "gap": "training − test accuracy (points)",
          "window": "epochs averaged", "epochs": "epochs", "lambda": "λ", "weight_decay": "λ", "noise_std": "noise std",
          "adds": "over the step before (points)", "collapsed": "collapsed",
          "min_test_loss_epoch": "epoch of the lowest test loss", "end_test_loss": "test loss at the end",
          "test_loss_rise_pct": "test loss at the end against its lowest (%)",
          "train_loss_at_min": "training loss at the lowest test loss", "end_train_loss": "training loss at the end",
          "train_loss_kept_falling": "training loss kept falling", "turned_upward": "test loss turns upward",
          "a": "model", "b": "against", "diff": "difference (points)", "smallest_possible_p": "smallest possible p",
          "a_min": "model's lowest (%)", "a_max": "model's highest (%)", "b_min": "the other's lowest (%)",
          "b_max": "the other's highest (%)", "ranges_overlap": "ranges overlap", "differ": "differ at the 0.05 level",
          "separable": "enough seeds for the 0.05 level", "lr": "learning rate", "batch_size": "batch size",
          "momentum": "momentum", "schedule": "learning-rate schedule", "warmup_epochs": "warm-up epochs",
          "shift": "random shift (pixels)", "rotate": "random rotation (degrees)", "scale": "random scaling",
          "noise_mode": "noise drawn", "loss": "loss", "test_acc": "test accuracy (%)", "test_loss": "test loss",
          "ece": "calibration error (points)", "confidence_right": "mean confidence when right (%)",
          "confidence_wrong": "mean confidence when wrong (%)", "l2_norm": "L2 norm of the weights",
          "near_zero": "weights within 0.001 of zero (%)", "weights": "weights",
          "overconfidence": "mean confidence minus accuracy (points)",
          "ece_change": "calibration error change from λ = 0 (points)", "ece_change_low": "its 95% interval, low",
          "ece_change_high": "its 95% interval, high", "verdict": "confidence",
          "seeds": "random seeds", "inside": "the original's inside our range",
          "lowest_seed": "lowest of the random seeds (%)", "highest_seed": "highest of the random seeds (%)",
          "seeds_at_target": "random seeds at the target",
          "change": "over the step before (points)", "p_against_step_before": "p against the step before",
          "seconds_per_run": "training time per run (s)", "optimizer": "optimizer", "label_smoothing": "label smoothing",
          "one_cycle_warmup": "share of the steps warming up", "elastic": "elastic distortions, α (pixels)",
          "elastic_sigma": "their σ (pixels)", "validation": "held-out training images", "model": "model"}


def column_text(name: str) -> str:
    """A column's header for readers: 'mean test accuracy (%)' for mean_test_acc, 'the original's …' for original_*,
    '± …' for a *_std column."""
    if name.startswith("original_"):
        return "the original's " + column_text(name[len("original_"):])
    if name.endswith("_std"):
        return "± " + column_text(name[:-len("_std")])
    return _WORDS.get(name, name.replace("_", " "))


LOSS_TEXT = {"cross_entropy": "cross-entropy on logits", "softmax_then_cross_entropy": "softmax, then cross-entropy (the original's)"}


def optimizer_text(cfg: RunConfig) -> str:
    """The optimizer and loss in words, e.g. 'SGD, lr 0.01, momentum 0.9; cross-entropy on logits'."""
    decay = f", weight decay {cfg.weight_decay:g}" if cfg.weight_decay else ""
    if cfg.schedule == "one-cycle":
        high, low = ONE_CYCLE_MOMENTUM
        name = "Adam" if cfg.optimizer == "adam" else "SGD"
        moment = "β1" if cfg.optimizer == "adam" else "momentum"
        steps = (f"{name}, one-cycle to lr {cfg.lr:g} ({cfg.one_cycle_warmup:.0%} of the steps up, then cosine down), "
                 f"{moment} {high:g} → {low:g} → {high:g}")
    elif cfg.optimizer == "adam":
        steps = f"Adam, lr {cfg.lr:g}, β1 {cfg.momentum:g}, β2 0.999"
    else:
        steps = f"SGD, lr {cfg.lr:g}, momentum {cfg.momentum:g}"
    smoothing = f", label smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else ""
    return f"{steps}{decay}; {LOSS_TEXT[cfg.loss]}{smoothing}"
