"""Motif logos: letter heights, axes, the alignment over a known motif, exports."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from dnabert_core.errors import DnabertError
from viz.figures import figure_bytes
from viz.known_motifs import MotifMatch, counts_to_pfm, reverse_complement
from viz.logos import aligned_logos, aligned_positions, logo_values, motif_logo

# 4 positions x A C G T counts of 100 sites: pure A, pure T, half A / half G, uniform
PFM = pd.DataFrame([[100, 0, 0, 0], [0, 0, 0, 100], [50, 0, 50, 0], [25, 25, 25, 25]], columns=list("ACGT"),
                   dtype=float).rename_axis("position")


def match(offset: int, strand: str) -> MotifMatch:
    return MotifMatch("MA0000.1", "TEST", p=1e-8, e_value=1e-5, q_value=1e-5, offset=offset, overlap=4,
                      strand=strand, release="test")


def stack_tops(axis) -> dict[int, float]:
    """Height of each column's letter stack, keyed by its x position, from the glyph patches' data extents."""
    tops: dict[int, float] = {}
    for patch in axis.patches:
        box = patch.get_path().get_extents()
        x = int(round((box.x0 + box.x1) / 2))
        tops[x] = max(tops.get(x, 0.0), box.y1)
    return tops


def test_information_of_pure_half_and_uniform_columns():
    bits = logo_values(PFM, "information", pseudocount=0).sum(axis=1)
    np.testing.assert_allclose(bits, [2.0, 2.0, 1.0, 0.0], atol=1e-6)
    with_pseudocount = logo_values(PFM, "information").sum(axis=1)  # 0.25 per base: (100.25 / 101) for the pure A
    assert 1.9 < with_pseudocount[1] < 2.0
    assert list(logo_values(PFM, "counts").index) == [1, 2, 3, 4]
    np.testing.assert_allclose(logo_values(PFM, "probability", pseudocount=0).loc[3], [0.5, 0, 0.5, 0])


@pytest.mark.parametrize("kind, label, top", [("information", "bits", 2.0), ("probability", "probability", 1.0),
                                              ("counts", "count", 100.0)])
def test_kinds_set_their_axis(kind, label, top):
    figure = motif_logo(PFM, kind, title="m1")
    assert isinstance(figure, Figure)
    (axis,) = figure.axes
    assert axis.get_ylabel() == label and axis.get_ylim() == (0.0, top) and axis.get_title() == "m1"
    heights = logo_values(PFM, kind).sum(axis=1)  # the drawn stacks are the values' column totals
    tops = stack_tops(axis)  # logomaker draws no glyph of zero height: the uniform column in bits
    assert [tops.get(x, 0.0) for x in (1, 2, 3, 4)] == pytest.approx(list(heights), abs=1e-6)


def test_unknown_kind_is_refused_naming_the_kinds():
    with pytest.raises(DnabertError, match="'bits'.*information.*probability.*counts"):
        motif_logo(PFM, "bits")


def test_aligned_positions_by_hand():
    # offset 3: query column 0 sits over target column 3, so the target's column 0 is drawn 3 left of the query's
    query_x, target_x = aligned_positions(4, 9, 3)
    assert list(query_x) == [1, 2, 3, 4] and list(target_x) == [-2, -1, 0, 1, 2, 3, 4, 5, 6]
    query_x, target_x = aligned_positions(6, 3, -2)
    assert list(target_x) == [3, 4, 5]


def test_aligned_logo_puts_aligned_columns_above_each_other():
    rng = np.random.default_rng(0)
    target = counts_to_pfm(rng.integers(0, 30, size=(4, 9)).astype(float))
    query = target.iloc[3:7].reset_index(drop=True)
    figure = aligned_logos(query, match(3, "+"), target, title="m1")
    top, bottom = figure.axes
    assert top.get_xlim() == bottom.get_xlim() == (-2.5, 6.5)
    query_tops, target_tops = stack_tops(top), stack_tops(bottom)
    assert sorted(query_tops) == [1, 2, 3, 4] and sorted(target_tops) == list(range(-2, 7))
    for x in query_tops:
        assert query_tops[x] == pytest.approx(target_tops[x])
    assert bottom.get_ylabel() == "bits" and "MA0000.1 TEST" in bottom.get_title()


def test_minus_strand_match_is_drawn_reverse_complemented():
    rng = np.random.default_rng(1)
    target = counts_to_pfm(rng.integers(0, 30, size=(4, 8)).astype(float))
    query = reverse_complement(target).iloc[2:6].reset_index(drop=True)
    figure = aligned_logos(query, match(2, "-"), target)
    top, bottom = figure.axes
    query_tops, target_tops = stack_tops(top), stack_tops(bottom)
    assert sorted(target_tops) == list(range(-1, 7))
    for x in query_tops:
        assert query_tops[x] == pytest.approx(target_tops[x])
    assert "reverse complement" in bottom.get_title()


def test_png_and_svg_bytes():
    figure = motif_logo(PFM)
    assert figure_bytes(figure, "png").startswith(b"\x89PNG")
    assert b"<svg" in figure_bytes(figure, "svg")
