"""Region scans: window coverage, bedGraph and BED coordinates checked by hand, and refusals."""
from __future__ import annotations

import numpy as np
import pytest

from dnabert_core.errors import InputError, OptionError
from dnabert_core.io.genome import Genome
from dnabert_core.model import load_model
from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna
from viz.scan import (Peak, ScanResult, base_means, bed_lines, bedgraph_lines, call_peaks, scan, scan_region,
                      write_bedgraph)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture()
def genome(tmp_path):
    rng = np.random.default_rng(11)
    chr1, chr2 = random_dna(rng, 130), random_dna(rng, 45)
    path = tmp_path / "ref.fa"
    path.write_text(f">chr1 test\n{chr1[:60]}\n{chr1[60:120]}\n{chr1[120:]}\n>chr2\n{chr2}\n")
    with Genome(path, cache_dir=tmp_path / "cache") as opened:
        yield opened, {"chr1": chr1, "chr2": chr2}


def hand_result(probs: list[float], starts: list[int], size: int, chrom: str = "chr1", start: int = 100,
                end: int = 120) -> ScanResult:
    starts_ = np.array(starts, dtype=np.int64)
    return ScanResult(record_id="r", chrom=chrom, start=start, end=end, target="positive", window_starts=starts_,
                      window_ends=np.minimum(starts_ + size, end), probs=np.array(probs, dtype=np.float64))


@pytest.mark.parametrize("length, window, step, expected", [
    (20, 10, 5, [0, 5, 10]),
    (23, 10, 5, [0, 5, 10, 13]),  # the last window is moved back to end at the region end
    (23, 10, 10, [0, 10, 13]),
    (31, 12, 7, [0, 7, 14, 19]),
    (10, 10, 3, [0]),
    (7, 10, 5, [0]),  # shorter than one window: one window of its own length
    (16, 10, 1, list(range(7))),
])
def test_windows_cover_the_region_exactly(loaded, length, window, step, expected):
    record = SequenceRecord("r", random_dna(np.random.default_rng(length), length))
    result = scan(loaded, record, chrom="chr9", start=1000, window=window, step=step)
    starts, ends = result.window_starts, result.window_ends
    assert (result.chrom, result.start, result.end, result.target) == ("chr9", 1000, 1000 + length, "positive")
    assert starts.tolist() == [1000 + s for s in expected]
    assert (ends - starts == min(window, length)).all()
    assert starts[0] == 1000 and ends[-1] == 1000 + length
    assert (starts[1:] <= ends[:-1]).all()  # no base between two windows
    covered = np.zeros(length, dtype=bool)
    for a, b in zip(starts - 1000, ends - 1000):
        covered[a:b] = True
    assert covered.all() and len(result.probs) == len(expected)


def test_scan_equals_predict_on_the_whole_region_and_reports_windows(loaded):
    record = SequenceRecord("pasted", random_dna(np.random.default_rng(4), 150))
    calls = []
    result = scan(loaded, record, window=40, step=15, chunk_size=3, progress=lambda d, t: calls.append((d, t)))
    (whole,) = predict(loaded, [record], window=40, step=15)
    assert result.chrom == "pasted" and result.start == 0
    np.testing.assert_array_equal(result.window_starts, whole.window_starts)
    np.testing.assert_allclose(result.probs, whole.window_probs[:, 1], atol=1e-6)
    assert calls[-1] == (9, 9) and calls[0] == (3, 9)
    default = scan(loaded, record)  # the model's window (64 bp) and half of it
    assert default.window_starts.tolist() == [0, 32, 64, 86]


def test_bedgraph_of_a_20_bp_region_by_hand():
    # region chr1:100-120, windows of 10 every 5: [100,110) 0.2, [105,115) 0.4, [110,120) 0.9
    result = hand_result([0.2, 0.4, 0.9], [100, 105, 110], 10)
    assert bedgraph_lines(result, track=False) == [
        "chr1\t100\t105\t0.2",  # only window 1
        "chr1\t105\t110\t0.3",  # mean of 0.2 and 0.4
        "chr1\t110\t115\t0.65",  # mean of 0.4 and 0.9
        "chr1\t115\t120\t0.9",  # only window 3
    ]
    lines = bedgraph_lines(result)
    assert lines[0].startswith("track type=bedGraph") and lines[1:] == bedgraph_lines(result, track=False)


def test_unscored_windows_are_left_out_and_equal_neighbours_merge():
    # the middle window was not scored: [100,110) is window 1 alone, [110,120) window 3 alone
    result = hand_result([0.2, np.nan, 0.9], [100, 105, 110], 10)
    assert bedgraph_lines(result, track=False) == ["chr1\t100\t110\t0.2", "chr1\t110\t120\t0.9"]
    # windows [100,105) and [115,120) scored, [105,110) and [110,115) not: a hole in the track
    gap = hand_result([0.5, np.nan, np.nan, 0.7], [100, 105, 110, 115], 5)
    assert bedgraph_lines(gap, track=False) == ["chr1\t100\t105\t0.5", "chr1\t115\t120\t0.7"]
    assert bedgraph_lines(hand_result([np.nan], [100], 20), track=False) == []


