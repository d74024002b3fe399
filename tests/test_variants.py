"""Edits, ref/alt coordinate maps, scores and the original's mutation file (viz.variants), checked by hand."""
from __future__ import annotations

import numpy as np
import pytest

from dnabert_core.errors import InputError
from dnabert_core.io import read_records
from dnabert_core.records import SequenceRecord, Variant
from dnabert_core.tokenizer import kmers_to_sequence
from tests.conftest import SHARED_DATA
from viz.variants import (
    P_CLIP,
    align_tracks,
    apply_edit,
    coordinate_map,
    delta_p,
    log2_odds_ratio,
    parse_mutations,
    read_mutations,
    score_change,
)

SNP = SHARED_DATA / "dnabert-samples" / "SNP"
PROM_CORE = SHARED_DATA / "dnabert-samples" / "ft" / "prom-core" / "6" / "dev.tsv"
NAN = np.nan
REF = "ACGTA"


# ---- edits -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "allele", "kind", "alt"),
    [
        (1, 2, "T", "substitution", "ATGTA"),
        (1, 3, "tt", "substitution", "ATTTA"),
        (0, 0, "GG", "insertion", "GGACGTA"),
        (5, 5, "T", "insertion", "ACGTAT"),
        (0, 2, "", "deletion", "GTA"),
        (3, 5, "", "deletion", "ACG"),
        (1, 3, "T", "delins", "ATTA"),
        (1, 2, "GGG", "delins", "AGGGGTA"),
    ],
)
def test_edit_kinds_and_apply_edit(start, end, allele, kind, alt):
    variant = Variant("s", start, end, allele)
    assert variant.kind == kind
    assert variant.allele == allele.upper()
    assert apply_edit(REF, variant) == alt
    assert variant.length_change == len(alt) - len(REF)


@pytest.mark.parametrize(
    ("start", "end", "allele", "reason"),
    [
        (1, 2, "N", "holds 'N'"),
        (1, 2, "AR", "holds 'R'"),
        (1, 2, "A-", "holds '-'"),
        (-1, 2, "A", "invalid span start -1"),
        (3, 2, "A", "invalid span start 3, end 2"),
        (2, 2, "", "empty edit"),
    ],
)
def test_bad_edits_are_refused(start, end, allele, reason):
    with pytest.raises(InputError, match=reason) as caught:
        Variant("seq3", start, end, allele, id="rs1")
    assert caught.value.record_id == "seq3"
    assert "variant 'rs1'" in caught.value.reason


def test_apply_edit_checks_the_span_and_the_expected_ref():
    with pytest.raises(InputError, match="span 4-6 runs past the end of the sequence \\(5 bases\\)"):
        apply_edit(REF, Variant("s", 4, 6, "A"))
    assert apply_edit(REF, Variant("s", 1, 3, "T", ref="cg")) == "ATTA"  # case-insensitive
    with pytest.raises(InputError, match="expected 'GG' at 1-3, but the sequence has 'CG'"):
        apply_edit(REF, Variant("s", 1, 3, "T", ref="GG"))


