"""Figures: pure functions from data to plotly figures (logos: matplotlib via logomaker), and their exports.

Every figure exports to PNG and SVG (plotly through kaleido, which drives a local Chrome/Chromium: ``BROWSER_PATH``,
else ``/usr/bin/chromium`` when present; nothing is downloaded) and to standalone HTML with plotly.js inlined, so the
file opens offline.
"""
from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import logomaker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from dnabert_core.errors import DnabertError  # noqa: E402
from dnabert_core.records import Landscape  # noqa: E402

FORMATS = ("png", "svg", "html")
SORTS = ("input", "peak", "total")
CHROMIUM = "/usr/bin/chromium"
BASE_COLOURS = {"A": "#2ca02c", "C": "#1f77b4", "G": "#ff7f0e", "T": "#d62728"}
MAX_LETTERS = 150  # base letters are written on the track's axis up to this length
MAP_SCALES = ("row", "log", "linear")
LOGO_WIDTH = 60  # bases in the default logo region


def _safe(text: str) -> str:
    """User text (record ids) for plotly labels: plotly reads a subset of HTML in text, so it is escaped."""
    return html.escape(text, quote=False)


def landscape_track(landscape: Landscape, attribution: Landscape | None = None, title: str | None = None,
                    name: str = "attention") -> go.Figure:
    """Per-base landscape as a line (hover: position, base, score), with an optional attribution overlay as bars on a
    second axis. Positions are 1-based. ``name`` says what the line is ("attention", or "attribution" when the track
    itself is one)."""
    n = len(landscape.sequence)
    positions = np.arange(1, n + 1)
    bases = np.array(list(landscape.sequence))
    figure = make_subplots(specs=[[{"secondary_y": attribution is not None}]])
    figure.add_trace(
        go.Scatter(x=positions, y=landscape.scores, mode="lines", name=name, customdata=bases,
                   line={"color": "#3b4cc0"},
                   hovertemplate=f"position %{{x}}<br>base %{{customdata}}<br>score %{{y:.4g}}<extra>{name}</extra>"),
        secondary_y=False,
    )
    if attribution is not None:
        if attribution.sequence != landscape.sequence:
            raise DnabertError(f"the attribution of '{attribution.record_id}' is for another sequence than the "
                               f"landscape of '{landscape.record_id}'")
        figure.add_trace(
            go.Bar(x=positions, y=attribution.scores, name="attribution", customdata=bases, opacity=0.5,
                   marker={"color": np.where(attribution.scores >= 0, "#d62728", "#1f77b4")},
                   hovertemplate="position %{x}<br>base %{customdata}<br>attribution %{y:.4g}<extra></extra>"),
            secondary_y=True,
        )
        figure.update_yaxes(title_text="attribution", secondary_y=True)
    figure.update_yaxes(title_text=f"{name} score", secondary_y=False)
    xaxis = {"title": "position (bp)"}
    if n <= MAX_LETTERS:
        xaxis.update(tickmode="array", tickvals=positions.tolist(), ticktext=bases.tolist(), tickangle=0,
                     tickfont={"family": "monospace", "size": 9})
    figure.update_layout(title=title or f"{_safe(landscape.record_id)}: {landscape.source}", xaxis=xaxis,
                         hovermode="x unified", template="plotly_white", legend={"orientation": "h"})
    return figure


def highlight_spans(figure: go.Figure, spans: Sequence[tuple[int, int]], label: str = "") -> go.Figure:
    """Shade 0-based half-open base ``spans`` on a ``landscape_track`` (1-based axis: a span covers start+1..end)."""
    for start, end in spans:
        figure.add_vrect(x0=start + 0.5, x1=end + 0.5, fillcolor="#ffbf00", opacity=0.25, line_width=0,
                         annotation_text=_safe(label), annotation_position="top left")
    return figure


def sort_order(landscapes: Sequence[Landscape], sort: str) -> list[int]:
    """Row order of a heatmap: "input" order, by "peak" position (argmax) or by "total" score (descending)."""
    if sort not in SORTS:
        raise DnabertError(f"unknown sort {sort!r}; choose one of {SORTS}")
    if sort == "input":
        return list(range(len(landscapes)))
    key = (lambda i: int(np.argmax(landscapes[i].scores))) if sort == "peak" else (
        lambda i: -float(np.sum(landscapes[i].scores)))
    return sorted(range(len(landscapes)), key=key)


