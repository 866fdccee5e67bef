"""The words a reader sees: column headers, model names, run labels, the optimizer and loss in words.

Analyses return tables keyed by ids (``mean_test_acc``, ``LeNet5``); the notebooks, plots and the
command line turn them into these words at the edge, so rewording a header never touches an analysis.

    >>> column_text("mean_test_acc")
    'mean test accuracy (%)'
    >>> run_label("CustomMLP_6", weight_decay=1e-3)
    'CustomMLP_6, λ=1e-3'
"""
from __future__ import annotations

import math

import numpy as np

from .difference import ALPHA, DIFFERENT, UNDECIDED, WITHIN, chance_verdicts
from .models.nets import MODELS
from .runconfig import ONE_CYCLE_MOMENTUM, RunConfig

# How a report came by a run (its logs): found finished in the store, or trained.
REUSED, TRAINED, NOT_TRAINED = "reused from the store", "trained by this report", "not trained (the report stopped)"


DISPLAY_NAMES = {"LeNet5": "LeNet-5"}


def display_name(model: str) -> str:
    """A model's name as the report prints it ('LeNet-5' for 'LeNet5')."""
    return DISPLAY_NAMES.get(model, model)


def lambda_value(weight_decay: float) -> str:
    """A weight decay's value as the original writes it: '1e-3' ('0' for none)."""
    if weight_decay == 0:
        return "0"
    return f"{weight_decay:.0e}".replace("e-0", "e-").replace("e+0", "e")


def p_text(p: float) -> str:
    """An exact permutation p as a reader sees it: 'p = 0.032', or 'p < 0.001' (never 'p = 0.000')."""
    return "p < 0.001" if p < 0.0005 else f"p = {p:.3f}"


def lambda_values_text(weight_decays) -> str:
    """Several runs' weight decays in a few words: each value where there are at most four ('0, 1e-2'), else
    how many and their range ('8 values, 1e-6 to 1e-1')."""
    values = sorted(set(float(wd) for wd in weight_decays))
    if len(values) <= 4:
        return ", ".join(lambda_value(wd) for wd in values)
    return f"{len(values)} values, {lambda_value(values[0])} to {lambda_value(values[-1])}"


def lambda_text(weight_decay: float) -> str:
    """A weight decay as the original writes it: 'λ=1e-3'."""
    return f"λ={lambda_value(weight_decay)}"


def run_label(model: str, weight_decay: float = 0.0, noise_std: float = 0.0) -> str:
    """The report's label of a run, in the original's spelling: 'LeNet-5', 'CustomMLP_6, λ=1e-5',
    'LeNet-5, noise 0.2'."""
    if weight_decay:
        return f"{display_name(model)}, {lambda_text(weight_decay)}"
    if noise_std:
        return f"{display_name(model)}, noise {noise_std:g}"
    return display_name(model)


OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "cross_entropy": "cross-entropy",
              "softmax_then_cross_entropy": "softmax-then-cross-entropy"}  # a setting's value in words
# What a run sets away from its protocol's preset, in a reader's words (run_description), in this order.
_SETTINGS = (("epochs", "{:d} epochs"), ("batch_size", "batch {:d}"), ("optimizer", "{} optimizer"), ("lr", "lr {:g}"),
             ("momentum", "momentum {:g}"), ("schedule", "{} schedule"), ("warmup_epochs", "{:d} warm-up epochs"),
             ("one_cycle_warmup", "{:.0%} of the steps warming up"), ("label_smoothing", "label smoothing {:g}"),
             ("shift", "shifts of {:d} px"), ("rotate", "rotation {:g}°"), ("scale", "scaling {:g}"),
             ("elastic", "elastic α {:g}"), ("elastic_sigma", "σ {:g}"), ("validation", "{:,} held out"),
             ("eval_every", "a curve every {:d} steps"), ("seed", "seed {:d}"),
             ("train_subset", "{:,} training images"), ("test_subset", "{:,} test images"),
             ("noise_mean", "noise mean {:g}"), ("loss", "{} loss"))


def run_description(cfg: RunConfig) -> str:
    """A run in a reader's words, for legends and menus: its model in the original's spelling, its weight decay
    and noise as :func:`run_label` writes them, then whatever else it sets away from its protocol's preset
    ('LeNet-5, λ=1e-3, seed 2, 20 epochs'); 'the original's protocol' and 'imported' where they apply. A run
    given a name (``cfg.name``) is called by it."""
    if cfg.name:
        return cfg.name
    parts = [run_label(cfg.model, cfg.weight_decay, 0.0 if cfg.weight_decay else cfg.noise_std)]
    if cfg.weight_decay and cfg.noise_std:
        parts.append(f"noise {cfg.noise_std:g}")
    preset = RunConfig.preset(cfg.protocol)
    if cfg.noise_std and cfg.noise_mode != preset.noise_mode:
        parts.append("drawn once" if cfg.noise_mode == "fixed" else "drawn each batch")
    parts += [text.format(OPTIMIZERS.get(value, value)) for field, text in _SETTINGS
              if (value := getattr(cfg, field)) != getattr(preset, field) and value is not None]
    if (cfg.train_subset or cfg.test_subset) and cfg.subset_mode != preset.subset_mode:
        parts.append(f"{cfg.subset_mode} subsets")
    if cfg.protocol == "original":
        parts.append("the original's protocol")
    if cfg.origin != "trained":
        parts.append("imported")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- columns

