"""Geometry of the deployment chart: active version and canary share over time.

Computed on the server and drawn as inline SVG by the template, so the chart needs no
script, no external service and works with JavaScript disabled. Input is the pointer's
git history (``Workspace.pointer_events``), one chart per environment.
"""

from __future__ import annotations

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


def deployment_chart(events: list[PointerEvent], max_version: int) -> Chart | None:
    """None when the pointer was never committed. The time axis spans the events plus a
    tenth (at least an hour) for the current state, so old history is not squeezed."""
    if not events:
        return None
    times = [_seconds(event.at) for event in events]
    start = times[0]
    end = times[-1] + max((times[-1] - start) / 10, 3600.0)
    span = end - start
    top_version = max(max_version, 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    base = PAD_TOP + plot_h

    def x_of(seconds: float) -> float:
        return round(PAD_LEFT + (seconds - start) / span * plot_w, 1)

    def y_version(version: int) -> float:
        return round(base - version / top_version * plot_h, 1)

    def y_percent(percent: float) -> float:
        return round(base - percent / 100 * plot_h, 1)

    active_parts: list[str] = []
    canary_parts: list[str] = [f"M {x_of(start)} {base}"]
    points: list[Tick] = []
    for event, seconds in zip(events, times, strict=True):
        pointer = event.pointer
        version = pointer.active.version if pointer and pointer.active else 0
        percent = float(pointer.canary.percent) if pointer and pointer.canary else 0.0
        x = x_of(seconds)
        y = y_version(version)
        active_parts.append(f"M {x} {y}" if not active_parts else f"H {x} V {y}")
        canary_parts.append(f"H {x} V {y_percent(percent)}")
        label = f"{event.at} {event.action}" + (f": v{version}" if version else "")
        if percent:
            label += f", canary v{pointer.canary.version} at {pointer.canary.percent}%"  # type: ignore[union-attr]
        points.append(Tick(x, y, label))
    x_end = x_of(end)
    active_parts.append(f"H {x_end}")
    canary_parts.append(f"H {x_end} V {base} Z")
    step = max(1, top_version // 4)
    version_ticks = tuple(
        Tick(PAD_LEFT - 6, y_version(v), f"v{v}") for v in range(0, top_version + 1, step) if v
    )
    percent_ticks = tuple(Tick(WIDTH - PAD_RIGHT + 6, y_percent(p), f"{p}%") for p in (0, 50, 100))
    time_ticks = tuple(
        Tick(x_of(start + span * fraction), HEIGHT - 8, _day(start + span * fraction))
        for fraction in (0, 0.5, 1)
    )
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