def test_bedgraph_of_a_real_scan_tiles_the_region_with_per_base_means(loaded, tmp_path):
    record = SequenceRecord("r", random_dna(np.random.default_rng(8), 97))
    result = scan(loaded, record, chrom="chrX", start=500, window=30, step=11)
    per_base = np.zeros(97)
    count = np.zeros(97)
    for a, b, p in zip(result.window_starts - 500, result.window_ends - 500, result.probs):
        per_base[a:b] += p
        count[a:b] += 1
    per_base /= count
    starts, ends, values = base_means(result)
    assert starts[0] == 500 and ends[-1] == 597 and (starts[1:] == ends[:-1]).all()  # tiles, no overlap
    for a, b, v in zip(starts - 500, ends - 500, values):
        np.testing.assert_allclose(per_base[a:b], v, atol=1e-12)
    lines = bedgraph_lines(result, track=False)
    fields = [line.split("\t") for line in lines]
    assert all(f[0] == "chrX" for f in fields)
    spans = [(int(f[1]), int(f[2])) for f in fields]
    assert spans[0][0] == 500 and spans[-1][1] == 597
    assert all(prev[1] == nxt[0] for prev, nxt in zip(spans, spans[1:]))
    path = write_bedgraph(result, tmp_path / "scan.bedgraph")
    assert path.read_text().splitlines() == bedgraph_lines(result)


def test_peaks_merge_by_hand():
    # windows of 10 every 5 along [0,60): probabilities per window
    probs = [0.9, 0.8, 0.1, 0.1, 0.1, 0.7, 0.1, 0.95, 0.6, np.nan, 0.99]
    result = hand_result(probs, list(range(0, 55, 5)), 10, start=0, end=60)
    # above 0.5: [0,10) [5,15) | [25,35) [35,45) [40,50) [50,60), touching windows merged; NaN never a peak
    assert call_peaks(result) == [Peak("chr1", 0, 15, 0.9), Peak("chr1", 25, 60, 0.99)]
    assert call_peaks(result, merge_gap=10) == [Peak("chr1", 0, 60, 0.99)]
    assert call_peaks(result, threshold=0.75) == [Peak("chr1", 0, 15, 0.9), Peak("chr1", 35, 45, 0.95),
                                                  Peak("chr1", 50, 60, 0.99)]
    assert call_peaks(result, threshold=0.96, merge_gap=100) == [Peak("chr1", 50, 60, 0.99)]
    assert call_peaks(result, threshold=1.0) == []
    assert bed_lines(call_peaks(result)) == ["chr1\t0\t15\tpeak1\t900\t.", "chr1\t25\t60\tpeak2\t990\t."]
    with pytest.raises(OptionError, match="threshold 1.5"):
        call_peaks(result, threshold=1.5)
    with pytest.raises(OptionError, match="merge_gap"):
        call_peaks(result, merge_gap=-1)


def test_region_of_an_indexed_fasta(loaded, genome):
    opened, sequences = genome
    result = scan_region(loaded, opened, "chr1:11-110", window=40, step=20)
    record = SequenceRecord("chr1", sequences["chr1"][10:110])
    direct = scan(loaded, record, chrom="chr1", start=10, window=40, step=20)
    assert (result.chrom, result.start, result.end, result.record_id) == ("chr1", 10, 110, "chr1:11-110")
    assert result.window_starts.tolist() == [10, 30, 50, 70] and result.window_ends[-1] == 110
    np.testing.assert_allclose(result.probs, direct.probs, atol=1e-12)
    assert bedgraph_lines(result, track=False)[0].startswith("chr1\t10\t30\t")


def test_refusals(loaded, genome):
    opened, _ = genome
    with pytest.raises(InputError, match="outside 'chr2', which has 45 bases"):
        scan_region(loaded, opened, "chr2:1-46")
    with pytest.raises(InputError, match="unknown chromosome 'chr3'"):
        scan_region(loaded, opened, "chr3:1-10")
    record = SequenceRecord("r", "ACGT" * 10)
    with pytest.raises(OptionError, match="step 11 is larger than the window 10"):
        scan(loaded, record, window=10, step=11)
    with pytest.raises(OptionError, match="window 100"):
        scan(loaded, record, window=100)
    with pytest.raises(InputError, match="shorter than one 3-mer"):
        scan(loaded, SequenceRecord("r", "AC"))
