"""Line charts as inline SVG, drawn on the server: no JavaScript, nothing to download."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .views import Series

__all__ = ["line_chart"]

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]  # fmt: skip
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 640, 260, 48, 150, 24, 36


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_max: float | None = None,
) -> str:
    """An SVG line chart of ``series`` with axes, ticks and a legend (labels escaped)."""
    points = [pt for s in series for pt in s.points]
    if not points:
        return f'<p class="empty">{escape(title)}: no data yet.</p>'
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_hi = y_max if y_max is not None else max(max(p[1] for p in points), 1e-9)
    x_span = (x_hi - x_lo) or 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x_lo) / x_span * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - min(max(y, 0.0), y_hi) / y_hi * plot_h

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {_W} {_H}" '
        f'width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_LEFT + plot_w}" y2="{_TOP + plot_h}" '
        'stroke="#444"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#444"/>',
    ]
    for i in range(5):
        y = y_hi * i / 4
        parts.append(f'<text x="{_LEFT - 4}" y="{sy(y) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{_fmt(y)}</text>')  # fmt: skip
        x = x_lo + x_span * i / 4
        parts.append(f'<text x="{sx(x):.1f}" y="{_TOP + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{_fmt(x)}</text>')  # fmt: skip
    parts.append(f'<text x="{_LEFT + plot_w / 2:.0f}" y="{_H - 4}" font-size="11" '
                 f'text-anchor="middle">{escape(x_label)}</text>')  # fmt: skip
    mid = f"{_TOP + plot_h / 2:.0f}"
    parts.append(f'<text x="12" y="{mid}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {mid})">{escape(y_label)}</text>')  # fmt: skip
    for i, line in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line.points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                     f"<title>{escape(line.name)}</title></polyline>")  # fmt: skip
        parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>'
                  for x, y in line.points]  # fmt: skip
        ly = _TOP + 12 + i * 16
        parts.append(f'<rect x="{_W - _RIGHT + 10}" y="{ly - 9}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{_W - _RIGHT + 24}" y="{ly}" font-size="11">'
                     f"{escape(line.name[:22])}</text>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
