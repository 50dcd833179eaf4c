"""The values one outcome may hold, checked in two places with this one function:
``RuntimeClient.record_outcome`` (in the caller, before queueing) and
``Store.record_outcomes`` (the store's own last line of defence, before any row is
written). A wrong type is a TypeError and a value out of range a ValueError.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

MAX_VERSION = 2**31 - 1  # agent_outcomes.version_number is an INTEGER (PostgreSQL: 32 bits)


def real(value: Any, message: str) -> float:
    """``value`` as a float; TypeError unless it is a real number (bools are not)."""
    kind = type(value)  # float and int first: the common case skips the ABC check
    if (kind is not float and kind is not int) and (
        isinstance(value, bool) or not isinstance(value, numbers.Real)
    ):
        raise TypeError(f"{message}, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond a float
        raise ValueError(f"{message}, got {value!r}") from None


def checked_outcome(
    source: Any, what: str, ok: Any, latency_ms: Any, score: Any
) -> tuple[bool, float | None, float | None]:
    """``ok``, ``latency_ms`` and ``score`` as stored, after checking them and the
    identity fields of ``source`` (a ResolvedConfig or an Outcome, named ``what`` in
    the messages): variant, agent, environment, config_hash and version."""
    # A value the store would refuse (NUL, a 64-bit version) fails the whole batch it is
    # in, and so costs every outcome written with it.
    if source.variant not in ("stable", "canary"):
        raise ValueError(f"{what}.variant must be 'stable' or 'canary', got {source.variant!r}")
    for name in ("agent", "environment", "config_hash"):
        text = getattr(source, name)
        if type(text) is not str or not text or not text.isprintable():  # NUL, surrogates
            raise ValueError(f"{what}.{name} must be non-empty printable text, got {text!r}")
    if type(source.version) is not int or not 1 <= source.version <= MAX_VERSION:
        raise ValueError(f"{what}.version must be a version number, got {source.version!r}")
    if type(ok) is not bool:  # 1, "yes" or None would be counted, but as what?
        raise TypeError(f"ok must be True or False, got {ok!r}")
    latency = None
    if latency_ms is not None:
        message = "latency_ms must be a number of milliseconds, finite and >= 0"
        latency = real(latency_ms, message)
        if not 0.0 <= latency < math.inf:  # also refuses NaN
            raise ValueError(f"{message}, got {latency_ms!r}")
    quality = None
    if score is not None:
        message = "score must be a number in [0, 1]"
        quality = real(score, message)
        if not 0.0 <= quality <= 1.0:  # also refuses NaN
            raise ValueError(f"{message}, got {score!r}")
    return ok, latency, quality
