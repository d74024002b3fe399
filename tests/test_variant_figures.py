"""Variant, ISM and scan figures carry the values computed by hand from tiny tracks (read back from the figures)."""
from __future__ import annotations

import numpy as np
import pytest

from dnabert_core.errors import DnabertError
from dnabert_core.records import Landscape, Variant
from viz.ism import IsmResult, ism_importance
from viz.scan import Peak, ScanResult, base_means
from viz.variant_figures import allele_tracks, ism_heatmap, ism_logo, scan_track
from viz.variants import apply_edit

NAN = np.nan
REF = "ACGTAC"
REF_SCORES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def track(sequence: str, scores, record_id: str = "r") -> Landscape:
    return Landscape(record_id, sequence, np.asarray(scores, dtype=float), "test source")


def traces(figure) -> dict:
    return {trace.name: trace for trace in figure.data}


def values(trace) -> np.ndarray:
    return np.array(trace.y, dtype=float)


# variant, alt scores, then by hand: ref, alt and difference on the common axis, the edit's columns
CASES = {
    "substitution": (Variant("r", 2, 3, "T"), [10, 20, 30, 40, 50, 60],
                     [1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60], [9, 18, 27, 36, 45, 54], (2, 3)),
    "insertion at 0": (Variant("r", 0, 0, "GG"), [7, 8, 1, 2, 3, 4, 5, 6],
                       [NAN, NAN, 1, 2, 3, 4, 5, 6], [7, 8, 1, 2, 3, 4, 5, 6], [NAN, NAN, 0, 0, 0, 0, 0, 0], (0, 2)),
    "insertion at the end": (Variant("r", 6, 6, "T"), [1, 2, 3, 4, 5, 6, 9],
                             [1, 2, 3, 4, 5, 6, NAN], [1, 2, 3, 4, 5, 6, 9], [0, 0, 0, 0, 0, 0, NAN], (6, 7)),
    "deletion at 0": (Variant("r", 0, 1, ""), [12, 13, 14, 15, 16],
                      [1, 2, 3, 4, 5, 6], [NAN, 12, 13, 14, 15, 16], [NAN, 10, 10, 10, 10, 10], (0, 1)),
    "deletion at the end": (Variant("r", 4, 6, ""), [0, 0, 0, 0],
                            [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, NAN, NAN], [-1, -2, -3, -4, NAN, NAN], (4, 6)),
    "delins": (Variant("r", 1, 2, "TTT"), [1, 9, 9, 9, 3, 4, 5, 6],
               [1, 2, NAN, NAN, 3, 4, 5, 6], [1, 9, 9, 9, 3, 4, 5, 6], [0, 7, NAN, NAN, 0, 0, 0, 0], (1, 4)),
}


@pytest.mark.parametrize("case", CASES)
def test_allele_tracks_align_ref_and_alt_across_the_edit(case):
    variant, alt_scores, ref_expected, alt_expected, difference, (first, stop) = CASES[case]
    alt_sequence = apply_edit(REF, variant)
    figure = allele_tracks(track(REF, REF_SCORES), track(alt_sequence, alt_scores), variant)
    lines = traces(figure)
    np.testing.assert_array_equal(values(lines["ref landscape"]), ref_expected)
    np.testing.assert_array_equal(values(lines["alt landscape"]), alt_expected)
    np.testing.assert_array_equal(values(lines["landscape alt - ref"]), difference)
    assert list(lines["ref landscape"].x) == list(range(len(ref_expected)))
    assert lines["landscape alt - ref"].yaxis == "y2"  # its own row, below
    assert len(figure.layout.shapes) == 2  # the edit shaded in both rows
    for shape in figure.layout.shapes:
        assert (shape.x0, shape.x1, shape.layer) == (first - 0.5, stop - 0.5, "below")
    # the x axis is labelled with the ref's 1-based positions, at the ref's columns
    ref_columns = np.flatnonzero(~np.isnan(ref_expected))
    assert list(figure.layout.xaxis.tickvals) == ref_columns.tolist()
    assert list(figure.layout.xaxis.ticktext) == ["1", "2", "3", "4", "5", "6"]
    assert figure.layout.xaxis.matches == "x2" and figure.layout.xaxis2.matches is None  # x shared