def landscape_heatmap(landscapes: Sequence[Landscape], sort: str = "input", title: str | None = None) -> go.Figure:
    """Sequences x positions heatmap of landscapes (as DNABERT's Prom-300 figure); shorter sequences are blank on the
    right. ``sort``: "input", "peak" or "total"."""
    if not landscapes:
        raise DnabertError("no landscapes to draw")
    order = sort_order(landscapes, sort)
    width = max(len(item.scores) for item in landscapes)
    z = np.full((len(landscapes), width), np.nan)
    bases = np.full((len(landscapes), width), "", dtype=object)
    for row, index in enumerate(order):
        item = landscapes[index]
        z[row, : len(item.scores)] = item.scores
        bases[row, : len(item.scores)] = list(item.sequence)
    ids = [_safe(landscapes[i].record_id) for i in order]
    figure = go.Figure(go.Heatmap(
        z=z, x=np.arange(1, width + 1), y=ids, customdata=bases, colorscale="Viridis", colorbar={"title": "score"},
        hovertemplate="%{y}<br>position %{x}<br>base %{customdata}<br>score %{z:.4g}<extra></extra>",
    ))
    figure.update_layout(title=title or f"{len(landscapes)} landscapes ({landscapes[0].source}), sorted by {sort}",
                         xaxis_title="position (bp)", yaxis={"autorange": "reversed", "type": "category"},
                         template="plotly_white")
    return figure


def token_window(n_tokens: int, first: int, span: int) -> slice:
    """Tokens ``first`` .. ``first + span`` (clipped into 0..n_tokens): the part of an attention map on screen."""
    span = max(1, min(span, n_tokens))
    first = max(0, min(first, n_tokens - span))
    return slice(first, first + span)


def map_colours(matrix: np.ndarray, scale: str) -> tuple[np.ndarray, str]:
    """Colour values of an attention map and their legend: "row" divides each query row by its maximum (the keys
    each token prefers stand out even where one [CLS]/[SEP] column takes most of the weight), "log" is log10 of the
    weight (floored at 1e-6), "linear" the weight itself."""
    if scale not in MAP_SCALES:
        raise DnabertError(f"unknown colour scale {scale!r}; choose one of {MAP_SCALES}")
    if scale == "row":
        peak = matrix.max(axis=1, keepdims=True)
        return matrix / np.where(peak > 0, peak, 1.0), "weight / row max"
    if scale == "log":
        return np.log10(np.maximum(matrix, 1e-6)), "log10 weight"
    return matrix, "weight"


