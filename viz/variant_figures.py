"""Figures of variants and regions (SPEC section 7): ref/alt tracks aligned across indels, ISM heatmap and logo, and
the probability track of a region scan.

Pure functions from results to plotly figures (the ISM logo: matplotlib via logomaker, as
``viz.figures.attribution_logo``); export them with ``viz.figures.figure_bytes``. Every record id, target and
chromosome name in a default title or label goes through ``_safe`` (plotly reads a subset of HTML in text); a
``title`` given by the caller is used as written, as in ``viz.figures``.
"""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dnabert_core.errors import DnabertError
from dnabert_core.records import Landscape, Variant
from viz.figures import _safe, attribution_logo
from viz.ism import BASES, IsmResult, ism_importance
from viz.scan import Peak, ScanResult, base_means
from viz.variants import CoordinateMap, apply_edit, coordinate_map

REF_COLOUR, ALT_COLOUR = "#3b4cc0", "#d62728"
EDIT_FILL = "#ffbf00"
GAP = "-"  # base and position shown in hover where a track has a gap
MAX_TICKS = 20  # about this many position labels on an axis


def _tick_step(n: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that puts at most ``MAX_TICKS`` labels on ``n`` positions."""
    step = 1
    while n / step > MAX_TICKS:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def _variant_label(ref: str, variant: Variant) -> str:
    """``"deletion 3-4 GT>- (rs1)"``: the kind, the 1-based ref span (an insertion's: the bases either side), the
    change and the id."""
    start, end = variant.start, variant.end
    span = f"{start + 1}-{end}" if end > start else f"{start}^{start + 1}"
    name = f" ({_safe(variant.id)})" if variant.id is not None else ""
    return f"{variant.kind} {span} {ref[start:end] or '-'}>{variant.allele or '-'}{name}"


def _column_hover(ref: str, alt: str, columns: CoordinateMap) -> np.ndarray:
    """(n_columns, 4) strings per column: ref base, alt base, ref position, alt position (1-based; ``GAP`` where
    that sequence has no base)."""
    cells = np.full((columns.n_columns, 4), GAP, dtype=object)
    cells[columns.ref_columns, 0] = list(ref)
    cells[columns.alt_columns, 1] = list(alt)
    cells[columns.ref_columns, 2] = [str(i + 1) for i in range(len(ref))]
    cells[columns.alt_columns, 3] = [str(i + 1) for i in range(len(alt))]
    return cells


def _check_track(track: Landscape, sequence: str, what: str) -> None:
    if track.sequence != sequence:
        raise DnabertError(f"the {what} of '{track.record_id}' is for another sequence than the {what.split()[0]} "
                           f"sequence ({len(track.sequence)} bp, expected {len(sequence)} bp)")


def allele_tracks(ref: Landscape, alt: Landscape, variant: Variant, ref_attribution: Landscape | None = None,
                  alt_attribution: Landscape | None = None, title: str | None = None) -> go.Figure:
    """Ref and alt landscapes (and attributions, when both are given) on one common axis, each with its difference
    (alt - ref) in a row below, the variant's columns shaded in every row.

    The common axis is ``viz.variants.coordinate_map``'s: x is the column index (0-based), labelled with the ref's
    1-based position where the ref has a base; a base missing from one sequence (inserted, deleted) is a break (NaN)
    in that sequence's line and in the difference. Hover: ref and alt base and 1-based position of the column.
    Rows: landscape, its difference, then attribution and its difference. ``alt`` must be ``ref`` with ``variant``
    applied.
    """
    if alt.sequence != apply_edit(ref.sequence, variant):
        raise DnabertError(f"the alt landscape of '{alt.record_id}' is not the ref sequence of '{ref.record_id}' "
                           f"with the {variant.kind} at {variant.start}-{variant.end} applied")
    if (ref_attribution is None) != (alt_attribution is None):
        raise DnabertError("give the attributions of both ref and alt, or of neither")
    columns = coordinate_map(len(ref.sequence), variant)
    hover = _column_hover(ref.sequence, alt.sequence, columns)
    where = "ref %{customdata[0]} at %{customdata[2]}, alt %{customdata[1]} at %{customdata[3]}"
    pairs = [("landscape", ref, alt)]
    if ref_attribution is not None:
        _check_track(ref_attribution, ref.sequence, "ref attribution")
        _check_track(alt_attribution, alt.sequence, "alt attribution")
        pairs.append(("attribution", ref_attribution, alt_attribution))
    x = np.arange(columns.n_columns)
    figure = make_subplots(rows=2 * len(pairs), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                           row_heights=[0.35, 0.15] * len(pairs))
    for index, (kind, ref_track, alt_track) in enumerate(pairs):
        ref_aligned, alt_aligned, difference = columns.align(ref_track.scores, alt_track.scores)
        row = 2 * index + 1
        for allele, values, colour in (("ref", ref_aligned, REF_COLOUR), ("alt", alt_aligned, ALT_COLOUR)):
            figure.add_trace(go.Scatter(
                x=x, y=values, mode="lines+markers", name=f"{allele} {kind}", customdata=hover,
                line={"color": colour}, marker={"size": 3}, connectgaps=False, legendgroup=kind,
                hovertemplate=f"{where}<br>{allele} {kind} %{{y:.4g}}<extra></extra>"), row=row, col=1)
        figure.add_trace(go.Bar(
            x=x, y=difference, name=f"{kind} alt - ref", customdata=hover, legendgroup=kind,
            marker={"color": np.where(np.nan_to_num(difference) >= 0, ALT_COLOUR, REF_COLOUR)},
            hovertemplate=f"{where}<br>{kind} alt - ref %{{y:.4g}}<extra></extra>"), row=row + 1, col=1)
        figure.update_yaxes(title_text=kind, row=row, col=1)
        figure.update_yaxes(title_text="alt - ref", zeroline=True, row=row + 1, col=1)
    first, stop = columns.edit_columns
    figure.add_vrect(x0=first - 0.5, x1=stop - 0.5, fillcolor=EDIT_FILL, opacity=0.3, line_width=0, layer="below",
                     row="all", col=1)
    n_ref = len(ref.sequence)
    shown = np.union1d([0], np.arange(_tick_step(n_ref) - 1, n_ref, _tick_step(n_ref)))  # ref bases labelled
    ticks, labels = columns.ref_columns[shown], [str(i + 1) for i in shown.tolist()]
    figure.update_xaxes(tickmode="array", tickvals=ticks.tolist(), ticktext=labels)
    figure.update_xaxes(title_text="ref position (bp)", row=2 * len(pairs), col=1)
    figure.update_layout(
        title=title or f"{_safe(ref.record_id)}: {_variant_label(ref.sequence, variant)}; {_safe(ref.source)}",
        hovermode="x unified", template="plotly_white", legend={"orientation": "h"}, bargap=0,
        height=250 + 170 * len(pairs))
    return figure


def _ism_window(result: IsmResult, start: int, end: int | None) -> tuple[int, int]:
    n = len(result.sequence)
    end = n if end is None else end
    if not 0 <= start < end <= n:
        raise DnabertError(f"record '{result.record_id}': window {start}..{end} is not within its {n} bases "
                           f"(0-based, half-open, not empty)")
    return start, end


def ism_heatmap(result: IsmResult, start: int = 0, end: int | None = None) -> go.Figure:
    """The 4 x L effects of saturation mutagenesis (rows A C G T; p_alt - p_ref on a diverging scale centred at 0,
    the reference base of each position marked) under a bar track of the reference's ISM importance
    (``viz.ism.ism_importance``), both over bases ``start``..``end`` (0-based, half-open; default all).
    Hover: 1-based position, ref and alt base, p_alt and delta."""
    start, end = _ism_window(result, start, end)
    positions = np.arange(start + 1, end + 1)
    bases = np.array(list(result.sequence[start:end]), dtype=object)
    importance = ism_importance(result)[start:end]
    effects = np.asarray(result.effects, dtype=float)[:, start:end]
    p_alt = np.asarray(result.p_alt, dtype=float)[:, start:end]
    cells = np.empty((len(BASES), end - start, 2), dtype=object)
    cells[:, :, 0] = bases[None, :]
    cells[:, :, 1] = p_alt
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.3, 0.7])
    figure.add_trace(go.Bar(
        x=positions, y=importance, name="importance", customdata=bases, showlegend=False,
        marker={"color": np.where(np.nan_to_num(importance) >= 0, ALT_COLOUR, REF_COLOUR)},
        hovertemplate="position %{x}<br>ref %{customdata}<br>importance %{y:.4g}<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=effects, x=positions, y=list(BASES), customdata=cells, colorscale="RdBu_r", zmid=0,
        colorbar={"title": "p_alt - p_ref", "len": 0.7, "y": 0.35},
        hovertemplate="position %{x}<br>ref %{customdata[0]}<br>alt %{y}<br>p_alt %{customdata[1]:.4g}<br>"
                      "delta %{z:.4g}<extra></extra>"), row=2, col=1)
    known = np.isin(bases, list(BASES))
    figure.add_trace(go.Scatter(
        x=positions[known], y=bases[known], mode="markers", name="reference base", hoverinfo="skip",
        marker={"symbol": "circle", "size": 5, "color": "black"}, showlegend=False), row=2, col=1)
    figure.update_yaxes(title_text="importance", row=1, col=1)
    figure.update_yaxes(title_text="alt base", type="category", categoryorder="array", categoryarray=list(BASES),
                        autorange="reversed", row=2, col=1)
    figure.update_xaxes(title_text="position (bp)", row=2, col=1)
    figure.update_layout(
        title=f"{_safe(result.record_id)}: in-silico mutagenesis toward {_safe(result.target)} "
              f"(p_ref = {result.p_ref:.3g}), bases {start + 1}-{end}",
        template="plotly_white", bargap=0, height=420)
    return figure


def ism_logo(result: IsmResult, start: int = 0, end: int | None = None) -> Figure:
    """The reference's letters scaled by ISM importance (positive up, negative down) over bases ``start``..``end``
    (0-based, half-open): ``viz.figures.attribution_logo`` of the importance track, relabelled."""
    start, end = _ism_window(result, start, end)
    track = Landscape(result.record_id, result.sequence, ism_importance(result),
                      f"ISM importance toward {result.target} (p_ref - mean p_alt)")
    figure = attribution_logo(track, start, end)
    figure.axes[0].set_ylabel("ISM importance")
    return figure


def scan_track(result: ScanResult, peaks: Sequence[Peak] = (), title: str | None = None) -> go.Figure:
    """P(target) along a scanned region: the per-base mean over the covering windows (``viz.scan.base_means``) as a
    step line over chromosome coordinates (interval edges, 0-based: base p, 1-based, spans p - 1..p; uncovered bases
    are a break), each window's P as a faint marker at its centre, and ``peaks`` shaded. Hover gives 1-based spans."""
    for peak in peaks:
        if peak.chrom != result.chrom:
            raise DnabertError(f"a peak on {peak.chrom!r} cannot be drawn on a scan of {result.chrom!r}")
    starts, ends, values = base_means(result)
    x = np.column_stack([starts, ends]).ravel().astype(float)
    y = np.repeat(values, 2)
    spans = np.repeat([f"{s + 1:,}-{e:,}" for s, e in zip(starts.tolist(), ends.tolist())], 2).astype(object)
    gaps = np.flatnonzero(starts[1:] != ends[:-1])  # a break after these runs
    x = np.insert(x, 2 * (gaps + 1), ends[gaps])
    y = np.insert(y, 2 * (gaps + 1), np.nan)
    spans = np.insert(spans, 2 * (gaps + 1), "")
    target = _safe(result.target)
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=result.window_starts / 2 + result.window_ends / 2, y=result.probs, mode="markers", name="window",
        customdata=[f"{s + 1:,}-{e:,}" for s, e in zip(result.window_starts.tolist(), result.window_ends.tolist())],
        marker={"size": 4, "color": REF_COLOUR, "opacity": 0.3},
        hovertemplate=f"window %{{customdata}}<br>P({target}) %{{y:.3f}}<extra></extra>"))
    figure.add_trace(go.Scatter(
        x=x, y=y, mode="lines", name="per-base mean", customdata=spans, connectgaps=False,
        line={"color": REF_COLOUR, "width": 1.5},
        hovertemplate=f"bases %{{customdata}}<br>mean P({target}) %{{y:.3f}}<extra></extra>"))
    for peak in peaks:
        figure.add_vrect(x0=peak.start, x1=peak.end, fillcolor=EDIT_FILL, opacity=0.3, line_width=0, layer="below")
    chrom = _safe(result.chrom)
    counted = f"{len(peaks)} peak{'' if len(peaks) == 1 else 's'}"
    figure.update_layout(
        title=title or f"{_safe(result.record_id)}: P({target}) of {len(result.probs)} windows, "
                       f"{chrom}:{result.start + 1:,}-{result.end:,}, {counted}",
        xaxis={"title": f"{chrom} position (bp)", "range": [result.start, result.end]},
        yaxis={"title": f"P({target})", "range": [0, 1]}, template="plotly_white", legend={"orientation": "h"})
    return figure
