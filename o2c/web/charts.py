"""Charts drawn on the server as SVG: no script, nothing fetched."""
from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup, escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _nice_step(value: Decimal, steps: int = 4) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10^n that covers ``value`` in ``steps`` steps."""
    if value <= 0:
        return Decimal(25)
    raw = value / steps
    exp = Decimal(10) ** (len(str(int(raw))) - 1) if raw >= 1 else Decimal(1)
    for mult in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if raw <= mult * exp:
            return mult * exp
    return 10 * exp


def _short(value: Decimal) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}"


def bar_chart(series: list[tuple[str, Decimal]], width: int = 1100, height: int = 240,
              title: str = "Revenue by month") -> Markup:
    """A bar per period (``YYYY-MM``) with a value axis; each bar has a title
    with the exact amount (shown on hover) and the chart a text alternative."""
    left, right, top, bottom = 48, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = 4 * _nice_step(max((v for _, v in series), default=Decimal(0)))
    n = max(len(series), 1)
    slot = plot_w / n
    bar = min(slot * 0.62, 72.0)  # a few months: slim bars, not slabs
    summary = ", ".join(f"{p} {v:.2f}" for p, v in series)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{escape(title)}: {escape(summary)}</title>']
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_short(value)}</text>')
    for i, (period, value) in enumerate(series):
        h = float(plot_h * max(value, Decimal(0)) / top_value)
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h - h
        month = MONTHS[int(period[5:7]) - 1]
        label = f"{month} {period[2:4]}" if period.endswith("-01") or i == 0 else month
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                     f'<title>{escape(period)}: {value:,.2f}</title></rect>')
        parts.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(str(p) for p in parts))  # noqa: S704  # nosec B704 - every text above is escaped, the rest are numbers