# ---- coordinate maps ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "allele", "ref_to_alt", "alt_to_ref", "ref_columns", "alt_columns", "edit_columns"),
    [
        # ACGTA -> ATGTA
        (1, 2, "T", [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], (1, 2)),
        # ACGTA -> GGACGTA: insertion at the very start
        (0, 0, "GG", [2, 3, 4, 5, 6], [-1, -1, 0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6], (0, 2)),
        # ACGTA -> ACGTAT: insertion at the very end
        (5, 5, "T", [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, -1], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5], (5, 6)),
        # ACGTA -> GTA: deletion of the first two bases
        (0, 2, "", [-1, -1, 0, 1, 2], [2, 3, 4], [0, 1, 2, 3, 4], [2, 3, 4], (0, 2)),
        # ACGTA -> ACG: deletion of the last two bases
        (3, 5, "", [0, 1, 2, -1, -1], [0, 1, 2], [0, 1, 2, 3, 4], [0, 1, 2], (3, 5)),
        # ACGTA -> ATTA: CG -> T, the C pairs with the T, the G is a gap in alt
        (1, 3, "T", [0, 1, -1, 2, 3], [0, 1, 3, 4], [0, 1, 2, 3, 4], [0, 1, 3, 4], (1, 3)),
        # ACGTA -> AGGGGTA: C -> GGG, the C pairs with the first G, two columns are gaps in ref
        (1, 2, "GGG", [0, 1, 4, 5, 6], [0, 1, -1, -1, 2, 3, 4], [0, 1, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6], (1, 4)),
    ],
)
def test_coordinate_maps_by_hand(start, end, allele, ref_to_alt, alt_to_ref, ref_columns, alt_columns,
                                 edit_columns):
    mapping = coordinate_map(5, Variant("s", start, end, allele))
    assert mapping.ref_to_alt.tolist() == ref_to_alt
    assert mapping.alt_to_ref.tolist() == alt_to_ref
    assert mapping.ref_columns.tolist() == ref_columns
    assert mapping.alt_columns.tolist() == alt_columns
    assert mapping.edit_columns == edit_columns
    assert mapping.n_alt == len(alt_to_ref)
    assert mapping.n_columns == max(ref_columns[-1], alt_columns[-1]) + 1


def test_maps_agree_with_the_bases():
    """Every base that maps is the same base in ref and alt, outside the edited span."""
    variant = Variant("s", 2, 4, "TTT")
    alt = apply_edit("ACGTACGT", variant)
    mapping = coordinate_map(8, variant)
    for i, j in enumerate(mapping.ref_to_alt):
        if j >= 0 and not 2 <= i < 4:
            assert "ACGTACGT"[i] == alt[j]


@pytest.mark.parametrize(
    ("variant", "alt_track", "ref_aligned", "alt_aligned", "difference"),
    [
        (Variant("s", 0, 0, "GG"), [10, 20, 30, 40, 50, 60, 70], [NAN, NAN, 1, 2, 3, 4, 5],
         [10, 20, 30, 40, 50, 60, 70], [NAN, NAN, 29, 38, 47, 56, 65]),
        (Variant("s", 5, 5, "T"), [10, 20, 30, 40, 50, 60], [1, 2, 3, 4, 5, NAN], [10, 20, 30, 40, 50, 60],
         [9, 18, 27, 36, 45, NAN]),
        (Variant("s", 0, 2, ""), [30, 40, 50], [1, 2, 3, 4, 5], [NAN, NAN, 30, 40, 50], [NAN, NAN, 27, 36, 45]),
        (Variant("s", 3, 5, ""), [10, 20, 30], [1, 2, 3, 4, 5], [10, 20, 30, NAN, NAN], [9, 18, 27, NAN, NAN]),
        (Variant("s", 2, 3, "A"), [1, 2, 0, 4, 5], [1, 2, 3, 4, 5], [1, 2, 0, 4, 5], [0, 0, -3, 0, 0]),
    ],
)
def test_align_tracks_by_hand(variant, alt_track, ref_aligned, alt_aligned, difference):
    got = align_tracks(np.array([1, 2, 3, 4, 5]), np.array(alt_track), variant)
    for array, expected in zip(got, (ref_aligned, alt_aligned, difference)):
        np.testing.assert_array_equal(array, np.array(expected, dtype=float))


def test_align_keeps_trailing_axes_and_checks_lengths():
    variant = Variant("s", 1, 1, "A")
    ref = np.arange(6.0).reshape(3, 2)
    alt = np.arange(8.0).reshape(4, 2) * 10
    ref_aligned, alt_aligned, difference = align_tracks(ref, alt, variant)
    np.testing.assert_array_equal(ref_aligned, [[0, 1], [NAN, NAN], [2, 3], [4, 5]])
    np.testing.assert_array_equal(difference, [[0, 9], [NAN, NAN], [38, 47], [56, 65]])
    with pytest.raises(InputError, match="alt track has 3 values, but the alt sequence has 4 bases"):
        align_tracks(ref, alt[:3], variant)
    with pytest.raises(InputError, match="runs past the end"):
        coordinate_map(3, Variant("s", 2, 4, ""))


