"""The mathematics of the canary verdict: e-processes on counts, standard library only.

Everything here is a pure function of counts (and sums of scores), computed in log space
with ``math.lgamma`` so that counts up to 10^9 and beyond neither overflow nor lose the
decision. docs/canary.md derives each formula; the short version:

Errors (and "slow" requests): the conditional binomial
    Each arm's errors form a counting process. Whatever the (unknown, even drifting)
    base rate, conditional on an error having happened it came from the canary with
    probability ``p = r*n_c / (r*n_c + n_s)`` where ``r`` is the ratio of the canary's
    rate to stable's and ``n_c``, ``n_s`` are the arms' exposures (Lindon, Sanden and
    Shirikian, KDD 2022; Lindon and Malek, NeurIPS 2022). So with ``T`` errors in all,
    ``x`` of them canary's, "canary rate <= r x stable" is the binomial null
    ``p <= p0(r)``, with the stable rate a nuisance that the conditioning removes.

    The e-value is the likelihood ratio mixed over a Beta(a, b) prior on ``p``:

        e = B(a + x, b + T - x) / B(a, b) / (p0^x (1 - p0)^(T - x))

    a nonnegative martingale under ``p = p0`` (Ville: P(ever >= 1/alpha) <= alpha,
    however often it is looked at); so is a weighted sum of such terms with weights
    summing to 1 (``log_mixture_lr``, the rollback test's three priors); one-sided (reported as 1 unless the observed
    share ``x/T`` is on the alternative's side of ``p0``); by a coupling of the error
    labels the whole composite null ``p <= p0`` then has the same guarantee.

Bounded scores (quality in [0, 1]): betting confidence sequences
    For X in [0, 1] with mean m, E exp(lambda X) <= 1 - m + m e^lambda (Hoeffding's
    convexity bound), so the Bernoulli likelihood ratio of a bet on mean ``q`` against
    ``m`` is a nonnegative supermartingale for any [0, 1] scores with mean <= m (or >= m
    for a bet below m), and it depends on the scores only through their sum. A mixture
    of such constant bets is an e-process (Waudby-Smith and Ramdas, "Estimating means of
    bounded random variables by betting", JRSS-B 2024); inverting it gives a confidence
    sequence for each arm's mean, valid at every look.
"""

from __future__ import annotations

import math

# The largest e-value reported as a float (e-values are kept as logs internally).
E_CAP_LOG = 690.0


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def share_null(ratio: float, n_canary: int, n_stable: int) -> float:
    """p0(r): the canary's share of errors when its rate is ``ratio`` x stable's."""
    weighted = ratio * n_canary
    return weighted / (weighted + n_stable)


def beta_prior(mean: float, pseudo_errors: float) -> tuple[float, float]:
    """Beta(a, b) with the given mean and ``a = pseudo_errors`` prior canary errors.

    Fixing ``a`` rather than ``a + b`` makes the prior the same for every canary share
    when errors are rare: p/mean is then about Gamma(a, a), whose coefficient of
    variation is 1/sqrt(a) whatever the share (docs/canary.md, "The mixture").
    """
    return pseudo_errors, pseudo_errors * (1.0 - mean) / mean


Prior = tuple[float, float]  # Beta(a, b)
Mixture = tuple[tuple[float, Prior], ...]  # (weight, prior) pairs, weights summing to 1


def log_beta_lr(x: float, total: float, p0: float, prior: Prior) -> float:
    """log of the Beta(a, b) mixture likelihood ratio against ``p = p0``, uncut: under
    ``p0`` its expectation over ``x ~ Binomial(total, p0)`` is exactly 1."""
    a, b = prior
    return (
        log_beta(a + x, b + (total - x))  # parenthesised: b may be far below 1 ulp of total
        - log_beta(a, b)
        - x * math.log(p0)
        - (total - x) * math.log1p(-p0)
    )


def log_mixture_lr(x: float, total: float, p0: float, mixture: Mixture) -> float:
    """log of a discrete mixture of Beta mixtures: sum_i w_i e_i. A convex combination
    of e-values (of nonnegative martingales under ``p0``) is one."""
    return _logsumexp([math.log(w) + log_beta_lr(x, total, p0, prior) for w, prior in mixture])


