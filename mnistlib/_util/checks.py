"""Validation of values people type: numbers and choices, each fault one ConfigError line.

    >>> number("epochs", "5", integer=True, minimum=1)
    5
    >>> choice("schedule", "linear", ("constant", "cosine"))
    Traceback (most recent call last):
    mnistlib.errors.ConfigError: schedule must be one of constant, cosine; got 'linear'

Numbers given as text are accepted when they parse: papermill passes strings, and YAML 1.1
reads ``1e-3`` (no dot) as one.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from ..errors import ConfigError


def number(name: str, value: Any, *, integer: bool = False, minimum: float | None = None,
           strict_min: bool = False, maximum: float | None = None, optional: bool = False):
    """``value`` as an int (``integer``) or float within the bounds, or None when ``optional``."""
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


def choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value