def test_allele_tracks_hover_names_bases_and_positions_of_each_column():
    variant = Variant("r", 0, 0, "GG", id="ins<1>")
    figure = allele_tracks(track(REF, REF_SCORES), track("GG" + REF, np.zeros(8)), variant)
    hover = traces(figure)["ref landscape"].customdata
    assert list(hover[0]) == ["-", "G", "-", "1"]  # inserted: no ref base
    assert list(hover[2]) == ["A", "A", "1", "3"]
    assert list(hover[7]) == ["C", "C", "6", "8"]
    assert "customdata[2]" in traces(figure)["ref landscape"].hovertemplate
    assert figure.layout.title.text == "r: insertion 0^1 ->GG (ins&lt;1&gt;); test source"


def test_allele_tracks_with_attributions_has_four_rows():
    variant = Variant("r", 4, 6, "")
    figure = allele_tracks(track(REF, REF_SCORES), track("ACGT", [1, 1, 1, 1]), variant,
                           track(REF, [0.5] * 6), track("ACGT", [1.0, 0, 0, 0]))
    lines = traces(figure)
    np.testing.assert_array_equal(values(lines["ref attribution"]), [0.5] * 6)
    np.testing.assert_array_equal(values(lines["alt attribution"]), [1, 0, 0, 0, NAN, NAN])
    np.testing.assert_array_equal(values(lines["attribution alt - ref"]), [0.5, -0.5, -0.5, -0.5, NAN, NAN])
    assert lines["attribution alt - ref"].yaxis == "y4" and len(figure.layout.shapes) == 4
    figure.to_json()


def test_allele_tracks_escapes_ids_and_refuses_mismatches():
    variant = Variant("<b>r</b>", 2, 3, "T")
    ref = track(REF, REF_SCORES, "<b>r</b>")
    figure = allele_tracks(ref, track("ACTTAC", REF_SCORES, "<b>r</b>"), variant)
    assert figure.layout.title.text.startswith("&lt;b&gt;r&lt;/b&gt;: substitution 3-3 G>T")
    with pytest.raises(DnabertError, match="is not the ref sequence"):
        allele_tracks(ref, track("ACGTAC", REF_SCORES), variant)
    with pytest.raises(DnabertError, match="both ref and alt"):
        allele_tracks(ref, track("ACTTAC", REF_SCORES), variant, ref_attribution=ref)
    with pytest.raises(DnabertError, match="another sequence"):
        allele_tracks(ref, track("ACTTAC", REF_SCORES), variant, ref, track("ACTTAA", REF_SCORES))


def ism_result(record_id: str = "s1", sequence: str = "ACGTN") -> IsmResult:
    rng = np.random.default_rng(0)
    p_ref = 0.6
    p_alt = rng.uniform(size=(4, len(sequence)))
    for position, base in enumerate(sequence):
        if base in "ACGT":
            p_alt["ACGT".index(base), position] = p_ref
    return IsmResult(record_id, sequence, "promoter", p_ref, p_alt, p_alt - p_ref)


def test_ism_heatmap_values_marks_and_window():
    result = ism_result()
    figure = ism_heatmap(result)
    bars, heatmap, marks = figure.data
    np.testing.assert_array_equal(np.array(heatmap.z, dtype=float), result.effects)
    assert list(heatmap.y) == list("ACGT") and list(heatmap.x) == [1, 2, 3, 4, 5] and heatmap.zmid == 0
    np.testing.assert_allclose(values(bars), ism_importance(result))
    assert bars.xaxis == "x" and heatmap.xaxis == "x2" and figure.layout.xaxis.matches == "x2"
    assert list(marks.x) == [1, 2, 3, 4] and list(marks.y) == list("ACGT")  # the reference cells; N has none
    assert list(heatmap.customdata[2][1]) == ["C", result.p_alt[2, 1]]
    assert "p_alt %{customdata[1]" in heatmap.hovertemplate and "delta %{z" in heatmap.hovertemplate
    window = ism_heatmap(result, 1, 3)
    bars, heatmap, marks = window.data
    np.testing.assert_array_equal(np.array(heatmap.z, dtype=float), result.effects[:, 1:3])
    np.testing.assert_allclose(values(bars), ism_importance(result)[1:3])
    assert list(heatmap.x) == [2, 3] and list(marks.y) == ["C", "G"]
    assert window.layout.title.text.endswith("bases 2-3")
    with pytest.raises(DnabertError, match="window 3..3 is not within its 5 bases"):
        ism_heatmap(result, 3, 3)


