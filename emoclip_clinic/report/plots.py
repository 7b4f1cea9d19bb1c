"""Static SVG plots for the clinician reports, small enough to embed inline.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``, never
``pyplot``), so no GUI backend is selected and no global state changes; ``savefig`` renders
through the SVG backend. Text stays text (``svg.fonttype='none'``), nothing is rasterised and a
per-figure hash salt keeps the ids of one figure's clip paths and markers unique within a report
that holds several figures, and identical between runs.

Every function returns SVG markup built only from numbers and fixed labels, never from text of
the input files, so the templates may insert it unescaped.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Colours that stay distinct for the common colour-vision deficiencies (Okabe & Ito 2008).
BLUE = "#0072B2"
ORANGE = "#D55E00"
GREY = "#6b6b6b"
SHADE = "#d9d9d9"

_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
}

# Above this many clips the timeline draws no markers and adds a running mean.
MANY_CLIPS = 80
# Figure margins (fractions of the figure), fixed so that no layout pass is needed.
TIMELINE_MARGINS = {"left": 0.08, "right": 0.74, "bottom": 0.13, "top": 0.97, "hspace": 0.3}
AGREEMENT_MARGINS = {"left": 0.1, "right": 0.98, "bottom": 0.17, "top": 0.9, "wspace": 0.38}


def _to_svg(figure: Figure, name: str) -> str:
    """Render a figure as inline SVG markup (no XML prolog, no date)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # Inline SVG in HTML needs no namespace declarations, and the RDF metadata block only
    # names namespaces; dropping both leaves no URL of any kind in the report.
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)


