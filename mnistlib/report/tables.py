"""Tables for reading: headers in words with units, numbers to the digits that matter, verdicts as words.

    >>> display(format_table(summarize(runs)))
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from ..stats import STAT_COLUMNS
from ..words import (LAYER_KINDS, RULE_VERDICTS, SOURCES, VERDICTS, column_text, finding_text, lambda_value, layer_text,
                     p_text, question_text)


def readable(value: Any) -> Any:
    """A cell as a reader reads it: 'yes' or 'no' for a truth value, '–' for a missing one."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return "–" if value is None else value


# Index levels whose values are ids, and their words: an analysis keys its rows by ids, the page shows words.
INDEX_WORDS = {"statistic": column_text, "source": lambda source: SOURCES.get(source, source)}


def format_table(table: pd.DataFrame, formats: dict[str, str] | None = None):
    """A DataFrame styled for reading: headers (columns and index) in words with units, ids in the index
    (:data:`INDEX_WORDS`: statistics, sources) in words, truth values as yes or no, losses to 4
    places, accuracies and differences in points to 2, missing values as '–', nothing cut short.
    ``formats``: header (in words) -> format string, over those defaults."""
    table = table.copy()
    for level, words in INDEX_WORDS.items():
        if level in table.index.names:
            table = table.rename(index=words, level=level if table.index.nlevels > 1 else None)
    for column in table.columns:
        if table[column].dtype == bool or table[column].dtype == object:
            table[column] = table[column].map(readable)
    table = table.rename(columns=lambda c: column_text(c) if isinstance(c, str) else c)
    table.index = table.index.set_names([column_text(n) if isinstance(n, str) else n for n in table.index.names])
    chosen = {}
    for column in table.columns:
        if isinstance(column, str) and pd.api.types.is_float_dtype(table[column]):
            chosen[column] = ("{:.4f}" if "loss" in column else "{:.2f}" if ("%" in column or "points" in column)
                              else "{:g}")
    # One call: Styler.format with a mapping resets every column it does not name to the default.
    return table.style.format({**chosen, **(formats or {})}, na_rep="–")


def format_spread(spread: pd.DataFrame) -> pd.DataFrame:
    """An :func:`mnistlib.analysis.beyond.across_seeds` table as text, 'mean ± std' per statistic (losses to 4
    places, accuracies to 2)."""
    out = pd.DataFrame(index=spread.index)
    out[column_text("seeds")] = spread.seeds
    for column in STAT_COLUMNS:
        digits = 4 if "loss" in column else 2
        out[column_text(column)] = [f"{m:.{digits}f} ± {s:.{digits}f}"
                                    for m, s in zip(spread[column], spread[f"{column}_std"])]
    return out