def log_mixture_e(x: int, total: int, p0: float, mixture: Mixture, upper: bool) -> float:
    """log e of ``mixture`` against ``p = p0`` for ``x`` canary errors of ``total``.

    One-sided: ``upper`` asks "is the canary's share above p0?" (rollback), else "below?"
    (promote). When the observed share is not on that side, 0 (e = 1, no evidence).
    Every prior's mean must lie on the alternative's side of ``p0``: then each term, and
    so the sum, rises with ``x`` on that side (the rejection region is an upper set).
    """
    if total <= 0 or not 0.0 < p0 < 1.0:
        return 0.0
    if (upper and x <= p0 * total) or (not upper and x >= p0 * total):
        return 0.0
    log_e = log_mixture_lr(x, total, p0, mixture)
    return max(log_e, 0.0) if math.isfinite(log_e) else 0.0


def log_binomial_mixture_e(x: int, total: int, p0: float, prior: Prior, upper: bool) -> float:
    """``log_mixture_e`` with the single prior Beta(a, b)."""
    return log_mixture_e(x, total, p0, ((1.0, prior),), upper)


def log_one_sample_e(x: int, n: int, floor: float, prior: tuple[float, float]) -> float:
    """log e for "the canary's own rate is below ``floor``" from ``x`` errors in ``n``."""
    return log_binomial_mixture_e(x, n, floor, prior, upper=False)


def e_value(log_e: float) -> float:
    return math.exp(min(log_e, E_CAP_LOG))


def p_value(log_e: float) -> float:
    """The always-valid p-value 1/e (capped at 1)."""
    return math.exp(-log_e) if log_e > 0 else 1.0


# -- bounded means: betting confidence sequences ------------------------------------------

# The bets of the mixture: a bettor wagers that the mean is q = m + (1 - m) * u (above m)
# or q = m * (1 - u) (below), u = 1/2, 1/4, ..., 1/256, equal weights. Bold bets win fast
# on gross regressions, small ones accumulate on subtle ones; eight of them cost log 8
# nats of evidence against the best single bet in hindsight.
BET_FRACTIONS = tuple(2.0**-k for k in range(1, 9))
_LOG_WEIGHT = -math.log(len(BET_FRACTIONS))


def log_mean_e(total: float, n: int, m: float, upper: bool) -> float:
    """log e against "the mean is <= m" (``upper``) or ">= m", from a sum of [0, 1] scores."""
    if n <= 0 or not 0.0 < m < 1.0:
        return 0.0
    below = n - total  # the "failures" of the Bernoulli form: sum of (1 - X)
    terms = []
    for u in BET_FRACTIONS:
        if upper:
            terms.append(total * math.log1p((1.0 - m) * u / m) + below * math.log1p(-u))
        else:
            terms.append(total * math.log1p(-u) + below * math.log1p(m * u / (1.0 - m)))
    return max(_LOG_WEIGHT + _logsumexp(terms), 0.0)


def mean_bound(total: float, n: int, alpha: float, upper: bool) -> float:
    """The confidence-sequence bound for a mean of [0, 1] scores at level ``alpha``.

    ``upper=False``: the lower bound, the smallest m that "mean <= m" is not rejected
    at; ``upper=True``: the upper bound. Valid at every n simultaneously (one side).
    """
    if n <= 0:
        return 1.0 if upper else 0.0
    threshold = math.log(1.0 / alpha)
    mean = min(max(total / n, 0.0), 1.0)
    # log e against "<= m" falls as m rises (and the mirror): bisect in [0, mean].
    low, high = (mean, 1.0) if upper else (0.0, mean)
    for _ in range(60):
        mid = (low + high) / 2
        rejected = log_mean_e(total, n, mid, upper=not upper) >= threshold
        if upper:  # rejected: the mean is below mid, so is the bound
            low, high = (low, mid) if rejected else (mid, high)
        else:  # rejected: the mean is above mid, so is the bound
            low, high = (mid, high) if rejected else (low, mid)
    return high if upper else low
