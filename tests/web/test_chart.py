"""The deployment chart's time axis: proportional, but no change squeezed out of sight."""

from __future__ import annotations

import itertools

from agentver.web.chart import MIN_STEP, positions

HOUR = 3600.0
YEAR = 365 * 24 * HOUR


def test_a_one_hour_canary_in_a_year_of_history_stays_visible() -> None:
    # deploy, a year later canary start, an hour later promote
    places = positions([0.0, YEAR, YEAR + HOUR])
    assert places[0] == 0.0 and abs(places[-1] - 0.9) < 1e-9
    canary_width = places[2] - places[1]
    assert canary_width >= 0.9 * MIN_STEP / (1 + MIN_STEP)  # visible, not 1/8760 of the width
    assert places[1] - places[0] > 10 * canary_width  # the long stretch stays longest


def test_even_spacing_stays_proportional_and_ordered() -> None:
    places = positions([0.0, 10 * HOUR, 20 * HOUR, 40 * HOUR])
    assert places == sorted(places)
    gaps = [b - a for a, b in itertools.pairwise(places)]
    assert abs(gaps[2] - 2 * gaps[0]) < 1e-9 and abs(gaps[0] - gaps[1]) < 1e-9
    assert positions([5.0]) == [0.0]