# Column names as a reader reads them: words and units, not identifiers.
COLUMNS = {"mean_train_loss": "mean training loss", "mean_test_loss": "mean test loss",
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
          "new_seed_low": "one more random seed, 95% prediction interval: from (%)",
          "new_seed_high": "one more random seed, 95% prediction interval: to (%)",
          "seeds_at_target": "random seeds at the target",
          "change": "over the step before (points)", "p_against_step_before": "p against the step before",
          "seconds_per_run": "training time per run (s)", "optimizer": "optimizer", "label_smoothing": "label smoothing",
          "one_cycle_warmup": "share of the steps warming up", "elastic": "elastic distortions, α (pixels)",
          "elastic_sigma": "their σ (pixels)", "validation": "held-out training images", "model": "model",
          "train_loss": "training loss", "train_acc": "training accuracy (%)",
          "original": "the original's", "ours_min": "ours, min", "ours_mean": "ours, mean", "ours_max": "ours, max",
          "statistic": "statistic", "source": "source", "run": "run", "peak_test_acc": "peak test accuracy (%)",
          "collapse_epoch": "collapse epoch", "runs": "runs"}


def column_text(name: str) -> str:
    """A column's header for readers: 'mean test accuracy (%)' for mean_test_acc, 'the original's …' for original_*,
    '± …' for a *_std column."""
    if name.startswith("original_"):
        return "the original's " + column_text(name[len("original_"):])
    if name.endswith("_std"):
        return "± " + column_text(name[:-len("_std")])
    return COLUMNS.get(name, name.replace("_", " "))


def health_text(health) -> str:
    """How a run's training went, in words (:class:`mnistlib.stats.Health`): 'learned, ended above chance', or the
    health's own sentence ('collapsed: test accuracy fell to chance at epoch 45')."""
    state = getattr(getattr(health, "state", None), "value", None)
    return {"ok": "learned, ended above chance", "no epochs yet": "not trained yet"}.get(state, str(health))


def words_table(table):
    """A DataFrame for a terminal: headers in words (:func:`column_text`), a run's health in words."""
    table = table.copy()
    if "health" in table:
        table["health"] = [health_text(h) for h in table.health]
    return table.rename(columns=lambda c: "training" if c == "health" else column_text(c) if isinstance(c, str) else c)


# LeNet-5's layers by the paper's names, and the kinds of layer, in words (mnistlib.models.nets.parameter_table).
LAYER_NAMES = {"c1": "C1", "s2.0": "S2", "c3": "C3", "s4.0": "S4", "c5": "C5", "f6.0": "F6", "f7": "F7 (output)"}
LAYER_KINDS = {"Conv2d": "convolution", "SparseConv2d": "sparse convolution (C3's table)", "Linear": "fully connected",
               "Subsampling": "subsampling (a coefficient and a bias a map)"}


def layer_text(name: str) -> str:
    """A layer as a reader names it: LeNet-5's by the paper ('F6' for f6.0), an MLP's by its place ('layer 2' for
    layers.2, its second weight layer)."""
    if name in LAYER_NAMES:
        return LAYER_NAMES[name]
    if name.startswith("layers.") and name[len("layers."):].isdigit():
        return f"layer {int(name[len('layers.'):]) // 2 + 1}"
    return name


def settings_text(changes: dict) -> str:
    """What a step of a recipe sets, in words: 'optimizer Adam, learning rate 0.003, batch size 32', a model by
    what it changes in LeNet-5 ('the model: ReLU after pooling, F6 SiLU')."""
    def value(field: str, v) -> str:
        if field == "model":
            return "the model: " + MODELS[v].description.removeprefix("LeNet-5, ") if v in MODELS else f"the model {v}"
        return f"{column_text(field)} {OPTIMIZERS.get(v, v)}"

    return ", ".join(value(field, v) for field, v in changes.items()) or "—"


LOSS_TEXT = {"cross_entropy": "cross-entropy on logits", "softmax_then_cross_entropy": "softmax, then cross-entropy (the original's)"}