# ---- scores ------------------------------------------------------------------------------------------------------


def test_scores_by_hand():
    p_ref = np.array([0.2, 0.9, 0.5])
    p_alt = np.array([0.8, 0.1, 0.5])
    np.testing.assert_allclose(delta_p(p_ref, p_alt), [0.6, -0.8, 0.0])
    np.testing.assert_allclose(score_change(p_ref, p_alt), [0.6 * 0.8, -0.8 * 0.9, 0.0], atol=1e-12)
    # log2(0.25) - log2(4) = -4; log2(9) - log2(1/9) = 2 log2 9; equal p: 0
    np.testing.assert_allclose(log2_odds_ratio(p_ref, p_alt), [-4.0, 6.339850002884624, 0.0], atol=1e-12)


def test_scores_at_zero_and_one_are_finite():
    assert P_CLIP == 1e-6
    assert float(delta_p(0.0, 1.0)) == 1.0  # delta p is not clipped
    # clipped: (0.999999 - 0.000001) * 0.999999
    assert float(score_change(0.0, 1.0)) == pytest.approx(0.999997000002, rel=1e-12)
    # log2(1e-6 / 0.999999) - log2(0.999999 / 1e-6) = 2 * (-19.93156712...)
    assert float(log2_odds_ratio(0.0, 1.0)) == pytest.approx(-39.863134253, rel=1e-9)
    assert float(log2_odds_ratio(1.0, 0.0)) == pytest.approx(39.863134253, rel=1e-9)
    assert float(log2_odds_ratio(1.0, 1.0)) == 0.0
    assert float(score_change(1.0, 0.0)) == pytest.approx(-0.999997000002, rel=1e-12)


def test_scores_broadcast_over_classes_and_keep_nan():
    p_ref = np.array([[0.2, 0.8], [NAN, NAN]])
    p_alt = np.array([[0.8, 0.2], [0.5, 0.5]])
    assert log2_odds_ratio(p_ref, p_alt).shape == (2, 2)
    np.testing.assert_allclose(log2_odds_ratio(p_ref, p_alt)[0], [-4.0, 4.0])
    assert np.isnan(score_change(p_ref, p_alt)[1]).all()
    assert np.isnan(delta_p(p_ref, p_alt)[1]).all()


# ---- the original's mutation file ---------------------------------------------------------------------------------

RECORDS = [SequenceRecord("first", "ACGTACGTAC"), SequenceRecord("second", "TTTTT")]


def test_mutation_lines_good_and_bad():
    text = "\n".join([
        "0\t3\t4\tg",         # 1: substitution, upper-cased
        "1\t0\t0\tA",         # 2: insertion at the start
        "1\t4\t5\t",          # 3: deletion of the last base (empty allele)
        "0\t1\t2",            # 4: a deletion whose trailing tab was lost
        "0\t1\t2\tA\tx",      # 5: five fields
        "0\tone\t2\tA",       # 6: not an integer
        "2\t1\t2\tA",         # 7: unknown index
        "1\t4\t6\tA",         # 8: past the sequence
        "0\t1\t2\tN",         # 9: N allele
        "",                   # 10: blank, skipped
        "1 5 5 C",            # 11: space-separated insertion at the end
    ])
    variants, errors = parse_mutations(text, RECORDS, name="mut.txt")
    assert [(v.record_id, v.start, v.end, v.allele, v.kind, v.id) for v in variants] == [
        ("first", 3, 4, "G", "substitution", "0"),
        ("second", 0, 0, "A", "insertion", "1"),
        ("second", 4, 5, "", "deletion", "1"),
        ("first", 1, 2, "", "deletion", "0"),
        ("second", 5, 5, "C", "insertion", "1"),
    ]
    assert variants[0].source == "mut.txt line 1"
    assert [err.line for err in errors] == [5, 6, 7, 8, 9]
    assert all(err.source == "mut.txt" for err in errors)
    reasons = [err.reason for err in errors]
    assert "expected 4 tab-separated fields 'index start end allele', got 5" in reasons[0]
    assert reasons[1] == "start 'one' is not an integer"
    assert reasons[2] == "index 2 matches no sequence (the sequence file has 2 records, indices 0 to 1)"
    assert "span 4-6 runs past the end of the sequence (5 bases)" in reasons[3]
    assert errors[3].record_id == "second"
    assert "holds 'N'" in reasons[4]
    assert [apply_edit(RECORDS[1].sequence, v) for v in variants[1:3]] == ["ATTTTT", "TTTT"]


