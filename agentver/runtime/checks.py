"""Argument checks of the runtime library's public API, raised in the caller.

A wrong type is a TypeError and a value out of range a ValueError. Each check guards
against a failure that would otherwise show up later and elsewhere: a zero interval is a
busy loop, a zero batch size a flush that never ends, an empty environment name a client
serving every environment's pointers at once.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

# ``real`` lives with the outcome checks the store shares (re-exported here).
from agentver.store.outcome_checks import real

__all__ = ["count", "real", "seconds", "text"]


def seconds(name: str, value: Any) -> float:
    """A duration: a finite number of seconds > 0."""
    message = f"{name} must be a finite number of seconds > 0"
    number = real(value, message)
    if not 0.0 < number < math.inf:  # also refuses NaN
        raise ValueError(f"{message}, got {value!r}")
    return number


def count(name: str, value: Any) -> int:
    """A size: an int >= 1."""
    message = f"{name} must be an integer >= 1"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{message}, got {value!r}")
    if value < 1:
        raise ValueError(f"{message}, got {value!r}")
    return int(value)


def text(name: str, value: Any) -> str:
    """A name: non-empty text."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, got {value!r}")
    if not value:
        raise ValueError(f"{name} must be non-empty text, got {value!r}")
    return value