def optimizer_text(cfg: RunConfig, decay: bool = True) -> str:
    """The optimizer and loss in words, e.g. 'SGD, lr 0.01, momentum 0.9; cross-entropy on logits'; ``decay``:
    with the weight decay, where there is one."""
    decoupled = "decoupled " if cfg.optimizer == "adamw" else ""
    decay = f", {decoupled}weight decay {cfg.weight_decay:g}" if cfg.weight_decay and decay else ""
    name = OPTIMIZERS[cfg.optimizer]
    if cfg.schedule == "one-cycle":
        high, low = ONE_CYCLE_MOMENTUM
        moment = "momentum" if cfg.optimizer == "sgd" else "β1"
        steps = (f"{name}, one-cycle to lr {cfg.lr:g} ({cfg.one_cycle_warmup:.0%} of the steps up, then cosine down), "
                 f"{moment} {high:g} → {low:g} → {high:g}")
    elif cfg.optimizer != "sgd":
        steps = f"{name}, lr {cfg.lr:g}, β1 {cfg.momentum:g}, β2 0.999"
    else:
        steps = f"SGD, lr {cfg.lr:g}, momentum {cfg.momentum:g}"
    smoothing = f", label smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else ""
    average = f"; evaluated on the moving average of its weights (decay {cfg.average:g})" if cfg.average else ""
    dropout = f"; dropout {cfg.dropout:g} before F6" if cfg.dropout else ""
    return f"{steps}{decay}; {LOSS_TEXT[cfg.loss]}{smoothing}{dropout}{average}"


# ----------------------------------------------------------------------------- the rule for "different"

# The verdicts of mnistlib.difference's rule, in words.
RULE_VERDICTS = {DIFFERENT: "different", WITHIN: "within the spread between random seeds",
                 UNDECIDED: "too few random seeds to decide"}


# The verdicts of a check of the original's conclusions (mnistlib.analysis.claims), in words.
CLAIM_VERDICTS = {"holds": "hold", "does not hold": "do not hold",
                  "within the spread": "within the spread between random seeds", "some seeds": "hold in some random seeds"}


def seeds_text(n: int) -> str:
    """'5 random seeds', '1 random seed'."""
    return f"{n} random seed{'s' if n != 1 else ''}"


def seeds_range(seeds) -> str:
    """'0–4 (5 random seeds)', '0 (1 random seed)', '0, 2 (2 random seeds)'."""
    consecutive = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
    listed = f"{seeds[0]}–{seeds[-1]}" if consecutive else ", ".join(map(str, seeds))
    return f"{listed} ({seeds_text(len(seeds))})"


def mean_std_text(values, digits: int = 2, unit: str = "") -> str:
    """A configuration's seeds as a reader reads them: '98.87 ± 0.07% (5 random seeds)'; one seed: '98.87% (1 random
    seed)'."""
    values = np.asarray(values, float)
    spread = f" ± {values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{spread}{unit} ({seeds_text(len(values))})"


def comparison_text(c, unit: str = " points", digits: int = 2) -> str:
    """A :class:`mnistlib.difference.Comparison` in words: '+1.14 points (95% interval +1.03 to +1.25, p = 0.008):
    different'."""
    interval = (f"95% interval {c.low:+.{digits}f} to {c.high:+.{digits}f}, " if c.low == c.low else "")
    return f"{c.diff:+.{digits}f}{unit} ({interval}p = {c.p:.3f}): {RULE_VERDICTS[c.verdict]}"


def leader_text(leader, digits: int = 2, unit: str = "%", highest: bool = True, bold: bool = True) -> str:
    """A :class:`mnistlib.difference.Leader` in words: '**CustomMLP_5** (97.93%), ahead of every other by the rule',
    or the configurations the rule cannot tell apart at the top (the bottom, ``highest=False``); the means are
    over each configuration's seeds."""
    def value(label: str) -> str:
        std = (leader.stds or {}).get(label, math.nan)
        return f"{leader.means[label]:.{digits}f}" + (f" ± {std:.{digits}f}" if std == std else "") + unit

    counts = set((leader.seeds or {}).values())
    each = f"; {seeds_text(counts.pop())} each" if len(counts) == 1 else ""
    if leader.decided:
        name = f"**{leader.top}**" if bold else leader.top
        return f"{name} ({value(leader.top)}{each}), {'ahead of' if highest else 'below'} every other by the rule"
    names = [f"{label} ({value(label)})" for label in leader.tied]
    why = ("too few random seeds to tell them apart" if leader.undecided
           else "within the spread between random seeds of one another")
    return f"no single {'best' if highest else 'worst'}: {', '.join(names[:-1])} and {names[-1]}, {why}{each}"