def test_mutations_keyed_by_a_mapping_and_read_from_a_file(tmp_path):
    path = tmp_path / "mut.txt"
    path.write_text("7\t0\t1\tC\r\n9\t0\t1\tC\r\n")
    variants, errors = read_mutations(path, {7: RECORDS[1]})
    assert [(v.record_id, v.allele, v.source) for v in variants] == [("second", "C", "mut.txt line 1")]
    assert errors[0].line == 2 and "index 9 matches no sequence" in errors[0].reason
    assert parse_mutations("", RECORDS)[1][0].reason == "no mutations: the file is empty"


@pytest.mark.skipif(not SNP.is_dir(), reason="../shared/data/dnabert-samples is not available")
def test_dnabert_snp_example():
    """The original's example: example_mut_file.txt indexes rows of prom-core/6/dev.tsv (``dev.iloc[index]``), and
    SNP/examples/dev.tsv holds what its mutate_seqs.py made of them (k-merized, with the index). Its last row
    (a deletion) shows the original's bug: the empty allele was written as the text 'nan'."""
    parsed = read_records(PROM_CORE)
    assert not parsed.errors and len(parsed.records) == 5919
    variants, errors = read_mutations(SNP / "example_mut_file.txt", parsed.records)
    assert not errors
    assert [(v.id, v.kind) for v in variants] == [("0", "substitution"), ("23", "substitution"),
                                                  ("104", "substitution"), ("125", "substitution"),
                                                  ("240", "insertion"), ("325", "deletion")]
    mutated = {}
    for line in (SNP / "examples" / "dev.tsv").read_text().splitlines():
        kmers, index = line.split("\t")
        mutated[index] = kmers_to_sequence(kmers.split()).replace("nan", "")
    for variant in variants:
        record = parsed.records[int(variant.id)]
        assert record.id == variant.record_id
        assert apply_edit(record.sequence, variant) == mutated[variant.id]


@pytest.mark.parametrize("ref, alt, expected", [
    ("ACGTACGT", "ACGAACGT", (3, 4, "A", "substitution")),
    ("ACGTACGT", "ACGTTACGT", (4, 4, "T", "insertion")),
    ("ACGTACGT", "ACGCGT", (3, 5, "", "deletion")),
    ("ACGT", "TTACGT", (0, 0, "TT", "insertion")),
    ("ACGT", "ACGTGG", (4, 4, "GG", "insertion")),
    ("ACGTAC", "ACTTTC", (2, 5, "TTT", "substitution")),  # GTA -> TTT between AC and C
])
def test_edit_between_two_sequences(ref, alt, expected):
    from viz.variants import edit_between

    variant = edit_between(ref, alt)
    assert (variant.start, variant.end, variant.allele, variant.kind) == expected
    assert apply_edit(ref, variant) == alt


def test_edit_between_equal_sequences_is_refused():
    from viz.variants import edit_between

    with pytest.raises(InputError, match="the same"):
        edit_between("ACGT", "ACGT")
