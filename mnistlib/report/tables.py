"""Tables for reading: headers in words with units, numbers to the digits that matter, verdicts as words.

    >>> display(format_table(summarize(runs)))
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..stats import STAT_COLUMNS
from ..words import SOURCES, VERDICTS, column_text, finding_text, question_text


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
    out["seeds"] = spread.seeds
    for column in STAT_COLUMNS:
        digits = 4 if "loss" in column else 2
        out[column_text(column)] = [f"{m:.{digits}f} ± {s:.{digits}f}"
                                    for m, s in zip(spread[column], spread[f"{column}_std"])]
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
FINDING_FORMATS = {"p": "{:.3f}", "best_lambda": "{:g}", "first_collapse": "{:g}", "lowest_train_loss": "{:.4f}",
                   "test_loss_rise_pct": "{:.4f}"}


def format_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """A table of findings keyed by ids (see :func:`findings_in_words`) for reading: question and finding in
    words, each value to the digits of its finding (:data:`FINDING_FORMATS`), verdicts in words, '–' for none."""
    def text(finding: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "–"
        if isinstance(value, float) and value.is_integer() and FINDING_FORMATS.get(finding) != "{:g}":
            return f"{int(value)}"
        if isinstance(value, float):
            return FINDING_FORMATS.get(finding, "{:.2f}").format(value)
        return str(value)

    shown = findings_in_words(findings)
    shown = shown.assign(value=[text(f, v) for f, v in zip(shown.finding_id, shown.value)])
    return shown.set_index(["question", "finding"])[["value"]]


def format_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """A :func:`mnistlib.analysis.claims.check_original_claims` table for reading: its evidence as one cell of
    'what: value' pairs (losses to 4 places, other numbers to 2)."""
    def value(what: str, number: Any) -> str:
        if not isinstance(number, (int, float)):
            return str(number)
        return f"{number:.4f}" if "loss" in what else f"{number:.2f}"

    shown = claims.assign(evidence=["; ".join(f"{what}: {value(what, v)}" for what, v in evidence.items())
                                    for evidence in claims.evidence])
    return shown.rename(columns={"evidence": "on our runs"}).set_index("the original says")
