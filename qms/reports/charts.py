"""Charts as inline SVG, drawn on the server: no JavaScript, no build step, no CDN, no web
fonts (the page's own sans-serif font). Pure functions of their arguments: the same figures
always give the same bytes, so pages and tests can compare them.

Every chart is an image for assistive technology (role="img") named by its <title>, with a
<desc> that reads out each value; each bar and point also carries its own <title> (the
tooltip sighted users get on hover). All text written into the SVG is escaped.

    line_chart(["11/2025", ..., "10/2026"], [97.5, None, ...], title="Tỷ lệ đúng hạn",
               percent=True, target=95)
    bar_chart(labels, values, title=...)
    stacked_bar_chart(labels, [("Trực tiếp", [...]), ("Trực tuyến", [...])], title=...)
    sparkline(values, title=...)

A value of None means "no data for that month" (e.g. an on-time rate with nothing resolved):
no bar, a gap in the line. A chart with no label, or only None values, shows EMPTY_TEXT.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

EMPTY_TEXT = "Chưa có dữ liệu"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
# Bootstrap 5's palette: primary, success, warning, info, danger, secondary
COLOURS = ("#0d6efd", "#198754", "#fd7e14", "#0dcaf0", "#dc3545", "#6c757d")
TARGET_COLOUR = "#dc3545"
GRID_COLOUR = "#dee2e6"
TEXT_COLOUR = "#495057"

WIDTH, HEIGHT = 640, 220
# The plot area inside the frame (room for the y-axis labels left, month labels below).
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 30
LEGEND_HEIGHT = 18  # added above the plot when a chart has a legend
BAR_FILL = 0.6  # share of a month's slot a bar (or a stack) takes


# --- numbers ---------------------------------------------------------------------------------
def format_number(value: float, decimals: int = 0) -> str:
    """Vietnamese style: 1.234,5 (thousands with dots, decimals after a comma)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def format_value(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{format_number(value, 1)} %"
    return format_number(value, 0 if float(value).is_integer() else 1)


def _n(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros (stable text for tests)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k not below `raw`."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw * (1 - 1e-9):
            return float(factor * power)
    return 10.0 * power  # pragma: no cover (unreachable)


def axis_max(values: Sequence[float | None], *, percent: bool, target: float | None = None,
             intervals: int = 4) -> tuple[float, float]:
    """(top of the y axis, tick step). Percentages always run 0–100 %; counts up to a round
    number above the largest value (and the target), in whole steps."""
    if percent:
        return 100.0, 25.0
    highest = max([v for v in values if v is not None] + ([target] if target is not None else []),
                  default=0.0)
    step = max(_nice_step(highest / intervals), 1.0)
    return step * intervals, step


# --- the frame shared by all charts ------------------------------------------------------------
@dataclass
class _Frame:
    width: int
    height: int
    top: float
    count: int  # months along the x axis

    @property
    def plot_width(self) -> float:
        return self.width - LEFT - RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - self.top - BOTTOM

    @property
    def baseline(self) -> float:
        return self.top + self.plot_height

    @property
    def slot(self) -> float:
        return self.plot_width / max(self.count, 1)

    def centre(self, index: int) -> float:
        return LEFT + self.slot * index + self.slot / 2

    def y(self, value: float, top_value: float) -> float:
        return self.baseline - self.plot_height * min(max(value, 0.0), top_value) / top_value


def _chart_id(kind: str, title: str, labels, data) -> str:
    # an element id, not a secret
    digest = hashlib.sha1(repr((kind, title, list(labels), data)).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"chart-{digest}"


def _open(chart_id: str, width: int, height: int, title: str, desc: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="qms-chart {css_class}" id="{escape(chart_id)}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'style="max-width:100%;height:auto" font-family="{escape(FONT)}" font-size="11">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _empty(chart_id: str, width: int, height: int, title: str, empty_text: str, css_class: str) -> Markup:
    parts = _open(chart_id, width, height, title, empty_text, f"{css_class} qms-chart-empty")
    parts.append(f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
                 f'stroke="{GRID_COLOUR}" stroke-dasharray="4 3"/>')
    parts.append(f'<text class="empty" x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" '
                 f'dominant-baseline="middle" fill="{TEXT_COLOUR}">{escape(empty_text)}</text>')
    parts.append("</svg>")
    # every text written into the SVG above is escaped
    return Markup("".join(parts))  # nosec B704


def _is_empty(labels: Sequence[str], columns: Sequence[Sequence[float | None]]) -> bool:
    return not labels or all(v is None for column in columns for v in column)


def _axes(frame: _Frame, labels: Sequence[str], top_value: float, step: float, percent: bool) -> list[str]:
    parts = ['<g class="axes" aria-hidden="true">']
    ticks = int(round(top_value / step))
    for i in range(ticks + 1):
        value = float(step * i)
        y = frame.y(value, top_value)
        parts.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{_n(frame.width - RIGHT)}" y2="{_n(y)}" '
                     f'stroke="{GRID_COLOUR}" stroke-width="1"/>')
        tick = f"{format_number(value, 0 if value.is_integer() else 1)}{' %' if percent else ''}"
        parts.append(f'<text x="{LEFT - 6}" y="{_n(y)}" text-anchor="end" dominant-baseline="middle" '
                     f'fill="{TEXT_COLOUR}">{escape(tick)}</text>')
    # Month labels: every one when they fit, else every k-th (always the last).
    every = max(1, math.ceil(len(labels) * 46 / frame.plot_width))
    for i, label in enumerate(labels):
        if (len(labels) - 1 - i) % every:
            continue
        parts.append(f'<text class="x-label" x="{_n(frame.centre(i))}" y="{_n(frame.baseline + 16)}" '
                     f'text-anchor="middle" fill="{TEXT_COLOUR}">{escape(label)}</text>')
    parts.append("</g>")
    return parts


def _target(frame: _Frame, target: float | None, top_value: float, percent: bool,
            target_label: str) -> list[str]:
    if target is None:
        return []
    y = frame.y(target, top_value)
    name = f"{target_label}: {format_value(target, percent)}"
    return [f'<g class="target"><title>{escape(name)}</title>'
            f'<line x1="{LEFT}" y1="{_n(y)}" x2="{_n(frame.width - RIGHT)}" y2="{_n(y)}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/></g>']


def _describe(labels: Sequence[str], values: Sequence[float | None], percent: bool,
              target: float | None, target_label: str) -> str:
    text = "; ".join(f"{label}: {format_value(value, percent)}" for label, value in zip(labels, values, strict=True))
    if target is not None:
        text += f". {target_label}: {format_value(target, percent)}"
    return text


def _check(labels: Sequence[str], values: Sequence[float | None]) -> list[float | None]:
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    return [None if v is None else float(v) for v in values]


# --- the charts ----------------------------------------------------------------------------------
def line_chart(labels: Sequence[str], values: Sequence[float | None], *, title: str,
               percent: bool = False, target: float | None = None, target_label: str = "Mục tiêu",
               chart_id: str | None = None, width: int = WIDTH, height: int = HEIGHT,
               colour: str = COLOURS[0], empty_text: str = EMPTY_TEXT,
               formatter: Callable[[float | None, bool], str] = format_value) -> Markup:
    """A month-by-month line with a dot per month that has a value (gaps where None)."""
    values = _check(labels, values)
    chart_id = chart_id or _chart_id("line", title, labels, values)
    if _is_empty(labels, [values]):
        return _empty(chart_id, width, height, title, empty_text, "qms-line")
    top_value, step = axis_max(values, percent=percent, target=target)
    frame = _Frame(width, height, TOP, len(labels))
    parts = _open(chart_id, width, height, title,
                  _describe(labels, values, percent, target, target_label), "qms-line")
    parts += _axes(frame, labels, top_value, step, percent)
    parts += _target(frame, target, top_value, percent, target_label)
    path, pen_down = [], False
    for i, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{_n(frame.centre(i))} {_n(frame.y(value, top_value))}")
        pen_down = True
    parts.append(f'<path class="series" d="{" ".join(path)}" fill="none" stroke="{escape(colour)}" '
                 f'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            continue
        parts.append(f'<circle class="point" cx="{_n(frame.centre(i))}" cy="{_n(frame.y(value, top_value))}" '
                     f'r="3.5" fill="{escape(colour)}" data-value="{_n(value)}">'
                     f'<title>{escape(label)}: {escape(formatter(value, percent))}</title></circle>')
    parts.append("</svg>")
    # every text written into the SVG above is escaped
    return Markup("".join(parts))  # nosec B704


def bar_chart(labels: Sequence[str], values: Sequence[float | None], *, title: str,
              percent: bool = False, target: float | None = None, target_label: str = "Mục tiêu",
              chart_id: str | None = None, width: int = WIDTH, height: int = HEIGHT,
              colour: str = COLOURS[0], empty_text: str = EMPTY_TEXT,
              formatter: Callable[[float | None, bool], str] = format_value) -> Markup:
    """One bar per month (none where None); the bar's height is proportional to its value."""
    values = _check(labels, values)
    chart_id = chart_id or _chart_id("bar", title, labels, values)
    if _is_empty(labels, [values]):
        return _empty(chart_id, width, height, title, empty_text, "qms-bar")
    top_value, step = axis_max(values, percent=percent, target=target)
    frame = _Frame(width, height, TOP, len(labels))
    parts = _open(chart_id, width, height, title,
                  _describe(labels, values, percent, target, target_label), "qms-bar")
    parts += _axes(frame, labels, top_value, step, percent)
    bar = frame.slot * BAR_FILL
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            continue
        y = frame.y(value, top_value)
        parts.append(f'<rect class="bar" x="{_n(frame.centre(i) - bar / 2)}" y="{_n(y)}" width="{_n(bar)}" '
                     f'height="{_n(frame.baseline - y)}" fill="{escape(colour)}" data-value="{_n(value)}">'
                     f'<title>{escape(label)}: {escape(formatter(value, percent))}</title></rect>')
    parts += _target(frame, target, top_value, percent, target_label)  # drawn over the bars
    parts.append("</svg>")
    # every text written into the SVG above is escaped
    return Markup("".join(parts))  # nosec B704


def stacked_bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
                      title: str, chart_id: str | None = None, width: int = WIDTH,
                      height: int = HEIGHT + LEGEND_HEIGHT, colours: Sequence[str] = COLOURS,
                      empty_text: str = EMPTY_TEXT,
                      formatter: Callable[[float | None, bool], str] = format_value) -> Markup:
    """Counts per month split into named parts (e.g. dossiers received by channel), one
    stacked bar per month, with a legend."""
    columns = [_check(labels, values) for _name, values in series]
    names = [name for name, _values in series]
    chart_id = chart_id or _chart_id("stacked", title, labels, list(zip(names, columns, strict=True)))
    if _is_empty(labels, columns):
        return _empty(chart_id, width, height, title, empty_text, "qms-stacked")
    totals = [sum(column[i] or 0.0 for column in columns) for i in range(len(labels))]
    top_value, step = axis_max(totals, percent=False)
    frame = _Frame(width, height, TOP + LEGEND_HEIGHT, len(labels))
    desc = ". ".join(f"{name} — {_describe(labels, column, False, None, '')}"
                     for name, column in zip(names, columns, strict=True))
    parts = _open(chart_id, width, height, title, desc, "qms-stacked")
    parts += _axes(frame, labels, top_value, step, False)
    x = LEFT
    parts.append('<g class="legend">')
    for k, name in enumerate(names):
        colour = colours[k % len(colours)]
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{escape(colour)}"/>'
                     f'<text x="{x + 14}" y="9" dominant-baseline="middle" fill="{TEXT_COLOUR}">'
                     f'{escape(name)}</text>')
        x += 24 + 7 * len(name)
    parts.append("</g>")
    bar = frame.slot * BAR_FILL
    for i, label in enumerate(labels):
        below = 0.0
        for k, (name, column) in enumerate(zip(names, columns, strict=True)):
            value = column[i]
            if not value:
                continue
            y_low, y_high = frame.y(below, top_value), frame.y(below + value, top_value)
            below += value
            parts.append(f'<rect class="bar" x="{_n(frame.centre(i) - bar / 2)}" y="{_n(y_high)}" '
                         f'width="{_n(bar)}" height="{_n(y_low - y_high)}" '
                         f'fill="{escape(colours[k % len(colours)])}" data-value="{_n(value)}">'
                         f'<title>{escape(label)} — {escape(name)}: {escape(formatter(value, False))}'
                         f'</title></rect>')
    parts.append("</svg>")
    # every text written into the SVG above is escaped
    return Markup("".join(parts))  # nosec B704


def sparkline(values: Sequence[float | None], *, title: str, percent: bool = False,
              chart_id: str | None = None, width: int = 120, height: int = 28,
              colour: str = COLOURS[0], empty_text: str = EMPTY_TEXT) -> Markup:
    """A small line without axes, for a figure's recent trend; the last value is marked."""
    values = [None if v is None else float(v) for v in values]
    chart_id = chart_id or _chart_id("spark", title, [], values)
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        return _empty(chart_id, width, height, title, empty_text, "qms-sparkline")
    low = 0.0 if percent else min(v for _i, v in known)
    high = 100.0 if percent else max(v for _i, v in known)
    span = (high - low) or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return pad + step * i, height - pad - (height - 2 * pad) * (v - low) / span

    desc = ", ".join(format_value(v, percent) for v in values)
    parts = _open(chart_id, width, height, title, desc, "qms-sparkline")
    path, pen_down = [], False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        x, y = point(i, v)
        path.append(f"{'L' if pen_down else 'M'}{_n(x)} {_n(y)}")
        pen_down = True
    parts.append(f'<path class="series" d="{" ".join(path)}" fill="none" stroke="{escape(colour)}" '
                 f'stroke-width="1.5" stroke-linejoin="round"/>')
    x, y = point(*known[-1])
    parts.append(f'<circle class="point last" cx="{_n(x)}" cy="{_n(y)}" r="2.5" fill="{escape(colour)}"/>')
    parts.append("</svg>")
    # every text written into the SVG above is escaped
    return Markup("".join(parts))  # nosec B704
