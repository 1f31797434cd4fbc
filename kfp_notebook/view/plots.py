"""Small static SVG plots drawn in the kernel: a metric across runs, a confusion-matrix heat map, an ROC curve."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from html import escape

from kfp_notebook.tracking.strict_json import spelled

WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 44
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#999"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kfp-notebook-plot" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def number(value: float) -> str:
    """A short label for a number: 0.912, 12.5, 1.2e+06; NaN, Infinity and -Infinity as strict JSON spells them."""
    if not math.isfinite(value):
        return spelled(value)
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}" if abs(value) >= 1e4 or abs(value) < 1e-3 else f"{value:.3f}".rstrip("0").rstrip(".")


class _Scale:
    """Maps a data range onto a pixel range (a flat range gets a margin so points stay inside)."""

    def __init__(self, low: float, high: float, start: float, end: float):
        if high == low:
            low, high = low - (abs(low) or 1) * 0.05, high + (abs(high) or 1) * 0.05
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def line_plot(
    points: Sequence[tuple[float, float, str]],
    title: str,
    x_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    best: Sequence[int] = (),
) -> str:
    """A metric's value per run: (x, y, tooltip) points joined in x order; the best points ringed."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    sx = _Scale(min(xs), max(xs), LEFT, WIDTH - RIGHT)
    sy = _Scale(min(ys), max(ys), HEIGHT - BOTTOM, TOP)
    order = sorted(range(len(points)), key=lambda i: xs[i])
    path = " ".join(f"{'M' if n == 0 else 'L'}{sx(xs[i]):.1f},{sy(ys[i]):.1f}" for n, i in enumerate(order))
    body = [_text(WIDTH / 2, 16, title, extra=' font-weight="bold"'), *_axes(sy, x_label)]
    body.append(f'<path class="series" d="{path}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    for i, (x, y, tip) in enumerate(points):
        ring = f' stroke="{ORANGE}" stroke-width="2.5"' if i in best else ""
        body.append(
            f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{BLUE}"{ring}>'
            f"<title>{escape(tip)}: {number(y)}</title></circle>"
        )
    for x, label in x_ticks if x_ticks is not None else [(x, number(x)) for x in sorted(set(xs))]:
        body.append(_text(sx(x), HEIGHT - BOTTOM + 14, label))
    return _svg(WIDTH, HEIGHT, title, body)


def _axes(sy: _Scale, x_label: str) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    lines = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{GREY}"/>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{GREY}"/>',
        _text(LEFT - 4, sy(sy.high) + 4, number(sy.high), "end"),
        _text(LEFT - 4, sy(sy.low) + 4, number(sy.low), "end"),
        _text((LEFT + right) / 2, HEIGHT - 8, x_label),
    ]
    return lines


def heat_map(categories: Sequence[str], rows: Sequence[Sequence[float]], title: str = "Confusion matrix") -> str:
    """A confusion matrix: actual classes down, predicted across, each cell shaded by its count and labelled."""
    n = len(categories)
    cell = max(24, min(56, 300 // max(n, 1)))
    left, top = 90, 40
    width, height = left + n * cell + 12, top + n * cell + 40
    peak = max((v for row in rows for v in row), default=0) or 1
    body = [_text(width / 2, 16, title, extra=' font-weight="bold"'), _text(left + n * cell / 2, 32, "predicted")]
    body.append(_text(12, top + n * cell / 2, "actual", extra=f' transform="rotate(-90 12 {top + n * cell / 2})"'))
    for j, name in enumerate(categories):
        body.append(_text(left + j * cell + cell / 2, top + n * cell + 14, name))
        body.append(_text(left - 6, top + j * cell + cell / 2 + 4, name, "end"))
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            share = value / peak
            fill = f"rgb({int(255 - 224 * share)},{int(255 - 136 * share)},{int(255 - 75 * share)})"
            ink = "#fff" if share > 0.55 else "#000"
            x, y = left + j * cell, top + i * cell
            body.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff">'
                f"<title>actual {escape(categories[i])}, predicted {escape(categories[j])}: {number(value)}</title>"
                "</rect>"
            )
            body.append(_text(x + cell / 2, y + cell / 2 + 4, number(value), extra=f' fill="{ink}"'))
    return _svg(width, height, title, body)


def roc_plot(curves: Sequence[tuple[str, Sequence[float], Sequence[float], float]], title: str = "ROC curve") -> str:
    """ROC curves: (label, false positive rates, true positive rates, AUC) each, with the chance diagonal."""
    sx = _Scale(0.0, 1.0, LEFT, WIDTH - RIGHT)
    sy = _Scale(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    body = [_text(WIDTH / 2, 16, title, extra=' font-weight="bold"'), *_axes(sy, "false positive rate")]
    middle = (TOP + HEIGHT - BOTTOM) / 2
    body.append(_text(20, middle, "true positive rate", extra=_rotate(20, middle)))
    body.append(
        f'<line class="chance" x1="{sx(0):.1f}" y1="{sy(0):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" '
        f'stroke="{GREY}" stroke-dasharray="4 3"/>'
    )
    colours = [BLUE, ORANGE, "#2ca02c", "#d62728", "#9467bd"]
    for n, (label, fpr, tpr, auc) in enumerate(curves):
        pairs = sorted(zip(fpr, tpr, strict=True))
        path = " ".join(f"{'M' if k == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for k, (x, y) in enumerate(pairs))
        colour = colours[n % len(colours)]
        body.append(f'<path class="roc" d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend = f"{label} AUC {auc:.3f}" if label else f"AUC {auc:.3f}"
        body.append(_text(WIDTH - RIGHT - 4, HEIGHT - BOTTOM - 8 - 14 * n, legend, "end", f' fill="{colour}"'))
    return _svg(WIDTH, HEIGHT, title, body)


def _rotate(x: float, y: float) -> str:
    return f' transform="rotate(-90 {x} {y})"'


def auc(fpr: Sequence[float], tpr: Sequence[float]) -> float:
    """Area under the curve by the trapezoid rule, over the points sorted by false positive rate."""
    pairs = sorted(zip(fpr, tpr, strict=True))
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(pairs))
