"""Charts of an encoder version for staff, drawn server-side as inline SVG: its training curves, and its figures with
their intervals beside earlier versions'. Plain strings, no JavaScript and no torch (the web process draws them).

Every chart scales to the width of the page (a viewBox, ``width: 100%``) and carries its text alternative: a
``<title>`` and ``<desc>`` that a screen reader announces, and the same numbers as a table under a disclosure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

ACCENT = "#2a7ab0"
MUTED = "#8a8a8a"
GRID = "#8a8a8a55"
# A term's name in the training history -> what staff read.
TERM_LABELS = {
    "loss": "total loss (weighted sum)",
    "recon": "reconstruction",
    "supcon": "same category (contrastive)",
    "instance": "same product in a room (contrastive)",
    "classify": "category classifier",
    "uniform": "spread of the codes",
    "coview": "goes with (co-view pairs)",
    "scene": "room photos (scene head)",
}
CURVE_WIDTH, CURVE_HEIGHT = 320, 180
CURVE_LEFT, CURVE_RIGHT, CURVE_TOP, CURVE_BOTTOM = 46, 10, 14, 28


def _number(value: float) -> str:
    return f"{value:.3g}"


def _svg(*, width: int, height: int, title: str, description: str, body: str, ident: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" class="chart" '
        f'style="width:100%;height:auto;display:block;max-width:{width * 2}px;font-family:inherit">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def _details(summary: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    header = "".join(f"<th scope=col>{escape(cell)}</th>" for cell in head)
    body = "".join(
        "<tr>" + f"<th scope=row>{escape(row[0])}</th>" + "".join(f"<td>{escape(c)}</td>" for c in row[1:]) + "</tr>"
        for row in rows
    )
    return (
        f"<details><summary>{escape(summary)}</summary>"
        f'<table class="chart-table"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></details>'
    )


def curve_terms(history: Sequence[Mapping]) -> list[str]:
    """The series of a training history, the total first, in the order training recorded them."""
    names: dict[str, None] = {}
    for row in history:
        for name, value in row.items():
            if name != "epoch" and isinstance(value, int | float):
                names.setdefault(name, None)
    return sorted(names, key=lambda name: name != "loss")


def _curve(history: Sequence[Mapping], term: str, ident: str) -> str:
    points = [(int(row["epoch"]), float(row[term])) for row in history if term in row]
    label = TERM_LABELS.get(term, term)
    first_epoch, last_epoch = points[0][0], points[-1][0]
    values = [value for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    bottom, top = low - span * 0.05, high + span * 0.05
    plot_w = CURVE_WIDTH - CURVE_LEFT - CURVE_RIGHT
    plot_h = CURVE_HEIGHT - CURVE_TOP - CURVE_BOTTOM

    def x(epoch: int) -> float:
        return CURVE_LEFT + (
            plot_w * (epoch - first_epoch) / (last_epoch - first_epoch) if last_epoch > first_epoch else plot_w / 2
        )

    def y(value: float) -> float:
        return CURVE_TOP + plot_h * (top - value) / (top - bottom)

    grid = "".join(
        f'<line x1="{CURVE_LEFT}" x2="{CURVE_WIDTH - CURVE_RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
        f'<text x="{CURVE_LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" fill="currentColor">'
        f"{_number(v)}</text>"
        for v in sorted({low, (low + high) / 2, high})
    )
    axis = (
        f'<text x="{x(first_epoch):.1f}" y="{CURVE_HEIGHT - 10}" text-anchor="middle" font-size="11" '
        f'fill="currentColor">{first_epoch}</text>'
        + (
            f'<text x="{x(last_epoch):.1f}" y="{CURVE_HEIGHT - 10}" text-anchor="end" font-size="11" '
            f'fill="currentColor">epoch {last_epoch}</text>'
            if last_epoch > first_epoch
            else ""
        )
    )
    line = " ".join(f"{x(e):.1f},{y(v):.1f}" for e, v in points)
    mark = (
        f'<polyline points="{line}" fill="none" stroke="{ACCENT}" stroke-width="2"/>'
        if len(points) > 1
        else f'<circle cx="{x(first_epoch):.1f}" cy="{y(values[0]):.1f}" r="3" fill="{ACCENT}"/>'
    )
    heading = (
        f'<text x="{CURVE_LEFT}" y="10" font-size="12" font-weight="bold" fill="currentColor">{escape(label)}</text>'
    )
    best = min(points, key=lambda point: point[1])
    description = (
        f"{label}: {_number(values[0])} after epoch {first_epoch}, {_number(values[-1])} after epoch {last_epoch}; "
        f"lowest {_number(best[1])} after epoch {best[0]}."
    )
    return _svg(
        width=CURVE_WIDTH,
        height=CURVE_HEIGHT,
        title=f"Training curve: {label}, per epoch",
        description=description,
        body=heading + grid + axis + mark,
        ident=f"{ident}-{term}",
    )


def training_curves_html(history: Sequence[Mapping], *, ident: str = "curves") -> str:
    """One small chart per series (the total loss and each weighted term: their scales differ), side by side as
    the width allows, and the numbers as a table."""
    terms = curve_terms(history)
    charts = "".join(f'<div class="chart-cell">{_curve(history, term, ident)}</div>' for term in terms)
    rows = [[str(row["epoch"]), *(_number(row[t]) if t in row else "—" for t in terms)] for row in history]
    return (
        '<div class="chart-grid" style="display:grid;gap:12px;'
        'grid-template-columns:repeat(auto-fill,minmax(min(100%,260px),1fr))">'
        f"{charts}</div>"
        + _details("The training curves as a table", ["epoch", *(TERM_LABELS.get(t, t) for t in terms)], rows)
    )


@dataclass(frozen=True)
class ChartedVersion:
    name: str
    figures: Mapping[str, float]
    intervals: Mapping[str, Sequence[float]]
    current: bool = False
    live: bool = False

    @property
    def label(self) -> str:
        return self.name + (" (live)" if self.live else "") + (" (this)" if self.current else "")


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _with_interval(value: float | None, interval: Sequence[float] | None) -> str:
    if value is None:
        return "—"
    if not interval:
        return _percent(value)
    return f"{_percent(value)} ({interval[0] * 100:.0f}–{interval[1] * 100:.0f} %)"


FIGURES_WIDTH = 720
FIGURES_LEFT, FIGURES_RIGHT = 270, 20
ROW, GROUP_HEAD, AXIS = 18, 22, 26


def figures_chart_html(
    versions: Sequence[ChartedVersion], figures: Sequence[str], labels: Mapping[str, str], *, ident: str = "figures"
) -> str:
    """Each figure of each version (oldest first, this version last) as a dot on a 0–100 % scale with a bar across
    its 95 % interval, grouped by figure; then the numbers as a table."""
    shown = [f for f in figures if any(f in v.figures for v in versions)]
    plot_w = FIGURES_WIDTH - FIGURES_LEFT - FIGURES_RIGHT

    def x(value: float) -> float:
        return FIGURES_LEFT + plot_w * min(1.0, max(0.0, value))

    parts, top = [], AXIS
    for name in shown:
        parts.append(
            f'<text x="4" y="{top + 15}" font-size="13" font-weight="bold" fill="currentColor">'
            f"{escape(labels.get(name, name))}</text>"
        )
        top += GROUP_HEAD
        for version in versions:
            colour = ACCENT if version.current else MUTED
            weight = ' font-weight="bold"' if version.current else ""
            centre = top + ROW / 2
            parts.append(
                f'<text x="16" y="{centre + 4:.1f}" font-size="11" fill="currentColor"{weight}>'
                f"{escape(version.label)}</text>"
            )
            value = version.figures.get(name)
            if value is None:
                parts.append(
                    f'<text x="{FIGURES_LEFT}" y="{centre + 4:.1f}" font-size="11" fill="currentColor">'
                    "not measured</text>"
                )
            else:
                interval = version.intervals.get(name)
                if interval:
                    low, high = x(interval[0]), x(interval[1])
                    parts.append(
                        f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{centre:.1f}" y2="{centre:.1f}" stroke="{colour}" '
                        f'stroke-width="2"/><line x1="{low:.1f}" x2="{low:.1f}" y1="{centre - 4:.1f}" '
                        f'y2="{centre + 4:.1f}" stroke="{colour}"/><line x1="{high:.1f}" x2="{high:.1f}" '
                        f'y1="{centre - 4:.1f}" y2="{centre + 4:.1f}" stroke="{colour}"/>'
                    )
                parts.append(f'<circle cx="{x(value):.1f}" cy="{centre:.1f}" r="4.5" fill="{colour}"/>')
            top += ROW
        top += 6
    height = top + 4
    grid = "".join(
        f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{AXIS - 4}" y2="{height - 4}" stroke="{GRID}"/>'
        f'<text x="{x(t):.1f}" y="{AXIS - 8}" text-anchor="middle" font-size="11" fill="currentColor">'
        f"{t * 100:.0f} %</text>"
        for t in (0, 0.25, 0.5, 0.75, 1.0)
    )
    current = next((v for v in versions if v.current), versions[-1])
    earlier = len(versions) - 1
    description = (
        f"The figures of {current.name} beside {earlier} earlier version{'s' if earlier != 1 else ''}: "
        + "; ".join(
            f"{labels.get(name, name)} {_with_interval(current.figures.get(name), current.intervals.get(name))}"
            for name in shown
        )
        + ". Each dot is a figure; the bar across it is its 95 % interval."
    )
    chart = _svg(
        width=FIGURES_WIDTH,
        height=height,
        title=f"Figures of {current.name} and earlier versions, with their 95 % intervals",
        description=description,
        body=grid + "".join(parts),
        ident=ident,
    )
    rows = [
        [labels.get(name, name), *(_with_interval(v.figures.get(name), v.intervals.get(name)) for v in versions)]
        for name in shown
    ]
    return chart + _details("The figures as a table", ["figure", *(v.label for v in versions)], rows)
