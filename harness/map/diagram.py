"""The geometry of the map's pictures, as plain data for the page's template to draw as
inline SVG: the top flows as lanes of boxes joined by arrows, and each endpoint's bars
of status and latency. Pure: numbers and strings in, rectangles and lines out; every
text stays a string the template escapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# --- flow lanes ------------------------------------------------------------------------

BOX_WIDTH = 220
BOX_HEIGHT = 54
GAP = 34  # between boxes, where the arrow goes
LANE_GAP = 22
LABEL_WIDTH = 96  # the count at the start of a lane
MARGIN = 10
# Characters of a path a box line holds (11 px monospace in BOX_WIDTH).
LINE_CHARS = 30


def wrap_path(path: str, width: int = LINE_CHARS, lines: int = 2) -> list[str]:
    """A path cut at its slashes into at most `lines` lines of `width` characters, the
    last one ending in … when the path did not fit."""
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    current = ""
    for part in parts:
        piece = "/" + part
        if current and len(current) + len(piece) > width:
            out.append(current)
            current = ""
        current += piece
        while len(current) > width:
            out.append(current[:width])
            current = current[width:]
    if current or not out:
        out.append(current or "/")
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out


@dataclass(slots=True)
class Box:
    x: float
    y: float
    method: str
    lines: list[str]
    title: str  # the whole endpoint template
    repeated: bool = False
    more: bool = False  # the box that says the flow went on


@dataclass(slots=True)
class Lane:
    y: float
    count: int
    label: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass(slots=True)
class FlowDiagram:
    width: float
    height: float
    lanes: list[Lane]
    box_width: int = BOX_WIDTH
    box_height: int = BOX_HEIGHT


def flow_diagram(flows: list[dict[str, Any]]) -> FlowDiagram:
    """Lanes for flows given as {"count", "steps": [{"endpoint", "repeated"}], "more"}."""
    lanes = []
    widest = 0.0
    for index, flow in enumerate(flows):
        y = MARGIN + index * (BOX_HEIGHT + LANE_GAP)
        count = int(flow["count"])
        lane = Lane(y, count, "once" if count == 1 else f"{count:,} times")
        x = MARGIN + LABEL_WIDTH
        steps = list(flow["steps"])
        for position, step in enumerate(steps):
            method, _, path = str(step["endpoint"]).partition(" ")
            lane.boxes.append(
                Box(x, y, method, wrap_path(path), str(step["endpoint"]), bool(step["repeated"]))
            )
            last = position == len(steps) - 1
            if not last or flow.get("more"):
                middle = y + BOX_HEIGHT / 2
                lane.arrows.append((x + BOX_WIDTH, middle, x + BOX_WIDTH + GAP - 4, middle))
            x += BOX_WIDTH + GAP
        if flow.get("more"):
            lane.boxes.append(Box(x, y, "", ["and more steps"], "the flow went on", more=True))
            x += BOX_WIDTH + GAP
        widest = max(widest, x - GAP + MARGIN)
        lanes.append(lane)
    height = MARGIN * 2 + len(lanes) * BOX_HEIGHT + max(0, len(lanes) - 1) * LANE_GAP
    return FlowDiagram(widest, height, lanes)


# --- bars ------------------------------------------------------------------------------

BAR_WIDTH = 220
BAR_HEIGHT = 14

# Status classes, in the order their segments are drawn, with the words of the legend.
STATUS_CLASSES = (
    ("ok", "2xx"),
    ("redirect", "3xx"),
    ("declined", "402 declined"),
    ("limited", "429 rate limited"),
    ("client", "other 4xx"),
    ("server", "5xx"),
    ("none", "no answer"),
)


def status_class(status: str) -> str:
    if status == "none" or not status.isdigit():
        return "none"
    code = int(status)
    if code < 300:
        return "ok"
    if code < 400:
        return "redirect"
    if code == 402:
        return "declined"
    if code == 429:
        return "limited"
    return "client" if code < 500 else "server"


@dataclass(slots=True)
class Segment:
    x: float
    width: float
    kind: str
    label: str  # `2xx: 120 (96 %)`


def status_bar(statuses: dict[str, int], width: int = BAR_WIDTH) -> list[Segment]:
    """One segment per status class, as wide as its share of the calls."""
    totals = dict.fromkeys((kind for kind, _ in STATUS_CLASSES), 0)
    for status, count in statuses.items():
        totals[status_class(status)] += int(count)
    calls = sum(totals.values())
    segments = []
    x = 0.0
    for kind, words in STATUS_CLASSES:
        count = totals[kind]
        if not count:
            continue
        share = count / calls
        segments.append(
            Segment(round(x, 2), round(share * width, 2), kind, f"{words}: {count:,} ({share:.0%})")
        )
        x += share * width
    return segments


def latency_scale(highest_ms: float) -> float:
    """The top of the latency axis: the power of ten at or above the slowest p95."""
    return 10 ** math.ceil(math.log10(max(highest_ms, 10.0)))


def latency_x(milliseconds: float | None, top: float, width: int = BAR_WIDTH) -> float:
    """Where a latency sits on a logarithmic axis from 1 ms to `top`."""
    if milliseconds is None or milliseconds <= 1:
        return 0.0
    return round(width * math.log10(milliseconds) / math.log10(top), 2)
