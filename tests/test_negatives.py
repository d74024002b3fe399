"""Negative generators: what each keeps of the positive, checked by counting, and determinism with a seed."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnabert_core.errors import OptionError
from dnabert_core.negatives import (
    KINDS,
    dinucleotide_shuffle,
    gc_fraction,
    genomic_windows,
    make_negatives,
    piece_bounds,
    piece_shuffle,
    random_substitution,
)
from dnabert_core.tokenizer import reverse_complement
from tests.conftest import random_dna


def dinucleotides(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def pieces(seq: str, n_pieces: int = 20) -> list[str]:
    bounds = piece_bounds(len(seq), n_pieces)
    return [seq[bounds[i] : bounds[i + 1]] for i in range(n_pieces)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ACGTN", max_size=120), st.integers(0, 2**32 - 1))
def test_dinucleotide_shuffle_keeps_every_dinucleotide_count_and_the_first_base(seq, seed):
    shuffled = dinucleotide_shuffle(seq, np.random.default_rng(seed))
    assert len(shuffled) == len(seq)
    assert dinucleotides(shuffled) == dinucleotides(seq)
    assert shuffled[:1] == seq[:1] and shuffled[-1:] == seq[-1:]  # the last base follows from the counts


def test_dinucleotide_shuffle_changes_the_sequence_and_keeps_n():
    rng = np.random.default_rng(0)
    for _ in range(50):
        seq = random_dna(rng, 100)
        assert dinucleotide_shuffle(seq, rng) != seq
    gapped = "ACGTTGCA" + "NNNN" + "GGCATTACG"
    shuffled = dinucleotide_shuffle(gapped.lower(), rng)  # soft-masked bases are the same bases
    assert dinucleotides(shuffled) == dinucleotides(gapped) and shuffled.count("N") == 4
    assert [dinucleotide_shuffle(s, rng) for s in ("", "A", "AC")] == ["", "A", "AC"]


def same_dinucleotides(seq: str) -> list[str]:
    """Every sequence with the dinucleotide counts and first base of ``seq``, by naive depth-first search."""
    out = []

    def extend(prefix: str, left: Counter) -> None:
        if not sum(left.values()):
            out.append(prefix)
        for pair in sorted(p for p, n in left.items() if n and p[0] == prefix[-1]):
            left[pair] -= 1
            extend(prefix + pair[1], left)
            left[pair] += 1

    extend(seq[0], dinucleotides(seq))
    return out


def test_dinucleotide_shuffle_draws_every_possible_sequence_equally_often():
    seq = "ACAGTACGATTAG"
    same = same_dinucleotides(seq)
    rng = np.random.default_rng(1)
    n = 60 * len(same)
    drawn = Counter(dinucleotide_shuffle(seq, rng) for _ in range(n))
    assert set(drawn) == set(same)
    expected = n / len(same)
    chi2 = sum((drawn[s] - expected) ** 2 / expected for s in same)
    assert len(same) > 5 and chi2 < len(same) + 5 * np.sqrt(2 * len(same))  # far below a biased walk's


@pytest.mark.parametrize("length", [300, 307, 15])
def test_piece_shuffle_keeps_composition_and_the_unchosen_pieces_in_place(length):
    rng = np.random.default_rng(length)
    for _ in range(20):
        seq = random_dna(rng, length)
        shuffled = piece_shuffle(seq, rng)
        assert sorted(shuffled) == sorted(seq)
        before, after = pieces(seq), pieces(shuffled)
        assert sorted(before) == sorted(after)  # whole pieces moved, at their slots' boundaries
        if length >= 20:
            assert sum(a == b for a, b in zip(before, after)) >= 8
    seq = random_dna(rng, 300)
    moved = [piece_shuffle(seq, np.random.default_rng(s)) for s in range(20)]
    assert np.mean([sum(a != b for a, b in zip(pieces(seq), pieces(m))) for m in moved]) > 9  # 12 chosen, few stay


def test_random_substitution_keeps_exactly_eight_pieces():
    rng = np.random.default_rng(2)
    for _ in range(20):
        seq = random_dna(rng, 300)
        substituted = random_substitution(seq, rng)
        assert len(substituted) == 300 and set(substituted) <= set("ACGT")
        assert sum(a == b for a, b in zip(pieces(seq), pieces(substituted))) == 8  # 15 bp replaced: 4^-15 to match


def synthetic_genome(rng: np.random.Generator) -> tuple[str, str, list[tuple[int, int]]]:
    """Blocks of GC 0.3 .. 0.7 and N gaps, soft-masked in part, with a 60 bp sequence planted 6 times on either
    strand: the text, the planted sequence and its (start, end) intervals."""
    blocks, planted, position = [], [], 0
    held = random_dna(rng, 60)
    for index in range(30):
        gc = 0.3 + 0.1 * (index % 5)
        p = [(1 - gc) / 2, (1 - gc) / 2, gc / 2, gc / 2]
        block = "".join(rng.choice(list("ATCG"), size=2000, p=p))
        if index % 7 == 3:
            block = block[:800].lower() + "N" * 100 + block[900:]
        if index % 5 == 1:
            copy = held if index % 2 else reverse_complement(held)
            block = block[:1000] + copy + block[1060:]
            planted.append((position + 1000, position + 1060))
        blocks.append(block)
        position += len(block)
    return "".join(blocks), held, planted


def test_genomic_windows_are_gc_matched_and_never_touch_an_excluded_sequence():
    rng = np.random.default_rng(3)
    text, held, planted = synthetic_genome(rng)
    targets = rng.uniform(0.35, 0.65, 200)
    windows = genomic_windows(text, 100, 200, rng, gc_targets=targets, exclude=[held])
    assert windows.n_excluded_bases == 6 * 60 and windows.n_excluded_starts > 6 * 60
    assert windows.n_outside_tolerance == 0
    assert np.all(np.abs(windows.gc - targets) <= 0.02 + 1e-9)
    np.testing.assert_allclose(windows.gc, [gc_fraction(s) for s in windows.sequences])
    for start, sequence in zip(windows.starts, windows.sequences):
        assert sequence == text[start : start + 100].upper() and "N" not in sequence
        assert all(start + 100 <= a or b <= start for a, b in planted)
    order = np.sort(windows.starts)
    assert np.all(np.diff(order) >= 100)  # distinct: no two windows overlap


def test_genomic_windows_report_a_gc_the_text_does_not_have():
    rng = np.random.default_rng(4)
    text = "".join(rng.choice(list("ATCG"), size=20000, p=[0.35, 0.35, 0.15, 0.15]))
    windows = genomic_windows(text, 50, 5, rng, gc_targets=[0.95] * 5)
    assert windows.n_outside_tolerance == 5
    all_gc = [gc_fraction(text[s : s + 50]) for s in range(len(text) - 49)]
    assert np.all(windows.gc >= sorted(all_gc)[-200])  # drawn from the richest windows there are
    plain = genomic_windows(text, 50, 30, rng)  # no GC targets: uniform windows
    assert len(plain.sequences) == 30 and plain.n_outside_tolerance == 0


def test_make_negatives_takes_the_kinds_in_turn():
    rng = np.random.default_rng(5)
    text, _, _ = synthetic_genome(rng)
    positives = [random_dna(rng, 100) for _ in range(7)] + [random_dna(rng, 80)]
    text = text[:5000] + positives[3] + text[5000:]  # a positive in the genome: no genomic negative touches it
    negatives = make_negatives(positives, KINDS, rng, genome_text=text)
    assert [kind for _, kind in negatives] == [KINDS[i % 4] for i in range(8)]
    assert [len(s) for s, _ in negatives] == [len(p) for p in positives]
    for (negative, kind), positive in zip(negatives, positives):
        assert negative != positive
        if kind == "genomic":
            assert negative in text.upper() and abs(gc_fraction(negative) - gc_fraction(positive)) <= 0.02 + 1e-9
            start = text.upper().index(negative)
            assert start + len(negative) <= 5000 or start >= 5100
    assert [k for _, k in make_negatives(positives[:3], ["dinucleotide_shuffle"], rng)] == ["dinucleotide_shuffle"] * 3
    with pytest.raises(OptionError, match="unknown negative kinds"):
        make_negatives(positives, ["shuffle"], rng)
    with pytest.raises(OptionError, match="genome text"):
        make_negatives(positives, ["genomic"], rng)


def test_make_negatives_may_overlap_windows_to_stay_gc_matched():
    rng = np.random.default_rng(9)
    rich = "".join(rng.choice(list("ATCG"), size=600, p=[0.15, 0.15, 0.35, 0.35]))  # room for 6 distinct windows
    text = "".join(rng.choice(list("ATCG"), size=30000, p=[0.3, 0.3, 0.2, 0.2])) + rich
    positives = [text[-600:][i * 10 : i * 10 + 100] for i in range(20)]  # GC-rich, like promoters
    positives = ["".join(rng.permutation(list(p))) for p in positives]  # same GC, not in the text
    kinds = ["genomic"]
    distinct = make_negatives(positives, kinds, np.random.default_rng(0), genome_text=text)
    overlapping = make_negatives(positives, kinds, np.random.default_rng(0), genome_text=text, distinct=False)
    gap = [[abs(gc_fraction(n) - gc_fraction(p)) for (n, _), p in zip(drawn, positives)]
           for drawn in (distinct, overlapping)]
    assert max(gap[0]) > 0.05  # distinct windows ran out of GC-rich text
    assert max(gap[1]) <= 0.02 + 1e-9 and all(n in text for n, _ in overlapping)


def test_every_generator_is_deterministic_with_a_seed():
    text, _, _ = synthetic_genome(np.random.default_rng(6))
    positives = [random_dna(np.random.default_rng(i), 100) for i in range(8)]

    def draw(seed: int) -> list:
        rng = np.random.default_rng(seed)
        return [piece_shuffle(positives[0], rng), random_substitution(positives[0], rng),
                dinucleotide_shuffle(positives[0], rng), genomic_windows(text, 100, 3, rng).sequences,
                make_negatives(positives, KINDS, rng, genome_text=text)]

    assert draw(7) == draw(7)
    assert all(a != b for a, b in zip(draw(7), draw(8)))
