"""Geometry of the deployment chart: active version and canary share over time.

Computed on the server and drawn as inline SVG by the template, so the chart needs no
script, no external service and works with JavaScript disabled. Input is the pointer's
git history (``Workspace.pointer_events``), one chart per environment.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone

from agentver.deploy.pointers import PointerEvent

WIDTH = 720
HEIGHT = 180
PAD_LEFT = 44
PAD_RIGHT = 44
PAD_TOP = 12
PAD_BOTTOM = 28


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    active_path: str  # SVG path "M x y H x V y ..." (step line)
    canary_path: str  # closed area under the canary share
    points: tuple[Tick, ...]  # one dot per event, labelled for the <title>
    version_ticks: tuple[Tick, ...]
    percent_ticks: tuple[Tick, ...]
    time_ticks: tuple[Tick, ...]
    summary: str  # the chart in words (aria-label)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


MIN_STEP = 0.05  # of the width: a one-hour canary in a year of history stays visible


def positions(times: list[float]) -> list[float]:
    """Each event's place in [0, 1): proportional to time, except that every interval
    gets at least MIN_STEP of the width (then all are scaled to fit), and the current
    state keeps the last tenth."""
    total = max(times[-1] - times[0], 1.0)
    widths = [max((b - a) / total, MIN_STEP) for a, b in itertools.pairwise(times)]
    scale = 0.9 / sum(widths) if widths else 0.0
    out = [0.0]
    for width in widths:
        out.append(out[-1] + width * scale)
    return out


def deployment_chart(events: list[PointerEvent], max_version: int) -> Chart | None:
    """None when the pointer was never committed."""
    if not events:
        return None
    times = [_seconds(event.at) for event in events]
    places = positions(times)
    top_version = max(max_version, 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    base = PAD_TOP + plot_h

    def x_of(place: float) -> float:
        return round(PAD_LEFT + place * plot_w, 1)

    def y_version(version: int) -> float:
        return round(base - version / top_version * plot_h, 1)

    def y_percent(percent: float) -> float:
        return round(base - percent / 100 * plot_h, 1)

    active_parts: list[str] = []
    canary_parts: list[str] = [f"M {x_of(0)} {base}"]
    points: list[Tick] = []
    for event, place in zip(events, places, strict=True):
        pointer = event.pointer
        version = pointer.active.version if pointer and pointer.active else 0
        percent = float(pointer.canary.percent) if pointer and pointer.canary else 0.0
        x = x_of(place)
        y = y_version(version)
        active_parts.append(f"M {x} {y}" if not active_parts else f"H {x} V {y}")
        canary_parts.append(f"H {x} V {y_percent(percent)}")
        label = f"{event.at} {event.action}" + (f": v{version}" if version else "")
        if percent:
            label += f", canary v{pointer.canary.version} at {pointer.canary.percent}%"  # type: ignore[union-attr]
        points.append(Tick(x, y, label))
    x_end = x_of(1.0)
    active_parts.append(f"H {x_end}")
    canary_parts.append(f"H {x_end} V {base} Z")
    step = max(1, top_version // 4)
    version_ticks = tuple(
        Tick(PAD_LEFT - 6, y_version(v), f"v{v}") for v in range(0, top_version + 1, step) if v
    )
    percent_ticks = tuple(Tick(WIDTH - PAD_RIGHT + 6, y_percent(p), f"{p}%") for p in (0, 50, 100))
    time_ticks: tuple[Tick, ...] = (Tick(x_of(0.0), HEIGHT - 8, _day(times[0])),)
    if len(events) > 1:
        time_ticks += (Tick(x_of(places[-1]), HEIGHT - 8, _day(times[-1])),)
    last = events[-1].pointer
    state = (f"now v{last.active.version}" if last and last.active else "nothing active now") + (
        f", canary v{last.canary.version} at {last.canary.percent}%" if last and last.canary else ""
    )
    return Chart(
        WIDTH,
        HEIGHT,
        " ".join(active_parts),
        " ".join(canary_parts),
        tuple(points),
        version_ticks,
        percent_ticks,
        time_ticks,
        f"{len(events)} pointer changes; {state}",
    )


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M")
