"""Sequence logos of motifs (logomaker), alone or aligned over their best known-motif match.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot, so nothing is registered in pyplot's global
state: they need no ``plt.close`` and are freed with their last reference. Export them with
``viz.figures.figure_bytes`` or ``save_figure``. Columns are drawn at 1-based positions.
"""
from __future__ import annotations

import logomaker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnabert_core.errors import DnabertError
from viz.figures import BASE_COLOURS
from viz.known_motifs import BASES, PSEUDOCOUNT, MotifMatch, check_pfm, pfm_to_ppm, reverse_complement

KINDS = ("information", "probability", "counts")
Y_LABELS = {"information": "bits", "probability": "probability", "counts": "count"}


def logo_values(pfm: pd.DataFrame, kind: str = "information", pseudocount: float = PSEUDOCOUNT) -> pd.DataFrame:
    """Letter heights of a PFM: "counts" as given, "probability" (counts + pseudocount per base, normalised, as
    ``viz.known_motifs.pfm_to_ppm``), or "information": probability x the column's information content in bits
    against a uniform background (logomaker's ``transform_matrix``; 2 bits for a pure column without pseudocount).

    Returns
    -------
    (w rows, columns A C G T), index 1..w.
    """
    if kind not in KINDS:
        raise DnabertError(f"unknown logo kind {kind!r}; choose one of {KINDS}")
    index = pd.RangeIndex(1, len(pfm) + 1, name="position")
    if kind == "counts":
        return pd.DataFrame(check_pfm(pfm), index=index, columns=list(BASES))
    probabilities = pd.DataFrame(pfm_to_ppm(pfm, pseudocount).T, index=index, columns=list(BASES))
    if kind == "probability":
        return probabilities
    return logomaker.transform_matrix(probabilities, from_type="probability", to_type="information")


def _draw(axis: Axes, values: pd.DataFrame, kind: str, title: str | None) -> None:
    logomaker.Logo(values, ax=axis, color_scheme=BASE_COLOURS)
    top = {"information": 2.0, "probability": 1.0}.get(kind, max(float(values.sum(axis=1).max()), 1.0))
    axis.set_ylim(0, top)
    axis.set_ylabel(Y_LABELS[kind])
    if title is not None:
        axis.set_title(title, fontsize=9)


def _figure(width: int, rows: int) -> Figure:
    return Figure(figsize=(min(2.0 + 0.4 * width, 40.0), 2.2 * rows), layout="constrained")


def motif_logo(pfm: pd.DataFrame, kind: str = "information", title: str | None = None,
               pseudocount: float = PSEUDOCOUNT) -> Figure:
    """One motif's logo: ``kind`` "information" (bits, y 0..2), "probability" (y 0..1) or "counts" (y 0..sites).

    ``pfm``: counts DataFrame (w rows, columns A C G T); ``pseudocount``: see ``logo_values``."""
    values = logo_values(pfm, kind, pseudocount)
    figure = _figure(len(values), 1)
    axis = figure.add_subplot()
    _draw(axis, values, kind, title)
    axis.set_xlabel("position")
    return figure


def aligned_positions(query_width: int, target_width: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """x positions of the query's and the target's columns in an aligned logo: query column i (0-based) at i + 1,
    target column j at j - offset + 1, so the aligned columns (j = i + offset, ``MotifMatch.offset``) share an x.

    Returns
    -------
    (query_width,) and (target_width,) integer positions.
    """
    return np.arange(1, query_width + 1), np.arange(target_width) - offset + 1


def aligned_logos(pfm: pd.DataFrame, match: MotifMatch, target_pfm: pd.DataFrame, title: str | None = None) -> Figure:
    """The motif's information logo above its match's (``target_pfm``, counts, as ``jaspar_matrix`` gives it),
    reverse-complemented when the match is on the "-" strand and shifted by the match's offset so that aligned
    columns sit one above the other on a shared x-axis."""
    target = reverse_complement(target_pfm) if match.strand == "-" else target_pfm
    query_x, target_x = aligned_positions(len(pfm), len(target), match.offset)
    query_values = logo_values(pfm).set_axis(query_x, axis=0)
    target_values = logo_values(target).set_axis(target_x, axis=0)
    figure = _figure(int(max(query_x[-1], target_x[-1]) - min(query_x[0], target_x[0]) + 1), 2)
    top, bottom = figure.subplots(2, 1, sharex=True)
    _draw(top, query_values, "information", title or "motif")
    strand = " (reverse complement)" if match.strand == "-" else ""
    _draw(bottom, target_values, "information",
          f"{match.target_id} {match.target_name}{strand}: p = {match.p:.2g}, q = {match.q_value:.2g}")
    bottom.set_xlim(min(query_x[0], target_x[0]) - 0.5, max(query_x[-1], target_x[-1]) + 0.5)
    bottom.set_xlabel("position in the motif")
    return figure