def test_ism_title_escapes_the_record_id_and_logo_draws_importance():
    result = ism_result("<b>x</b>", "ACGT")
    assert ism_heatmap(result).layout.title.text.startswith("&lt;b&gt;x&lt;/b&gt;: in-silico mutagenesis")
    figure = ism_logo(result, 1, 3)
    axis = figure.axes[0]
    assert axis.get_ylabel() == "ISM importance" and axis.get_title().startswith("<b>x</b>: ISM importance")
    assert axis.get_xlim()[0] < 2 < 3 < axis.get_xlim()[1]  # the logo's positions are 1-based: bases 2 and 3


def scan_result(record_id: str = "r1", chrom: str = "chr1") -> ScanResult:
    starts = np.array([1000, 1002, 1004, 1008, 1010])
    return ScanResult(record_id, chrom, 1000, 1014, "promoter", starts, starts + 4,
                      np.array([0.2, 0.6, NAN, 0.9, 0.5]))


def test_scan_track_step_line_reproduces_base_means():
    result = scan_result()
    figure = scan_track(result, [Peak("chr1", 1008, 1012, 0.9)])
    windows, line = figure.data
    # windows 1000-1004 (0.2) and 1002-1006 (0.6); 1004-1008 unscored; 1008-1012 (0.9) and 1010-1014 (0.5)
    x, y = np.array(line.x, dtype=float), values(line)
    np.testing.assert_array_equal(x, [1000, 1002, 1002, 1004, 1004, 1006, 1006, 1008, 1010, 1010, 1012, 1012, 1014])
    np.testing.assert_allclose(y, [0.2, 0.2, 0.4, 0.4, 0.6, 0.6, NAN, 0.9, 0.9, 0.7, 0.7, 0.5, 0.5])
    starts, ends, means = base_means(result)
    drawn = ~np.isnan(y)
    np.testing.assert_array_equal(x[drawn][0::2], starts)
    np.testing.assert_array_equal(x[drawn][1::2], ends)
    np.testing.assert_allclose(y[drawn][0::2], means)
    assert line.customdata[0] == "1,001-1,002" and line.customdata[6] == ""
    np.testing.assert_array_equal(np.array(windows.x, dtype=float), [1002, 1004, 1006, 1010, 1012])
    np.testing.assert_array_equal(values(windows), result.probs)
    assert windows.customdata[0] == "1,001-1,004" and windows.marker.opacity < 1
    (shape,) = figure.layout.shapes
    assert (shape.x0, shape.x1) == (1008, 1012)
    assert tuple(figure.layout.yaxis.range) == (0, 1) and figure.layout.yaxis.title.text == "P(promoter)"
    assert figure.layout.xaxis.title.text == "chr1 position (bp)"
    assert figure.layout.title.text == "r1: P(promoter) of 5 windows, chr1:1,001-1,014, 1 peak"


def test_scan_track_escapes_names_and_refuses_peaks_elsewhere():
    result = scan_result("<b>seq</b>", "<b>seq</b>")
    figure = scan_track(result)
    assert figure.layout.title.text.startswith("&lt;b&gt;seq&lt;/b&gt;: P(promoter)")
    assert figure.layout.xaxis.title.text == "&lt;b&gt;seq&lt;/b&gt; position (bp)"
    with pytest.raises(DnabertError, match="a peak on 'chr2' cannot be drawn"):
        scan_track(result, [Peak("chr2", 1, 2, 0.9)])
