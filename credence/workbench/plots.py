"""Small line charts as inline SVG, drawn on the server (no script, no image requests).

An inspector sees at a glance whether suspicion rose in one burst or crept up, and whether the
score fell with it; a table of the same numbers takes a minute to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

__all__ = ["line_chart", "PALETTE"]

PALETTE = ("#c0392b", "#2471a3", "#229954", "#b9770e", "#7d3c98", "#17a589", "#566573")


def _fmt_day(ms: int) -> str:
    from credence.contract import iso

    return iso(ms)[:10]


def line_chart(series: dict[str, Sequence[tuple[int, float]]], *, y_min: float, y_max: float,
               title: str, width: int = 560, height: int = 180,
               threshold: float | None = None) -> Markup:
    """Step lines of ``{name: [(ts ms, value), ...]}`` on one time axis; a dashed line at
    ``threshold`` (e.g. the blacklist threshold)."""
    pts = [p for s in series.values() for p in s]
    if not pts:
        return Markup(f'<p class="muted">{escape(title)}: nothing yet</p>')  # noqa: S704 - escaped
    left, right, top, bottom = 44, 130, 18, 24
    w, h = width - left - right, height - top - bottom
    t0, t1 = min(t for t, _ in pts), max(t for t, _ in pts)
    span = max(1, t1 - t0)

    def x(t: int) -> float:
        return left + (t - t0) / span * w if t1 > t0 else left + w / 2

    def y(v: float) -> float:
        v = min(max(v, y_min), y_max)
        return top + h - (v - y_min) / (y_max - y_min) * h

    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{left}" y="12" class="chart-title">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>']
    for frac in (0.0, 0.5, 1.0):
        v = y_min + frac * (y_max - y_min)
        label = f"{v:.1f}" if y_max <= 1 else f"{v:.0f}"
        out.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" '
                   f'class="axis">{label}</text>')
    out.append(f'<text x="{left}" y="{height - 6}" class="axis">{_fmt_day(t0)}</text>')
    if t1 > t0:
        out.append(f'<text x="{left + w}" y="{height - 6}" text-anchor="end" '
                   f'class="axis">{_fmt_day(t1)}</text>')
    if threshold is not None:
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y(threshold):.1f}" '
                   f'y2="{y(threshold):.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    for i, (name, s) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        s = sorted(s)
        path = []
        for j, (t, v) in enumerate(s):
            if j:
                path.append(f"H{x(t):.1f}")  # a step: the value holds until the next one
            path.append(f"{'M' if j == 0 else 'V'}{x(t):.1f},{y(v):.1f}" if j == 0
                        else f"V{y(v):.1f}")
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" '
                   f'stroke-width="2"/>')
        for t, v in s:
            out.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                       f'<title>{escape(name)} {v:.2f} at {_fmt_day(t)}</title></circle>')
        ly = top + 10 + i * 14
        out.append(f'<rect x="{left + w + 8}" y="{ly - 8}" width="10" height="10" '
                   f'fill="{color}"/><text x="{left + w + 22}" y="{ly + 1}" '
                   f'class="legend">{escape(name)}</text>')
    out.append("</svg>")
    # Every text that comes from data (titles, names) was escaped above; the rest is numbers.
    return Markup("".join(out))  # noqa: S704