def format_layers(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.models.nets.parameter_table` for reading: layers by the paper's names or their place
    (:func:`mnistlib.words.layer_text`), kinds of layer in words, the index the layer."""
    shown = table.assign(layer=[layer_text(name) for name in table.layer],
                         type=[LAYER_KINDS.get(kind, kind) for kind in table.type])
    return shown.rename(columns={"type": "kind of layer", "shape": "its tensors"}).set_index("layer")


def folded(table, summary: str):
    """``table`` (a DataFrame or a Styler) folded under a line that opens it (HTML ``details``): a long table that
    would push the page's point out of sight."""
    from IPython.display import HTML

    inner = table.to_html() if hasattr(table, "to_html") else str(table)
    return HTML(f"<details><summary>{html.escape(summary)}</summary>\n{inner}\n</details>")


def mean_std(mean: float, std: float, digits: int) -> str:
    """'98.87 ± 0.07', or the mean alone where there is no std (one seed)."""
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std == std else "")


# The columns of a results table beside the original's: ours over seeds, then the original's, at most 8 in all.
BESIDE = ("mean_test_acc", "original_mean_test_acc", "diff_test_acc", "mean_test_loss", "original_mean_test_loss",
          "mean_train_acc", "mean_train_loss")


def format_beside_original(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.analysis.claims.beside_original` table for reading: the random seeds, then our statistics as
    'mean ± std' over them beside the original's values (accuracies to 2 places, losses to 4), the difference of
    mean test accuracies; the CSV the page saves holds every column."""
    out = pd.DataFrame(index=table.index)
    out[column_text("seeds")] = table.seeds.astype(int)
    for column in BESIDE:
        digits = 4 if "loss" in column else 2
        if column.startswith("original_"):
            out[column_text(column)] = [f"{v:.{digits}f}" if v == v else "–" for v in table[column]]
        elif column == "diff_test_acc":
            out[column_text(column)] = [f"{v:+.2f}" if v == v else "–" for v in table[column]]
        else:
            out[column_text(column)] = [mean_std(m, s, digits) for m, s in zip(table[column], table[f"{column}_std"])]
    return out


def format_comparisons(table: pd.DataFrame, unit: str = "points", digits: int = 2) -> pd.DataFrame:
    """A table of the rule's comparisons (:func:`mnistlib.difference.comparison_table`) for reading: the seeds on each
    side, the difference with its 95% interval, p and the verdict in words."""
    out = pd.DataFrame(index=table.index)
    out["random seeds"] = [f"{int(a)} against {int(b)}" for a, b in zip(table.seeds, table.against_seeds)]
    out[f"difference ({unit})"] = [f"{d:+.{digits}f}" for d in table["diff"]]
    out["95% interval"] = [f"{lo:+.{digits}f} to {hi:+.{digits}f}" if lo == lo else "–"
                           for lo, hi in zip(table.low, table.high)]
    out["p"] = [f"{p:.3f}" for p in table.p]
    out["by the rule"] = [RULE_VERDICTS[v] for v in table.verdict]
    return out


HONESTY_VERDICTS = {"undecided": "too few random seeds to decide", "no different": "within the spread between random seeds"}


def format_honesty(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.analysis.robustness.honesty` table for reading (7 columns): the random seeds, the calibration
    error as 'mean ± std' over them, mean confidence when right and when wrong, the change from the reference with
    its 95% interval and p, and the verdict in words."""
    out = pd.DataFrame(index=table.index)
    out[column_text("seeds")] = table.seeds.astype(int)
    out[column_text("ece")] = [mean_std(m, sd, 2) for m, sd in zip(table.ece, table.ece_std)]
    out[column_text("confidence_right")] = [f"{v:.1f}" for v in table.confidence_right]
    out[column_text("confidence_wrong")] = [f"{v:.1f}" for v in table.confidence_wrong]
    out["change from the reference (points)"] = [
        "–" if verdict == "–" else f"{d:+.2f}" + (f" ({lo:+.2f} to {hi:+.2f})" if lo == lo else "")
        for d, lo, hi, verdict in zip(table.ece_change, table.ece_change_low, table.ece_change_high, table.verdict)]
    out["p"] = [f"{p:.3f}" if p == p else "–" for p in table.p]
    out[column_text("verdict")] = [HONESTY_VERDICTS.get(v, v) for v in table.verdict]
    return out


def format_steps(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.analysis.speed.step_table` for reading (7 columns): seeds, epochs, the final test accuracy as
    'mean ± std' and its lowest to highest seed, the seeds at the target, the change over the step before with its
    95% interval, and p with the rule's verdict; the CSV the page saves holds every column."""
    out = pd.DataFrame(index=table.index)
    out[column_text("seeds")] = table.seeds.astype(int)
    out[column_text("epochs")] = table.epochs.astype(int)
    out["final test accuracy (%)"] = [mean_std(m, sd, 2) for m, sd in zip(table.final_test_acc, table.final_test_acc_std)]
    out["lowest to highest seed (%)"] = [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(table.lowest_seed, table.highest_seed)]
    out[column_text("seeds_at_target")] = table.seeds_at_target.astype(int)
    out["over the step before (points)"] = [
        "–" if d != d else f"{d:+.2f}" + (f" ({lo:+.2f} to {hi:+.2f})" if lo == lo else "")
        for d, lo, hi in zip(table.change, table.change_low, table.change_high)]
    out["by the rule"] = ["–" if v is None or v != v else f"{p_text(p)}: {RULE_VERDICTS[v]}"
                          for p, v in zip(table.p_against_step_before, table.verdict)]
    return out


# The figures of a bias–variance table (mnistlib.analysis.bias_variance.table) a page shows, and their words.
BIAS_VARIANCE = {"error": "mean error over the seeds (%)", "bias": "bias (%)", "net_variance": "net variance (%)",
                 "variance": "variance (%)", "main_accuracy": "the seeds' vote, accuracy (%)"}


def format_bias_variance(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.analysis.bias_variance.table` for reading: the random seeds, then each figure in percent of
    the test images with its interval over the seeds, 'x (low to high)'."""
    out = pd.DataFrame(index=table.index)
    out[column_text("seeds")] = table.seeds.astype(int)
    for figure, words in BIAS_VARIANCE.items():
        out[words] = [f"{100 * v:.2f} ({100 * lo:.2f} to {100 * hi:.2f})" for v, lo, hi in
                      zip(table[figure], table[f"{figure}_low"], table[f"{figure}_high"])]
    return out


def findings_in_words(findings: pd.DataFrame) -> pd.DataFrame:
    """A table of findings keyed by ids (question, subject, finding, value: :func:`mnistlib.analysis.beyond.answers`,
    :func:`mnistlib.analysis.speed.answers`) with the words a reader sees beside them: question and finding
    in words, the value as found (verdicts in words), then the ids (``question_id``, ``subject``, ``finding_id``)."""
    subjects = [tuple(subject) for subject in findings.subject]
    return pd.DataFrame({
        "question": [question_text(q, s) for q, s in zip(findings.question, subjects)],
        "finding": [finding_text(q, f, s) for q, f, s in zip(findings.question, findings.finding, subjects)],
        "value": [VERDICTS.get(v, v) if isinstance(v, (bool, np.bool_, str)) else v for v in findings.value],
        "question_id": findings.question.to_numpy(), "subject": subjects, "finding_id": findings.finding.to_numpy()})


# The digits of a finding's value, by its id: p-values to 3 places, λ as written, losses to 4; else 2 (whole numbers
# as they are).
FINDING_FORMATS = {"p": "{:.3f}", "first_collapse": lambda_value, "lowest_train_loss": "{:.4f}",
                   "test_loss_rise_pct": "{:.4f}"}


def format_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """A table of findings keyed by ids (see :func:`findings_in_words`) for reading: question and finding in
    words, each value to the digits of its finding (:data:`FINDING_FORMATS`), verdicts in words, '–' for none."""
    def text(finding: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "–"
        fmt = FINDING_FORMATS.get(finding, "{:.2f}")
        if isinstance(value, float) and value.is_integer() and not callable(fmt):
            return f"{int(value)}"
        if isinstance(value, float):
            return fmt(value) if callable(fmt) else fmt.format(value)
        return str(value)

    shown = findings_in_words(findings)
    shown = shown.assign(value=[text(f, v) for f, v in zip(shown.finding_id, shown.value)])
    return shown.set_index(["question", "finding"])[["value"]]


# A claim's verdict as a table cell (mnistlib.analysis.claims).
CLAIM_CELLS = {"holds": "holds", "does not hold": "does not hold",
               "within the spread": "within the spread between random seeds", "some seeds": "holds in some random seeds"}


def _evidence_text(evidence: dict) -> str:
    def value(what: str, number: Any) -> str:
        if not isinstance(number, (int, float)):
            return str(number)
        return f"{number:.4f}" if "loss" in what else f"{number:.2f}"

    return "; ".join(f"{what}: {value(what, v)}" for what, v in evidence.items())


def format_claims(claims: pd.DataFrame, **others: pd.DataFrame) -> pd.DataFrame:
    """:func:`mnistlib.analysis.claims.check_original_claims` verdicts for reading: per conclusion, the original's own
    words and the verdict in words on ``claims`` (our runs), and on each of ``others`` (header -> another checks
    table, such as the original's protocol: '–' where it could not check a conclusion)."""
    shown = claims.set_index("claim")
    out = pd.DataFrame({"the original says": shown["the original says"], "in its words": shown["its words"],
                        "by the rule, our protocol": [CLAIM_CELLS[v] for v in shown.verdict]}, index=shown.index)
    for header, table in others.items():
        verdicts = table.set_index("claim").verdict
        out[header] = [CLAIM_CELLS[verdicts[c]] if c in verdicts.index else "not tested: no such runs" for c in out.index]
    return out.set_index("the original says")


def format_evidence(claims: pd.DataFrame) -> pd.DataFrame:
    """What each verdict of a :func:`mnistlib.analysis.claims.check_original_claims` table rests on: per conclusion,
    its evidence as one cell of 'what: value' pairs (losses to 4 places, other numbers to 2)."""
    return pd.DataFrame({"the original says": claims["the original says"],
                         "on the runs": [_evidence_text(e) for e in claims.evidence]}).set_index("the original says")