def attention_map(matrix: np.ndarray, tokens: Sequence[str], layer: int, head: int, *, window: slice | None = None,
                  scale: str = "row") -> go.Figure:
    """Token x token attention of one head: ``matrix`` (n, n), rows queries, columns keys; ``layer``/``head``
    1-based for the title. ``window``: the tokens drawn (rows and columns; default all: at most ~64 keep every k-mer
    label readable); ``scale``: see ``map_colours``. Hover shows the raw weight."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (len(tokens), len(tokens)):
        raise DnabertError(f"attention map of shape {matrix.shape} does not match {len(tokens)} tokens")
    window = window or slice(0, len(tokens))
    shown = matrix[window, window]
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)][window]
    colours, legend = map_colours(shown, scale)
    figure = go.Figure(go.Heatmap(
        z=colours, x=labels, y=labels, customdata=shown, colorscale="Blues", colorbar={"title": legend},
        hovertemplate="query %{y}<br>key %{x}<br>weight %{customdata:.4g}<extra></extra>",
    ))
    ticks = {"tickmode": "array", "tickvals": labels, "ticktext": labels, "tickfont": {"family": "monospace",
                                                                                      "size": 9}}
    figure.update_layout(title=f"attention, layer {layer}, head {head}: tokens {window.start}-{window.stop - 1} of "
                               f"{len(tokens)} ({legend})",
                         xaxis={"title": "key token", "tickangle": -90, **ticks},
                         yaxis={"title": "query token", "autorange": "reversed", **ticks},
                         template="plotly_white", height=max(500, 14 * len(labels) + 200))
    return figure


def head_plot(rows: np.ndarray, title: str = "[CLS] attention of every head", *, start: int = 0) -> go.Figure:
    """Small multiples: one panel per (layer, head) with that head's ``[CLS]`` row over k-mer positions.
    ``rows``: (layers, heads, m) k-mer scores (special tokens removed); ``start``: 0-based base where the window
    begins, so the x axis reads 1-based positions of each k-mer's first base in the sequence."""
    rows = np.asarray(rows)
    if rows.ndim != 3:
        raise DnabertError(f"head plot needs rows of shape (layers, heads, positions), got {rows.shape}")
    n_layers, n_heads, m = rows.shape
    figure = make_subplots(rows=n_layers, cols=n_heads, shared_xaxes=True, shared_yaxes=True,
                           row_titles=[f"L{i + 1}" for i in range(n_layers)],
                           column_titles=[f"H{h + 1}" for h in range(n_heads)],
                           horizontal_spacing=0.01, vertical_spacing=0.01)
    x = np.arange(start + 1, start + m + 1)
    for layer in range(n_layers):
        for head in range(n_heads):
            figure.add_trace(go.Scatter(
                x=x, y=rows[layer, head], mode="lines", line={"width": 1, "color": "#3b4cc0"}, showlegend=False,
                hovertemplate=f"layer {layer + 1}, head {head + 1}<br>k-mer at %{{x}} bp<br>weight %{{y:.4g}}"
                              "<extra></extra>",
            ), row=layer + 1, col=head + 1)
    figure.update_xaxes(showticklabels=True, nticks=4, tickfont={"size": 8})
    for head in range(n_heads):
        figure.update_xaxes(title_text="position (bp)", title_font={"size": 9}, row=n_layers, col=head + 1)
    figure.update_yaxes(showticklabels=True, nticks=3, tickfont={"size": 8}, col=1)
    figure.update_yaxes(title_text="weight", title_font={"size": 9}, row=(n_layers + 1) // 2, col=1)
    figure.update_layout(title=title, template="plotly_white", height=max(320, 110 * n_layers + 80),
                         margin={"l": 60, "r": 40, "t": 80, "b": 50})
    return figure


def logo_matrix(landscape: Landscape) -> pd.DataFrame:
    """Rows = positions (1-based), columns A C G T: each base's score in its own column, zero elsewhere (bases other
    than ACGT contribute nothing)."""
    matrix = pd.DataFrame(0.0, index=pd.RangeIndex(1, len(landscape.sequence) + 1, name="position"),
                          columns=list("ACGT"))
    for column in matrix.columns:
        matrix[column] = np.where(np.array(list(landscape.sequence)) == column, landscape.scores, 0.0)
    return matrix


def logo_window(scores: np.ndarray, width: int = LOGO_WIDTH) -> tuple[int, int]:
    """0-based half-open base range of ``width`` bases centred on the largest score (NaN ignored; the start of the
    sequence when all are NaN), clipped into the sequence: the default region of an attribution logo."""
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    width = min(width, n)
    peak = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
    start = min(max(peak - width // 2, 0), n - width)
    return start, start + width


def attribution_logo(landscape: Landscape, start: int = 0, end: int | None = None) -> Figure:
    """Letters scaled by attribution (positive up, negative down) over bases ``start``..``end`` (0-based,
    half-open), drawn by logomaker."""
    matrix = logo_matrix(landscape).iloc[start:end]
    if matrix.empty:
        raise DnabertError(f"empty logo range {start}..{end} of a {len(landscape.sequence)} bp sequence")
    figure = Figure(figsize=(min(2 + 0.12 * len(matrix), 40), 2.5), layout="tight")  # no pyplot: nothing to close
    axis = figure.add_subplot()
    logomaker.Logo(matrix, ax=axis, color_scheme=BASE_COLOURS, flip_below=False)
    axis.axhline(0, color="black", linewidth=0.5)
    axis.set_xlabel("position (bp)")
    axis.set_ylabel("attribution")
    axis.set_title(f"{landscape.record_id}: {landscape.source}", fontsize=9)
    return figure


def _configure_kaleido() -> None:
    if "BROWSER_PATH" not in os.environ and Path(CHROMIUM).exists():
        os.environ["BROWSER_PATH"] = CHROMIUM


def figure_bytes(figure: go.Figure | Figure, fmt: str) -> bytes:
    """The figure as PNG, SVG or standalone HTML (plotly.js inlined; a matplotlib figure is embedded as SVG)."""
    if fmt not in FORMATS:
        raise DnabertError(f"unknown figure format {fmt!r}; choose one of {FORMATS}")
    if isinstance(figure, Figure):
        if fmt == "html":
            svg = figure_bytes(figure, "svg").decode("utf-8")
            return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{svg}</body></html>".encode()
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight")
        return buffer.getvalue()
    if fmt == "html":
        return figure.to_html(full_html=True, include_plotlyjs=True).encode("utf-8")
    _configure_kaleido()
    try:
        return figure.to_image(format=fmt, scale=2 if fmt == "png" else 1)
    except Exception as error:  # kaleido reports a missing browser in several exception types
        raise DnabertError(
            f"static {fmt.upper()} export needs Chrome or Chromium (set BROWSER_PATH, or install Debian's chromium); "
            f"HTML export works without it ({error})"
        ) from error


def save_figure(figure: go.Figure | Figure, path: str | Path) -> Path:
    """Write the figure in the format of ``path``'s suffix (.png, .svg, .html)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    path.write_bytes(figure_bytes(figure, fmt))
    return path


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> go.Figure:
    """Confusion matrix heatmap: rows true class, columns predicted class, counts written in the cells."""
    matrix = np.asarray(matrix)
    figure = go.Figure(go.Heatmap(z=matrix, x=list(labels), y=list(labels), colorscale="Blues", text=matrix,
                                  texttemplate="%{text}", hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra>"
                                  "</extra>"))
    figure.update_layout(title="Confusion matrix (held-out test)", xaxis_title="predicted", yaxis_title="true",
                         yaxis={"autorange": "reversed"}, template="plotly_white")
    return figure
