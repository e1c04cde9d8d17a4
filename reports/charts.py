"""Charts of daily usage and balance as PNG bytes: pure functions of a DailySeries, drawn headless."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: the bot draws on servers

from matplotlib.dates import DateFormatter, WeekdayLocator  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from store.statements import DailySeries  # noqa: E402

# Slack previews images about 360-480 px wide: few, large labels read at that size.
WIDTH, HEIGHT, DPI = 1200, 800, 100
CHART_SIZE = (WIDTH, HEIGHT)
USAGE_COLOUR, BALANCE_COLOUR, LEVEL_COLOUR = "#2E6FD8", "#1B8A5A", "#D9480F"


CREDIT_STEPS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k"), (1, ""))


def credit_label(value: float, _position: float | None = None) -> str:
    """An axis label such as 2.5k or 3T: the largest step that fits, in digits without an exponent."""
    size, suffix = next((step for step in CREDIT_STEPS if abs(value) >= step[0]), CREDIT_STEPS[-1])
    return f"{value / size:,.3f}".rstrip("0").rstrip(".") + suffix


def draw_chart(series: DailySeries, title: str, level_label: str = "Reminder level") -> bytes:
    """Daily usage (bars) above the end-of-day balance (line), the reminder level dashed; a PNG."""
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    usage_axes, balance_axes = figure.subplots(2, 1, sharex=True, height_ratios=[2, 3])
    figure.suptitle(title, fontsize=22, fontweight="bold")
    usage_axes.bar(series.days, series.usage, color=USAGE_COLOUR, width=0.8)
    usage_axes.set_ylabel("Credits used\nper day", fontsize=16)
    balance_axes.plot(series.days, series.balance, color=BALANCE_COLOUR, linewidth=3, label="Balance")
    balance_axes.set_ylabel("Balance at\nday's end", fontsize=16)
    if series.level is not None:
        balance_axes.axhline(
            series.level, color=LEVEL_COLOUR, linestyle="--", linewidth=2.5, label=level_label
        )
    balance_axes.set_ylim(bottom=0, top=max([*series.balance, series.level or 0, 1]) * 1.15)
    balance_axes.legend(loc="upper left", fontsize=15, frameon=False)
    balance_axes.set_xlabel("Day", fontsize=16)
    balance_axes.xaxis.set_major_locator(WeekdayLocator(byweekday=series.days[-1].weekday()))
    balance_axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    for axes in (usage_axes, balance_axes):
        axes.yaxis.set_major_formatter(FuncFormatter(credit_label))
        axes.tick_params(labelsize=14)
        axes.grid(axis="y", alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
    usage_axes.set_ylim(bottom=0, top=max([*series.usage, 1]) * 1.15)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