def chance_text(comparisons: int) -> str:
    """What a page that makes ``comparisons`` comparisons says of chance: '6 comparisons, each at the 0.05 level: by
    chance alone about 0.3 of them would come out different.'"""
    return (f"{comparisons} comparison{'s' if comparisons != 1 else ''}, each at the {ALPHA:g} level: by chance alone "
            f"about {chance_verdicts(comparisons):.1f} of them would come out different were no configuration "
            f"different.")


def page_comparisons_text(counts: dict[str, int]) -> str:
    """What a page says of all the comparisons it makes by the rule ({what: how many}): 'This page makes 27
    comparisons by the rule (mean test accuracy: 6; calibration: 3; ...), each at the 0.05 level: by chance alone
    about 1.4 of them would come out different were no configuration different.'"""
    total = sum(counts.values())
    parts = "; ".join(f"{what}: {n}" for what, n in counts.items() if n)
    return (f"This page makes {total} comparison{'s' if total != 1 else ''} by the rule ({parts}), each at the "
            f"{ALPHA:g} level: by chance alone about {chance_verdicts(total):.1f} of them would come out different "
            f"were no configuration different.")


# ----------------------------------------------------------------------------- ids of the analyses

# Notebook 6's groups of runs (mnistlib.report.grids.beyond_grid).
GROUPS = {"variance": "variance across seeds", "lambda_sweep": "λ sweep", "long": "longer training",
          "activations": "activations", "pooling": "the paper's subsampling", "original_settings": "the original's settings"}
# Where a run of notebook 7's collapse table comes from (mnistlib.analysis.reproduction.collapse_table).
SOURCES = {"published": "the original's published run", "original_protocol": "the original's protocol (ours)",
           "our_protocol": "our protocol"}
# The questions and findings of the answers at a glance (mnistlib.analysis.beyond.answers, speed.answers): each
# template filled with the row's subject, its parts in words ({0}, {1}: the first and second). A question without a
# template of its own is its group's name; a finding without one, its column's words (COLUMNS).
QUESTIONS = {**GROUPS, "lambda_sweep": "λ sweep, {0}", "long": "{1} epochs, {0}",
             "fast": "how fast", "one-epoch": "how fast, in one epoch", "far": "how far", "sgd": "the SGD recipe"}
FINDINGS = {  # (question, finding), or a finding alone for every question that has it
    ("variance", "mean_test_acc"): "{0} mean test accuracy (%)", ("variance", "std"): "{0} standard deviation (points)",
    ("variance", "difference"): "{0} − {1} (points)", ("variance", "p"): "{0} vs {1}: p",
    ("variance", "verdict"): "{0} vs {1}", "ranking": "ranking",
    ("pooling", "difference"): "{0} − {1} (points)", ("pooling", "p"): "{0} vs {1}: p", ("pooling", "verdict"): "{0} vs {1}",
    ("activations", "mean_test_acc"): "{0}: mean test accuracy (%)",
    "first_collapse": "smallest λ that collapses", "lowest_train_loss": "lowest training loss", "strongest": "λ = 1e-2",
    "recipe": "recipe", "final_test_acc": "final test accuracy, mean over seeds (%)",
    "final_test_acc_std": "standard deviation (points)", "template_final_test_acc": "course template, mean over seeds (%)",
    "target": "target {0:g}% ({1})",
}
# Verdicts kept as ids in the analyses' tables, in words.
VERDICTS = {True: "yes", False: "no", "met": "met", "not met": "not met", "trains": "trains", "collapses": "collapses",
            "none": "none", "every seed": "every seed", "mean over seeds": "mean over seeds",
            **{verdict: text for verdict, text in RULE_VERDICTS.items()}, "one_seed": "one seed each: no ranking"}


def _subject_text(part) -> str:
    return display_name(part) if isinstance(part, str) else f"{part:g}" if isinstance(part, float) else str(part)


def question_text(question: str, subject: tuple = ()) -> str:
    """A finding's question in words: 'λ sweep, LeNet-5' for ('lambda_sweep', ('LeNet5',))."""
    return QUESTIONS[question].format(*map(_subject_text, subject))


def finding_text(question: str, finding: str, subject: tuple = ()) -> str:
    """A finding in words: 'LeNet-5 − CustomMLP_6 (points)' for ('variance', 'difference', ('LeNet5', 'CustomMLP_6'))."""
    template = FINDINGS.get((question, finding)) or FINDINGS.get(finding)
    if template is None:  # a long run's findings are its turning point's columns: their words say it
        return column_text(finding) if finding in COLUMNS else _unknown(question, finding)
    return template.format(*(part if isinstance(part, float) else _subject_text(part) for part in subject))


def _unknown(question: str, finding: str) -> str:
    raise KeyError(f"no words for finding {finding!r} of question {question!r}: add them to mnistlib.words.FINDINGS")