def _figure(width_in: float, height_in: float, margins: dict[str, float], ncols: int = 1,
            nrows: int = 1) -> tuple[Figure, np.ndarray]:  # fmt: skip
    """A figure with fixed margins: a layout engine would triple the drawing time."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_RC):
        figure = Figure(figsize=(width_in, height_in))
        axes = figure.subplots(nrows, ncols, squeeze=False)
        figure.subplots_adjust(**margins)
    return figure, axes.ravel()


def unusable_spans(
    start_s: Sequence[float], end_s: Sequence[float], usable: Sequence[bool]
) -> list[tuple[float, float, int]]:
    """Merge consecutive unusable clips into ``(start_s, end_s, n_clips)`` stretches."""
    spans: list[tuple[float, float, int]] = []
    for start, end, ok in zip(start_s, end_s, usable, strict=True):
        if ok:
            continue
        if spans and math.isclose(spans[-1][1], start, abs_tol=1e-6):
            first, _, count = spans[-1]
            spans[-1] = (first, float(end), count + 1)
        else:
            spans.append((float(start), float(end), 1))
    return spans


def _minutes_label(minutes: float, _position: object = None) -> str:
    """Tick label ``m:ss`` for a time in minutes."""
    whole, seconds = divmod(round(max(0.0, float(minutes)) * 60), 60)
    return f"{whole}:{seconds:02d}"


def _time_axis(axes: Axes, end_s: float, in_minutes: bool) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.set_xlim(0, end_s / 60 if in_minutes else end_s)
    if in_minutes:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
        axes.xaxis.set_major_formatter(FuncFormatter(_minutes_label))


def smoothing_window(start_s: Sequence[float], end_s: Sequence[float]) -> int:
    """Clips in one minute when the recording has many clips (then a running mean is drawn),
    else 1."""
    if len(start_s) <= MANY_CLIPS:
        return 1
    clip_s = float(np.median(np.asarray(end_s, float) - np.asarray(start_s, float)))
    return max(1, round(60 / clip_s)) if clip_s > 0 else 1


def running_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Centred moving average that skips NaN; NaN where the value itself is NaN."""
    array = np.asarray(values, float)
    finite = np.isfinite(array)
    kernel = np.ones(window)
    sums = np.convolve(np.where(finite, array, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite & (counts > 0), sums / counts, np.nan)


def _trace(axes: Axes, x: np.ndarray, values: Sequence[float], color: str, name: str,
           window: int) -> None:  # fmt: skip
    """Clip values as a line; on long recordings a light line under a 1-minute running mean."""
    y = np.asarray(values, float)
    if window < 3:
        marker = "o" if len(x) <= MANY_CLIPS else None
        axes.plot(x, y, color=color, marker=marker, markersize=3, linewidth=1.2,
                  label=f"{name} per clip")  # fmt: skip
        return
    axes.plot(x, y, color=color, linewidth=0.6, alpha=0.35, label=f"{name} per clip")
    axes.plot(x, running_mean(y, window), color=color, linewidth=1.6,
              label=f"{name}, 1-minute average")  # fmt: skip


def timeline_plot(
    start_s: Sequence[float],
    end_s: Sequence[float],
    usable: Sequence[bool],
    total: Sequence[float],
    expressivity: Sequence[float],
    total_range: tuple[float, float],
    interview_total: float,
) -> str:
    """Clip-level predicted total and expressivity over time, unusable stretches shaded.

    The time axis is in minutes (``m:ss``), or in seconds for recordings under two minutes.

    Args:
        start_s: clip start times in seconds.
        end_s: clip end times in seconds.
        usable: whether each clip had a usable face.
        total: clip-level predicted total (NaN where unusable).
        expressivity: clip-level expressivity, 0-1 (NaN where unusable).
        total_range: (min, max) of the total.
        interview_total: the whole-interview estimate, drawn as a dashed line.
    """
    from matplotlib.patches import Patch

    last = float(max(end_s, default=1.0))
    in_minutes = last >= 120
    unit = 60.0 if in_minutes else 1.0
    starts, ends = np.asarray(start_s, float), np.asarray(end_s, float)
    middle = (starts + ends) / 2 / unit
    window = smoothing_window(start_s, end_s)
    figure, (top, bottom) = _figure(8.6, 3.8, TIMELINE_MARGINS, nrows=2)
    _trace(top, middle, total, BLUE, "estimate", window)
    top.axhline(interview_total, color=BLUE, linestyle="--", linewidth=0.9,
                label="whole-interview estimate")  # fmt: skip
    top.set(ylim=total_range, ylabel="estimated total")
    _trace(bottom, middle, expressivity, ORANGE, "expressivity", window)
    unit_name = "minutes" if in_minutes else "seconds"
    bottom.set(ylim=(0, 1), ylabel="expressivity", xlabel=f"time in the interview ({unit_name})")
    spans = unusable_spans(start_s, end_s, usable)
    for axes in (top, bottom):
        for first, stop, _ in spans:
            axes.axvspan(first / unit, stop / unit, color=SHADE, linewidth=0, zorder=0)
        _time_axis(axes, last, in_minutes)
        axes.grid(axis="y", color="#e6e6e6", linewidth=0.6)
        handles, _ = axes.get_legend_handles_labels()
        if spans and axes is top:
            handles.append(Patch(color=SHADE, label="no usable face (not scored)"))
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                    frameon=False, fontsize=8)  # fmt: skip
    return _to_svg(figure, "timeline")


def agreement_plots(
    index: int,
    rated: Sequence[float],
    predicted: Sequence[float],
    value_range: tuple[float, float],
    bias: float | None,
    limits: tuple[float | None, float | None],
) -> str:
    """Predicted-against-rated scatter (identity line) and Bland-Altman plot of one item.

    Args:
        index: position of the item in the report; makes the SVG ids unique.
        rated: clinician ratings per interview.
        predicted: leave-one-patient-out predictions per interview.
        value_range: (min, max) of the item.
        bias: mean difference (predicted - rated), or None.
        limits: lower and upper 95% limits of agreement, or None.
    """
    from matplotlib.ticker import MaxNLocator

    x, y = np.asarray(rated, float), np.asarray(predicted, float)
    low, high = value_range
    pad = 0.04 * (high - low)
    figure, (scatter, bland) = _figure(5.6, 2.6, AGREEMENT_MARGINS, ncols=2)
    dots = {"linestyle": "none", "marker": "o", "markersize": 4, "color": BLUE, "alpha": 0.7,
            "markeredgewidth": 0}  # fmt: skip
    scatter.plot([low, high], [low, high], color=GREY, linewidth=0.8, linestyle="--")
    scatter.plot(x, y, **dots, gid=f"scatter-points-{index}")
    limits_xy = (low - pad, high + pad)
    scatter.set(xlim=limits_xy, ylim=limits_xy, xlabel="clinician rating",
                ylabel="model estimate", title="Estimate vs rating")  # fmt: skip
    mean, difference = (x + y) / 2, y - x
    bland.plot(mean, difference, **dots, gid=f"bland-altman-points-{index}")
    for value, style in ((bias, "-"), (limits[0], "--"), (limits[1], "--")):
        if value is not None and math.isfinite(value):
            bland.axhline(value, color=ORANGE, linestyle=style, linewidth=0.9)
    bland.axhline(0, color=GREY, linewidth=0.6)
    spread = max(high - low, *(abs(v) for v in (*limits, bias, *difference)
                               if v is not None and math.isfinite(v)))  # fmt: skip
    bland.set(xlim=limits_xy, ylim=(-spread * 1.05, spread * 1.05),
              xlabel="mean of estimate and rating", ylabel="estimate - rating",
              title="Differences (Bland-Altman)")  # fmt: skip
    # Few ticks: every tick is a text object to lay out, the main cost of drawing.
    for axes in (scatter, bland):
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    return _to_svg(figure, f"agreement-{index}")


def range_bar(
    predicted: float,
    interval: tuple[float, float],
    value_range: tuple[float, float],
    width: int = 340,
    height: int = 34,
) -> str:
    """A horizontal bar of the item's range with the estimate and its 95% interval.

    Hand-written SVG (a few hundred bytes) rather than a matplotlib figure per item.
    """
    low, high = value_range
    left, right = 10.0, width - 10.0

    def x_of(value: float) -> float:
        return left + (min(max(value, low), high) - low) / (high - low) * (right - left)

    ticks = _ticks(low, high)
    parts = [
        f'<svg class="range-bar" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="estimate on a range {low:g} to {high:g}">',
        f'<line x1="{left}" y1="12" x2="{right}" y2="12" stroke="#bdbdbd" stroke-width="6" '
        'stroke-linecap="round"/>',
    ]
    for tick in ticks:
        parts.append(f'<line x1="{x_of(tick):.1f}" y1="17" x2="{x_of(tick):.1f}" y2="20" '
                     f'stroke="{GREY}"/><text x="{x_of(tick):.1f}" y="30" font-size="9" '
                     f'text-anchor="middle" fill="{GREY}">{tick:g}</text>')  # fmt: skip
    if all(math.isfinite(v) for v in interval):
        lo, hi = x_of(interval[0]), x_of(interval[1])
        parts.append(f'<rect class="interval" x="{lo:.1f}" y="7" width="{max(hi - lo, 1):.1f}" '
                     f'height="10" rx="3" fill="{BLUE}" fill-opacity="0.3"/>')  # fmt: skip
    if math.isfinite(predicted):
        parts.append(f'<circle class="estimate" cx="{x_of(predicted):.1f}" cy="12" r="5" '
                     f'fill="{BLUE}" stroke="white" stroke-width="1.5"/>')  # fmt: skip
    return "".join(parts) + "</svg>"


def _ticks(low: float, high: float) -> list[float]:
    """Ticks at the smallest 'nice' step giving at most 8 intervals that divide the range
    evenly (1 for items, 7 for a PANSS negative total of 7-49); else about 6 steps."""
    span = high - low
    for step in (1, 2, 4, 5, 7, 10, 20, 25, 50, 100):
        if span / step <= 8 and math.isclose(span / step, round(span / step)):
            return [low + k * step for k in range(round(span / step) + 1)]
    step = float(math.ceil(span / 6))
    return [low + k * step for k in range(math.floor(span / step) + 1)] + [high]
