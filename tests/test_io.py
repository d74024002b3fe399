"""io against independent expectations: exact ids, sequences and messages, DNABERT's own files, naive slices of a
written FASTA, and hypothesis round trips (records -> text -> records)."""
from __future__ import annotations

import gzip
import logging
import os
import random
import shutil
import subprocess
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from Bio import bgzf
from hypothesis import given, settings
from hypothesis import strategies as st

import dnabert_core.io.lines as dio_lines
import dnabert_core.io.normalise as dio_normalise
from dnabert_core.errors import DnabertError, InputError, LimitReached
from dnabert_core.io import (
    IUPAC_DNA,
    Genome,
    ParsedInput,
    ReadLimits,
    detect_format,
    iter_records,
    normalise_sequence,
    parse_bytes,
    parse_region,
    parse_text,
    read_records,
)
from dnabert_core.records import SequenceRecord
from tests.conftest import SHARED_DATA

SAMPLES = SHARED_DATA / "dnabert-samples"
CHR22 = SHARED_DATA / "hg19-chr22-part" / "chr22_part.fa.gz"
needs_shared = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/data is not beside the clone")
BOM = "\ufeff"
INVALID = "(not an IUPAC nucleotide code)"


def write(path: Path, data: str | bytes, compression: str = "plain") -> Path:
    """Write ``data`` plain, gzip- or bgzip-compressed (bgzip through Biopython's BGZF writer)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if compression == "gzip":
        raw = gzip.compress(raw)
    if compression == "bgzip":
        with bgzf.BgzfWriter(str(path), "wb") as out:
            out.write(raw)
    else:
        path.write_bytes(raw)
    return path


def pairs(parsed: ParsedInput) -> list[tuple[str, str]]:
    return [(record.id, record.sequence) for record in parsed.records]


def messages(parsed: ParsedInput) -> list[str]:
    return [str(error) for error in parsed.errors]


def kmerize(sequence: str, k: int) -> str:
    return " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))


# ---------------------------------------------------------------- the package


def test_the_package_keeps_the_public_api_of_the_old_module():
    """``from dnabert_core import io`` callers (viz, pages, scripts, bench) see the same names, from their modules."""
    from dnabert_core import io
    from dnabert_core.io import genome, normalise, parsers, sniff

    assert sorted(io.__all__) == sorted(
        ["FORMATS", "IUPAC_DNA", "Genome", "ParsedInput", "ReadLimits", "detect_format", "iter_records",
         "normalise_sequence", "parse_bytes", "parse_region", "parse_text", "read_records"]
    )
    assert (io.Genome, io.parse_region) == (genome.Genome, genome.parse_region)
    assert (io.detect_format, io.FORMATS) == (sniff.detect_format, sniff.FORMATS)
    assert (io.normalise_sequence, io.IUPAC_DNA) == (normalise.normalise_sequence, normalise.IUPAC_DNA)
    assert io.iter_records is parsers.iter_records and io.parse_bytes is parsers.parse_bytes
    assert io.FORMATS == ("fasta", "csv", "tsv", "kmer_tsv", "encode_data", "text")


# ---------------------------------------------------------------- normalise_sequence


def test_normalise_upper_cases_turns_u_into_t_and_drops_whitespace():
    assert normalise_sequence("acgu nRy\tT\r\n", record_id="r") == "ACGTNRYT"
    assert IUPAC_DNA == frozenset("ACGTURYSWKMBDHVN")
    every_code = "".join(sorted(IUPAC_DNA))
    assert normalise_sequence(every_code.lower(), record_id="r") == every_code.replace("U", "T")


@pytest.mark.parametrize(
    ("raw", "position", "char"),
    [
        ("ACGTX", 5, "X"),
        ("ac-gt", 3, "-"),
        ("ACG1", 4, "1"),
        ("AC GT*", 5, "*"),  # positions count bases, not the dropped whitespace
        ("A.CG", 2, "."),
        ("ACGé", 4, "é"),
        ("AC\u212aG", 3, "\u212a"),  # the Kelvin sign is not K
        ("AxCGTX", 2, "x"),
    ],
)
def test_normalise_rejects_the_first_non_iupac_character(raw, position, char):
    with pytest.raises(InputError) as caught:
        normalise_sequence(raw, record_id="seq7", line=3)
    assert caught.value.position == position
    assert str(caught.value) == f"line 3, record 'seq7', position {position}: invalid character {char!r} {INVALID}"


def test_normalise_rejects_an_empty_sequence():
    with pytest.raises(InputError, match=r"^record 'r': empty sequence$"):
        normalise_sequence(" \t\n", record_id="r")


@given(st.text(alphabet=st.sampled_from("ACGTURYNacgtu \t-X1é\u212a"), max_size=40))
def test_normalise_matches_a_naive_loop(raw):
    bases = [char for char in raw if not char.isspace()]
    bad = [index for index, char in enumerate(bases) if char not in "ACGTURYSWKMBDHVNacgturyswkmbdhvn"]
    if not bases:
        with pytest.raises(InputError, match="empty sequence"):
            normalise_sequence(raw, record_id="r")
    elif bad:
        with pytest.raises(InputError) as caught:
            normalise_sequence(raw, record_id="r")
        assert caught.value.position == bad[0] + 1
        assert repr(bases[bad[0]]) in caught.value.reason
    else:
        assert normalise_sequence(raw, record_id="r") == "".join(bases).upper().replace("U", "T")


# ---------------------------------------------------------------- FASTA


def test_fasta_ids_multiline_records_blank_lines_and_empty_names(tmp_path):
    text = ">chr1 some description\nACGT\nacgt\n\n>\nNNNN\n>  \t\nuuu\n> spaced  name\nA\n"
    parsed = read_records(write(tmp_path / "x.fa", text))
    assert pairs(parsed) == [("chr1", "ACGTACGT"), ("seq2", "NNNN"), ("seq3", "TTT"), ("spaced", "A")]
    assert [record.source for record in parsed.records] == ["x.fa line 1", "x.fa line 5", "x.fa line 7", "x.fa line 9"]
    assert [record.label for record in parsed.records] == [None] * 4
    assert parsed.errors == ()
    assert parsed.n_ambiguous == 1


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", BOM])
def test_line_endings_and_byte_order_mark_change_nothing(tmp_path, newline, bom):
    fasta = newline.join([">a", "ACGT", "TT", "", ">b", "GG", ""])
    table = newline.join(["id\tsequence\tlabel", "a\tACGT\t1", "b\tGG\t0", ""])
    assert pairs(read_records(write(tmp_path / "x.fa", bom + fasta))) == [("a", "ACGTTT"), ("b", "GG")]
    parsed = read_records(write(tmp_path / "x.tsv", bom + table))
    assert pairs(parsed) == [("a", "ACGT"), ("b", "GG")]
    assert [record.label for record in parsed.records] == ["1", "0"]


@pytest.mark.parametrize("name", ["x.fa", "x.fa.gz", "x.txt"])
def test_plain_gzip_and_bgzip_give_identical_records(tmp_path, name):
    text = "".join(f">r{i} d\n{'ACGTN'[i % 5] * (i + 1)}\n{'acgu' * i}\n" for i in range(300))
    results = []
    for compression in ("plain", "gzip", "bgzip"):
        path = write(tmp_path / f"{compression}-{name}", text, compression)
        if compression == "bgzip":
            assert path.read_bytes()[12:14] == b"BC"  # really BGZF, not plain gzip
        assert detect_format(path) == "fasta"
        parsed = read_records(path)
        results.append([(r.id, r.sequence, r.source.split(" ", 1)[1]) for r in parsed.records])
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 300
    assert results[0][3] == ("r3", "TTTT" + "ACGT" * 3, "line 10")


def test_fasta_bad_records_are_reported_exactly_and_the_rest_kept(tmp_path, caplog):
    text = (
        "stray text\n"  # 1
        ">ok\nACGT\n"  # 2-3
        ">bad\nACGTACGT\nACXT\n"  # 4-6
        ">empty desc\n"  # 7
        ">short\nACG\n"  # 8-9
        ">ok\nGGGG\n"  # 10-11: duplicate id
        ">ok_2\nCCCC\n"  # 12-13: clashes with the renamed duplicate
        ">ok\nNNNN\n"  # 14-15
    )
    with caplog.at_level(logging.WARNING, logger="dnabert_core.io"):
        parsed = read_records(write(tmp_path / "x.fa", text), min_length=4)
    assert pairs(parsed) == [("ok", "ACGT"), ("ok_2", "GGGG"), ("ok_2_2", "CCCC"), ("ok_3", "NNNN")]
    assert messages(parsed) == [
        "x.fa, line 1: text before the first '>' header belongs to no record",
        f"x.fa, line 6, record 'bad', position 11: invalid character 'X' {INVALID}",
        "x.fa, line 7, record 'empty': empty sequence",
        "x.fa, line 8, record 'short': sequence of length 3 is shorter than the minimum length 4 "
        "(a k-mer model needs at least k bases)",
    ]
    assert parsed.errors[1].record_id == "bad" and parsed.errors[1].position == 11
    assert parsed.n_ambiguous == 1
    assert [r.getMessage() for r in caplog.records] == [
        "x.fa: 3 duplicate record ids were made unique by appending _2, _3, ... (first: 'ok' -> 'ok_2')",
        "x.fa: 1 records contain ambiguous bases; their k-mers become [UNK]",
    ]


def test_iter_records_yields_records_and_errors_in_file_order(tmp_path):
    items = list(iter_records(write(tmp_path / "x.fa", ">a\nAC\n>b\nA?\n>c\nGG\n")))
    assert [type(item).__name__ for item in items] == ["SequenceRecord", "InputError", "SequenceRecord"]
    assert [item.id for item in items[::2]] == ["a", "c"]


def test_one_bad_record_among_many_loses_nothing_else(tmp_path):
    rng = random.Random(1)
    sequences = ["".join(rng.choices("ACGT", k=rng.randint(20, 90))) for _ in range(2000)]
    sequences[1234] = sequences[1234][:10] + "Z" + sequences[1234][11:]
    text = "".join(f">s{i}\n{s[:50]}\n{s[50:]}\n" for i, s in enumerate(sequences))
    parsed = read_records(write(tmp_path / "x.fa", text))
    expected = [(f"s{i}", s) for i, s in enumerate(sequences) if i != 1234]
    assert pairs(parsed) == expected
    line = 3 * 1234 + 2  # header, first line, second line per record: 'Z' is on the first line of record 1234
    assert messages(parsed) == [f"x.fa, line {line}, record 's1234', position 11: invalid character 'Z' {INVALID}"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.sampled_from("AZaz09_.|:-"), min_size=1, max_size=12),
            st.text(alphabet=st.sampled_from("ACGTUNRYacgtun"), min_size=1, max_size=150),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda pair: pair[0],
    ),
    st.integers(1, 80),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_fasta_round_trip(records, width, newline):
    lines = []
    for record_id, sequence in records:
        lines.append(f">{record_id} description")
        lines.extend(sequence[i : i + width] for i in range(0, len(sequence), width))
    parsed = parse_text(newline.join(lines))
    assert pairs(parsed) == [(rid, seq.upper().replace("U", "T")) for rid, seq in records]
    assert parsed.errors == ()


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["", BOM]),
    st.text(alphabet=st.sampled_from(">ACGT acgt\n\r\té"), max_size=200),
    st.integers(1, 9),
)
def test_reading_in_small_chunks_changes_nothing(bom, body, chunk_bytes):
    """Line ends, lines and characters split across read chunks give the same records as one big read."""
    text = bom + body
    whole = parse_text(text, fmt="fasta")
    with mock.patch.object(dio_lines, "_CHUNK_BYTES", chunk_bytes):
        chunked = parse_text(text, fmt="fasta")
    assert pairs(chunked) == pairs(whole)
    assert messages(chunked) == messages(whole)


# ---------------------------------------------------------------- CSV / TSV


@pytest.mark.parametrize(("delimiter", "name"), [(",", "x.csv"), ("\t", "x.tsv")])
def test_table_columns_any_case_missing_ids_and_label_column(tmp_path, delimiter, name):
    rows = [["ID", "Sequence", "Label", "promoter_presence"], ["r1", "acgt", "a", "1"], ["", "GGCC", "b", "0"]]
    path = write(tmp_path / name, "".join(delimiter.join(row) + "\n" for row in rows))
    parsed = read_records(path)
    assert pairs(parsed) == [("r1", "ACGT"), ("seq2", "GGCC")]
    assert [record.label for record in parsed.records] == ["a", "b"]
    assert [record.source for record in parsed.records] == [f"{name} line 2", f"{name} line 3"]
    relabelled = read_records(path, label_column="promoter_presence")
    assert [record.label for record in relabelled.records] == ["1", "0"]


def test_csv_quoted_fields_and_rows_of_the_wrong_width(tmp_path):
    text = '"id","sequence"\n"r 1","ACGT"\nr2,AC,extra\nr3,GG\n'
    parsed = read_records(write(tmp_path / "x.csv", text))
    assert pairs(parsed) == [("r 1", "ACGT"), ("r3", "GG")]
    assert messages(parsed) == ["x.csv, line 3, record 'r2': row has 3 fields, but the header has 2"]


def test_table_without_sequence_or_label_column_is_one_error(tmp_path):
    parsed = read_records(write(tmp_path / "x.csv", "name,seq\nx,ACGT\ny,GGGG\n"))
    assert parsed.records == ()
    assert messages(parsed) == ["x.csv, line 1: no 'sequence' column; columns found: 'name', 'seq'"]
    parsed = read_records(write(tmp_path / "y.csv", "id,sequence\nx,ACGT\n"), label_column="class")
    assert messages(parsed) == ["y.csv, line 1: no label column 'class'; columns found: 'id', 'sequence'"]


def test_table_with_only_a_header_is_one_error(tmp_path):
    parsed = read_records(write(tmp_path / "x.csv", "id,sequence,label\n"))
    assert (parsed.records, messages(parsed)) == ((), ["x.csv: no records: the file holds only a header line"])


# ---------------------------------------------------------------- DNABERT's k-mer TSV


def kmer_tsv_tokens(path: Path) -> list[tuple[str, str]]:
    """(k-mer text, label) per data line, read with plain string operations."""
    lines = path.read_bytes().decode().replace("\r\n", "\n").strip("\n").split("\n")
    return [tuple(line.split("\t")[:2]) for line in lines[1:]]


@needs_shared
@pytest.mark.parametrize(
    ("relative", "n_records", "length"), [("ft/6/dev.tsv", 1000, 101), ("ft/prom-core/6/dev.tsv", 5919, 70)]
)
def test_dnabert_kmer_tsv_recovers_sequences_and_tokens(relative, n_records, length):
    path = SAMPLES / relative
    assert detect_format(path) == "kmer_tsv"
    parsed = read_records(path)
    assert parsed.errors == ()
    assert len(parsed.records) == n_records
    assert {len(record) for record in parsed.records} == {length}
    assert [record.id for record in parsed.records[:3]] == ["seq1", "seq2", "seq3"]
    expected = kmer_tsv_tokens(path)
    assert [(kmerize(r.sequence, 6), r.label) for r in parsed.records] == expected


@needs_shared
def test_dnabert_snp_example_has_no_header_and_an_index_column():
    """DNABERT's SNP/examples/dev.tsv starts with data (the original reads its first record as a header)."""
    parsed = read_records(SAMPLES / "SNP" / "examples" / "dev.tsv")
    assert parsed.errors == ()
    assert [record.id for record in parsed.records] == [f"seq{i}" for i in range(1, 7)]
    assert [len(record) for record in parsed.records] == [70, 70, 70, 70, 71, 72]
    assert [record.label for record in parsed.records] == ["0", "23", "104", "125", "240", "325"]
    assert parsed.records[0].sequence.startswith("TTTTTAAAAG")


def test_kmer_tsv_bad_overlap_and_k_are_errors_naming_the_kmer(tmp_path):
    text = "sequence\tlabel\r\nACG CGT GTA\t1\r\nACG CGT TTA\t0\r\nACG CG\t1\r\nAC CGT\t1\r\n"
    parsed = read_records(write(tmp_path / "x.tsv", text))
    assert pairs(parsed) == [("seq1", "ACGTA")]
    assert messages(parsed) == [
        "x.tsv, line 3, record 'seq2': k-mer 3 ('TTA') does not overlap k-mer 2 ('CGT') by k-1 = 2 bases",
        "x.tsv, line 4, record 'seq3': k-mer 2 ('CG') has 2 bases, but k-mer 1 has 3",
        "x.tsv, line 5, record 'seq4': k-mer 2 ('CGT') has 3 bases, but k-mer 1 has 2",
    ]


def test_kmer_tsv_with_space_separated_header_id_column_or_no_header(tmp_path):
    spaced = write(tmp_path / "a.tsv", "sequence  label\nACGT CGTA GTAC\t1\n")
    assert detect_format(spaced) == "kmer_tsv"
    assert [(r.sequence, r.label) for r in read_records(spaced).records] == [("ACGTAC", "1")]
    with_id = write(tmp_path / "b.tsv", "id\tsequence\tlabel\tindex\nr1\tAAC ACG\t0\t7\n")
    assert [(r.id, r.sequence, r.label) for r in read_records(with_id).records] == [("r1", "AACG", "0")]
    headerless = write(tmp_path / "c.txt", "ACGT CGTA GTAC\nAAAC AACC\n")
    assert detect_format(headerless) == "kmer_tsv"
    assert [(r.id, r.sequence, r.label) for r in read_records(headerless).records] == [
        ("seq1", "ACGTAC", None),
        ("seq2", "AAACC", None),
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 6), st.lists(st.text(alphabet="ACGTN", min_size=6, max_size=120), min_size=1, max_size=6))
def test_kmer_tsv_round_trip(k, sequences):
    text = "sequence\tlabel\n" + "".join(f"{kmerize(s, k)}\t{i % 2}\n" for i, s in enumerate(sequences))
    parsed = parse_text(text, fmt="kmer_tsv")
    assert [r.sequence for r in parsed.records] == sequences
    assert [r.label for r in parsed.records] == [str(i % 2) for i in range(len(sequences))]

def test_kmer_csv_is_split_on_its_commas(tmp_path):
    """A k-mer table whose delimiter is a comma: with a header, without one, and with a space-separated header."""
    with_header = write(tmp_path / "a.csv", 'id,sequence,label\nr1,ACGT CGTA GTAC,1\nr2,"AAC ACG",0\nr3,ACG GGT,1\n')
    assert detect_format(with_header) == "kmer_tsv"
    parsed = read_records(with_header)
    assert [(r.id, r.sequence, r.label) for r in parsed.records] == [("r1", "ACGTAC", "1"), ("r2", "AACG", "0")]
    assert messages(parsed) == [
        "a.csv, line 4, record 'r3': k-mer 2 ('GGT') does not overlap k-mer 1 ('ACG') by k-1 = 2 bases"
    ]
    headerless = write(tmp_path / "b.csv", "ACGT CGTA GTAC,1\r\nAAAC AACC,0\r\n")
    assert detect_format(headerless) == "kmer_tsv"
    assert [(r.id, r.sequence, r.label) for r in read_records(headerless).records] == [
        ("seq1", "ACGTAC", "1"),
        ("seq2", "AAACC", "0"),
    ]
    spaced = write(tmp_path / "c.csv", "sequence  label\nACG CGT,1\n")
    assert [(r.sequence, r.label) for r in read_records(spaced, fmt="kmer_tsv").records] == [("ACGT", "1")]


def raw_from_kmers(kmer_text: str) -> str:
    """SPEC section 1 by hand: the first base of each k-mer, then the whole last k-mer."""
    kmers = kmer_text.split(" ")
    return "".join(kmer[0] for kmer in kmers[:-1]) + kmers[-1]


@needs_shared
@pytest.mark.parametrize("relative", ["ft/6/dev.tsv", "ft/prom-core/6/dev.tsv"])
def test_dnabert_kmer_tsv_and_its_comma_variant_give_the_raw_sequences(tmp_path, relative):
    """DNABERT's CRLF k-mer TSVs (prom-core's header is separated by spaces), and the same bytes with every tab
    turned into a comma: the delimiter then comes from the first row."""
    path = SAMPLES / relative
    expected = [(raw_from_kmers(kmers), label) for kmers, label in kmer_tsv_tokens(path)]
    comma = write(tmp_path / "dev.csv", path.read_bytes().replace(b"\t", b","))
    assert b"\r\n" in comma.read_bytes()
    for source in (path, comma):
        assert detect_format(source) == "kmer_tsv"
        parsed = read_records(source)
        assert parsed.errors == ()
        assert [(r.sequence, r.label) for r in parsed.records] == expected


# ---------------------------------------------------------------- ENCODE 690 .data

ENCODE = SHARED_DATA / "encode690-tfbs" / "wgEncodeAwgTfbsBroadGm12878CtcfUniPk" / "test.data"


def test_encode_data_ids_sequences_labels_and_one_error_per_bad_line(tmp_path):
    text = (
        ">chr1:100-105 ACGTA 1\n"  # 1
        ">chr1:200-205_shuf acgtn 0\n"  # 2: soft-masked, ambiguous
        "\n"  # 3
        ">chr2:1-5 ACXTA 1\n"  # 4: invalid base
        ">chr3:1-4 ACGT\n"  # 5: no label
        "ACGT 1 2\n"  # 6: no header
        ">chr1:100-105 GGGGG 0\r\n"  # 7: repeated id
        "> TTTT 1\n"  # 8: no id
    )
    path = write(tmp_path / "x.data", text)
    assert detect_format(path) == "encode_data"
    parsed = read_records(path)
    assert [(r.id, r.sequence, r.label, r.source) for r in parsed.records] == [
        ("chr1:100-105", "ACGTA", "1", "x.data line 1"),
        ("chr1:200-205_shuf", "ACGTN", "0", "x.data line 2"),
        ("chr1:100-105_2", "GGGGG", "0", "x.data line 7"),
        ("seq7", "TTTT", "1", "x.data line 8"),
    ]
    assert messages(parsed) == [
        f"x.data, line 4, record 'chr2:1-5', position 3: invalid character 'X' {INVALID}",
        "x.data, line 5, record 'chr3:1-4': expected '>id SEQUENCE LABEL' (3 fields separated by whitespace), got 2",
        "x.data, line 6, record 'seq5': expected '>id SEQUENCE LABEL', but the line does not start with '>'",
    ]
    assert parsed.n_ambiguous == 1


@pytest.mark.parametrize(
    ("name", "content", "compression", "expected"),
    [
        ("x.txt", ">chr1:1-4 ACGT 1\n>chr1:5-8 GGCC 0\n", "plain", "encode_data"),
        ("x.gz", ">chr1:1-4 ACGT 1\n>chr1:5-8 GGCC 0\n", "gzip", "encode_data"),
        ("x.data", ">chr1:1-4 ACGT 1\n>chr1:5-8 GG\n>chr1:9-12 TTTT 0\n", "plain", "encode_data"),
        ("x.data", ">a ACGT 1\nACGT\n>b GG 0\nGG\n", "plain", "fasta"),  # sequence lines between the headers
        ("x.data", ">chr1 some description\n", "plain", "fasta"),
        ("x.data", "", "plain", "encode_data"),
    ],
)
def test_encode_data_is_detected_from_the_content(tmp_path, name, content, compression, expected):
    assert detect_format(write(tmp_path / name, content, compression)) == expected


@pytest.mark.skipif(not ENCODE.is_file(), reason="../shared/data is not beside the clone")
def test_encode690_file_reads_every_line():
    """The Gm12878 CTCF test set: 17,359 lines of 101 bp, 8,644 peaks (label 1) and 8,715 shuffled (label 0)."""
    parsed = read_records(ENCODE)
    assert parsed.errors == ()
    assert len(parsed.records) == 17_359
    first = parsed.records[0]
    assert (first.id, first.label, first.source) == ("chr4:88157115-88157215", "1", "test.data line 1")
    assert first.sequence == (
        "CGCCCTCTGCTGGAATATATTGGTAAAACAGCAGTAGTGACGAAGCGCTCTGCCTCCAAGTTGGTAGAAATAGAAACCAAAAAAAGCGAATGAAATGGCTC"
    )
    assert sum(record.label == "1" for record in parsed.records) == 8_644
    assert {len(record) for record in parsed.records} == {101}
    naive = [line[1:].split(" ") for line in ENCODE.read_text().splitlines()]
    assert [[r.id, r.sequence, r.label] for r in parsed.records] == naive


# ---------------------------------------------------------------- plain text and format detection


def test_plain_text_one_sequence_per_line(tmp_path):
    parsed = read_records(write(tmp_path / "x.txt", "ACGT\n\n   \nggcc\nuuaa"))
    assert pairs(parsed) == [("seq1", "ACGT"), ("seq2", "GGCC"), ("seq3", "TTAA")]
    assert [record.source for record in parsed.records] == ["x.txt line 1", "x.txt line 4", "x.txt line 5"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("x.txt", ">a\nACGT\n", "fasta"),
        ("x.txt", "ACGT\n>a\nACGT\n", "fasta"),
        ("x.fa", "id,sequence\na,ACGT\n", "csv"),
        ("x.csv", "id\tSEQUENCE\na\tACGT\n", "tsv"),
        ("x.csv", "sequence\tlabel\nAAAC AACC\t1\n", "kmer_tsv"),
        ("x.tsv", "sequence\nACGT\n", "tsv"),
        ("x.fa", "ACGT\nGGCC\n", "text"),
        ("x.txt", "a\tb\n1\t2\n", "tsv"),
        ("x.fa", "", "fasta"),
        ("x.csv.gz", "", "csv"),
        ("x", "\n\n", "text"),
    ],
)
def test_detect_format_sniffs_content_and_uses_the_extension_only_for_empty_files(tmp_path, name, content, expected):
    assert detect_format(write(tmp_path / name, content)) == expected


# ---------------------------------------------------------------- hostile input


def test_binary_file_is_one_clear_error(tmp_path):
    parsed = read_records(write(tmp_path / "x.fa", b">a\nACGT\n\x00\x01\x02garbage"))
    assert parsed.records == ()
    assert messages(parsed) == [
        "x.fa, line 3: binary data (byte 0x00), not text; expected FASTA, CSV/TSV, DNABERT's k-mer TSV or one "
        "sequence per line"
    ]
    png = write(tmp_path / "x.png", bytes(range(256)) * 4, "gzip")
    assert len(read_records(png).errors) == 1


def test_bytes_that_are_not_utf8_reject_only_their_record(tmp_path):
    parsed = read_records(write(tmp_path / "x.fa", b">a\nACGT\n>b\nAC\xe9T\n>c\nGG\n"))
    assert pairs(parsed) == [("a", "ACGT"), ("c", "GG")]
    assert messages(parsed) == [
        "x.fa, line 4, record 'b', position 3: bytes that are not UTF-8 text (binary data or another text encoding)"
    ]


def test_empty_file_is_one_error(tmp_path):
    path = write(tmp_path / "x.fa", "")
    assert [str(item) for item in iter_records(path)] == ["x.fa: no records: the file is empty"]
    parsed = read_records(path)
    assert (parsed.records, messages(parsed), parsed.truncated) == ((), ["x.fa: no records: the file is empty"], None)


@pytest.mark.parametrize("compression", ["plain", "gzip"])
def test_fastq_is_refused_with_a_hint(tmp_path, compression):
    path = write(tmp_path / "x.fq", "@r1\nACGT\n+\nIIII\n", compression)
    assert messages(read_records(path)) == [
        "x.fq: FASTQ is not supported (qualities are not used): convert it to FASTA first, e.g. "
        "`seqtk seq -a reads.fq > reads.fa`"
    ]


def test_missing_file_raises_before_iteration(tmp_path):
    with pytest.raises(FileNotFoundError):
        iter_records(tmp_path / "nope.fa")
    with pytest.raises(FileNotFoundError):
        read_records(tmp_path / "nope.fa")
    with pytest.raises(InputError, match="unknown format 'fastq'; expected one of fasta, csv, tsv, kmer_tsv, "
                                         "encode_data, text"):
        iter_records(write(tmp_path / "x.fa", ">a\nA\n"), fmt="fastq")


@pytest.mark.parametrize("fmt", [None, "fasta"])
def test_truncated_gzip_is_an_error_not_a_crash(tmp_path, fmt):
    text = "".join(f">r{i}\n{'ACGT' * 50}\n" for i in range(2000))
    path = write(tmp_path / "x.fa.gz", gzip.compress(text.encode())[:-30])
    parsed = read_records(path, fmt=fmt)
    assert len(parsed.errors) == 1
    assert "x.fa.gz: cannot" in str(parsed.errors[0])
    assert all(record.sequence == "ACGT" * 50 for record in parsed.records)


def test_very_long_single_line_sequences(tmp_path):
    sequence = "".join(random.Random(2).choices("ACGT", k=3_000_000))  # spans several read chunks
    for name, text in [("x.fa", f">long\n{sequence}"), ("x.txt", sequence), ("x.csv", f"sequence\n{sequence}\n")]:
        parsed = read_records(write(tmp_path / name, text))
        assert [record.sequence == sequence for record in parsed.records] == [True], name


def streaming_peak(path: Path) -> int:
    """Peak bytes allocated while iterating over a file's records without keeping them."""
    tracemalloc.start()
    try:
        assert sum(1 for _ in iter_records(path)) > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_while_streaming(tmp_path):
    rng = random.Random(3)
    block = "\n".join("".join(rng.choices("ACGT", k=300)) for _ in range(20))  # 6 kb a record
    small = write(tmp_path / "small.fa", "".join(f">r{i}\n{block}\n" for i in range(1000)))  # 6 MB
    big = write(tmp_path / "big.fa", "".join(f">r{i}\n{block}\n" for i in range(3000)))  # 18 MB
    added = big.stat().st_size - small.stat().st_size
    growth = streaming_peak(big) - streaming_peak(small)
    assert growth < added / 10, f"peak grew by {growth / 1e6:.1f} MB for {added / 1e6:.0f} MB more input"


def test_a_directory_is_one_error_naming_it(tmp_path):
    folder = tmp_path / "reads.fa"
    folder.mkdir()
    expected = f"{folder} is a directory, not a sequence file"
    assert [str(item) for item in iter_records(folder)] == [expected]
    assert messages(read_records(folder, fmt="fasta")) == [expected]
    with pytest.raises(InputError, match="is a directory, not a sequence file"):
        detect_format(folder)


@pytest.mark.parametrize(
    ("name", "content", "compression", "reason"),
    [
        ("x.fa", "", "plain", "no records: the file is empty"),
        ("x.txt", f"{BOM}\n  \n\t\r\n", "plain", "no records: the file is empty"),
        ("x.fa.gz", "", "gzip", "no records: the file is empty"),
        ("x.data", "\n\n", "bgzip", "no records: the file is empty"),
        ("x.tsv", "sequence\tlabel\r\n\r\n", "plain", "no records: the file holds only a header line"),
        ("x.tsv", "sequence  label\n", "gzip", "no records: the file holds only a header line"),
    ],
)
def test_an_input_without_records_is_one_error_naming_it(tmp_path, name, content, compression, reason):
    parsed = read_records(write(tmp_path / name, content, compression))
    assert (parsed.records, messages(parsed), parsed.truncated) == ((), [f"{name}: {reason}"], None)


def test_pasted_text_and_uploads_without_records_say_so():
    assert messages(parse_text(" \n")) == ["pasted text: no records: the file is empty"]
    assert messages(parse_bytes(gzip.compress(b""), name="up.fa.gz")) == ["up.fa.gz: no records: the file is empty"]


def test_bad_arguments_are_project_errors(tmp_path):
    with pytest.raises(InputError, match="unknown format 'fastq'"):
        parse_bytes(b">a\nA\n", fmt="fastq")
    with pytest.raises(DnabertError, match=r"^ReadLimits.max_records must be at least 1 or None, got 0$"):
        ReadLimits(max_records=0)
    with pytest.raises(DnabertError, match="max_decompressed_bytes must be at least 1"):
        ReadLimits(max_decompressed_bytes=-5)


# ---------------------------------------------------------------- long records: positions, lines, memory

IUPAC_EITHER_CASE = set("ACGTURYSWKMBDHVNacgturyswkmbdhvn")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ACGTacgtuN \tX?é\u212a\u00a0\ufffd"), max_size=12), max_size=10),
    st.integers(1, 3),
    st.integers(1, 4),
)
def test_fasta_errors_give_the_position_and_line_a_naive_scan_gives(lines, flush_lines, chunk):
    """Whatever the flush and chunk sizes, the first bad character's 1-based position among the bases (whitespace,
    Unicode's included, dropped) and its file line are those of a character-by-character scan."""
    bases = [(char, line_no) for line_no, line in enumerate(lines, start=2) for char in line if not char.isspace()]
    bad = [(index, char, line_no) for index, (char, line_no) in enumerate(bases) if char not in IUPAC_EITHER_CASE]
    with mock.patch.object(dio_normalise, "_FLUSH_LINES", flush_lines), mock.patch.object(
        dio_normalise, "_CHUNK", chunk
    ):
        parsed = parse_text("\n".join([">r desc", *lines]))
    if not bases:
        assert messages(parsed) == ["pasted text, line 1, record 'r': empty sequence"]
    elif bad:
        index, char, line_no = bad[0]
        reason = (
            "bytes that are not UTF-8 text (binary data or another text encoding)"
            if char == "\ufffd"
            else f"invalid character {char!r} {INVALID}"
        )
        assert messages(parsed) == [f"pasted text, line {line_no}, record 'r', position {index + 1}: {reason}"]
    else:
        assert pairs(parsed) == [("r", "".join(char for char, _ in bases).upper().replace("U", "T"))]


def test_long_lines_are_flushed_in_chunks_with_the_right_positions(tmp_path):
    sequence = "".join(random.Random(7).choices("ACGT", k=3 * (1 << 20) + 5))
    path = write(tmp_path / "x.fa", f">chr\n{sequence}\nACGT\n{sequence[:100]}N-\n")
    assert messages(read_records(path)) == [
        f"x.fa, line 4, record 'chr', position {len(sequence) + 106}: invalid character '-' {INVALID}"
    ]


def peak_while_reading(path: Path) -> int:
    """Peak bytes allocated while reading a file's records (and keeping them)."""
    tracemalloc.start()
    try:
        assert len(read_records(path).records) == 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("width", [250, None])
def test_one_long_record_is_held_about_twice_not_once_per_step(tmp_path, width):
    """Reading a record costs ~2 bytes a base at the peak (its bytes and the str made from them); before, the
    record was also held as a list of line strings and copied by join, split, encode and two translates (4-7x)."""
    rng = random.Random(8)
    paths = []
    for n_bases in (2_000_000, 6_000_000):
        sequence = "".join(rng.choices("ACGTacgtN", k=n_bases))
        lines = [sequence] if width is None else [sequence[i : i + width] for i in range(0, n_bases, width)]
        paths.append(write(tmp_path / f"{n_bases}.fa", ">chr\n" + "\n".join(lines) + "\n"))
    growth = peak_while_reading(paths[1]) - peak_while_reading(paths[0])
    assert growth < 2.6 * 4_000_000, f"peak grew by {growth / 4e6:.2f} bytes a base"


# ---------------------------------------------------------------- progress


@pytest.mark.parametrize("compression", ["plain", "gzip"])
def test_progress_counts_the_bytes_of_the_file_on_disk(tmp_path, compression):
    bases = random.Random(9).randbytes(12_000 * 300).translate(bytes.maketrans(bytes(range(256)), b"ACGT" * 64))
    text = "".join(f">r{i}\n{bases[300 * i : 300 * (i + 1)].decode()}\n" for i in range(12_000))  # 3.7 MB of text
    data = text.encode()
    path = write(tmp_path / "x.fa", gzip.compress(data, compresslevel=1) if compression == "gzip" else data)
    size = path.stat().st_size
    calls: list[tuple[int, int]] = []
    items = list(iter_records(path, progress=lambda done, total: calls.append((done, total))))
    assert len(items) == 12_000
    done = [bytes_read for bytes_read, _ in calls]
    assert {total for _, total in calls} == {size}
    assert done == sorted(done) and 0 < done[0] < size and done[-1] == size
    assert len(calls) > len(text) // (1 << 20)  # once per 1 MiB of text (so at least per MiB on disk), and at the end
    if compression == "gzip":
        assert size < len(text) / 2 and len(set(done)) > 1  # compressed bytes, not text bytes


# ---------------------------------------------------------------- read limits


def notice(name: str, limit: str, cut: tuple[str, int] | None = None) -> str:
    """The LimitReached message; ``cut``: (record id, header line) of a FASTA record the limit stopped inside."""
    rest = "the rest was not read (for big inputs use the `dnabert` command line)"
    inside = f"; record {cut[0]!r} (header on line {cut[1]}) was being read and is left out" if cut else ""
    return f"{name}: stopped at the limit of {limit}{inside}: {rest}"


def test_max_records_keeps_the_records_before_the_limit(tmp_path):
    path = write(tmp_path / "x.fa", ">a\nAC\n>b\nA!\n>c\nGG\n>d\nTT\n")
    parsed = read_records(path, limits=ReadLimits(max_records=3))
    assert pairs(parsed) == [("a", "AC"), ("c", "GG")]
    assert messages(parsed) == [f"x.fa, line 4, record 'b', position 2: invalid character '!' {INVALID}"]
    assert parsed.truncated == notice("x.fa", "3 records")
    items = list(iter_records(path, limits=ReadLimits(max_records=1)))
    assert [type(item) for item in items] == [SequenceRecord, LimitReached]
    assert str(items[-1]) == notice("x.fa", "1 record")
    assert read_records(path, limits=ReadLimits(max_records=4)).truncated is None  # exactly at the limit


def test_max_bases_stops_inside_a_long_record_without_reading_it(tmp_path):
    text = ">a\nACGT\nACGT\n>b\nGGGG\n"
    path = write(tmp_path / "x.fa", text + ">long\n" + "ACGT\n" * 1_000_000)  # 5 MB
    calls: list[int] = []
    items = list(iter_records(path, limits=ReadLimits(max_bases=12), progress=lambda done, _: calls.append(done)))
    assert [(item.id, item.sequence) for item in items[:-1]] == [("a", "ACGTACGT"), ("b", "GGGG")]
    assert str(items[-1]) == notice("x.fa", "12 bases", cut=("long", 6))  # named, and none of it passed on
    assert calls[-1] <= 1 << 20  # the first 1 MiB chunk held the limit: the other 4 MB were never read
    assert read_records(write(tmp_path / "y.fa", text), limits=ReadLimits(max_bases=12)).truncated is None


def test_max_decompressed_bytes_counts_text_bytes_exactly(tmp_path):
    text = ">a\nAC\n>b\nGG\n>c\nTT\n"  # 18 bytes
    path = write(tmp_path / "x.fa.gz", text, "gzip")
    assert read_records(path, limits=ReadLimits(max_decompressed_bytes=18)).truncated is None
    parsed = read_records(path, limits=ReadLimits(max_decompressed_bytes=17))  # record c may go on: not complete
    assert pairs(parsed) == [("a", "AC"), ("b", "GG")]
    assert parsed.truncated == notice("x.fa.gz", "17 bytes of text", cut=("c", 5))
    parsed = parse_text(text, limits=ReadLimits(max_decompressed_bytes=10))  # ">a\nAC\n>b\n": a is complete
    assert (pairs(parsed), parsed.errors) == ([("a", "AC")], ())
    assert parsed.truncated == notice("pasted text", "10 bytes of text", cut=("b", 3))  # b's header was read


@pytest.mark.parametrize(("head", "line", "fmt"), [(b">bomb\n", b"ACGT" * 250 + b"\n", None), (b"", b"\0" * 1001, "text")])
def test_a_gzip_bomb_stops_at_max_decompressed_bytes_with_bounded_memory(tmp_path, head, line, fmt):
    """1 GiB of text in 3 MB on disk: 256 gzip members of 4 MiB each (concatenated members are one gzip stream)."""
    member = gzip.compress(line * ((4 << 20) // len(line)), 9)
    path = write(tmp_path / "bomb.fa.gz", gzip.compress(head) + member * 256)
    assert path.stat().st_size < 4 << 20
    calls: list[int] = []
    tracemalloc.start()
    try:
        limits = ReadLimits(max_decompressed_bytes=8 << 20)
        items = list(iter_records(path, fmt=fmt, limits=limits, progress=lambda done, _: calls.append(done)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cut = ("bomb", 1) if head else None
    assert [str(item) for item in items] == [notice("bomb.fa.gz", "8,388,608 bytes of text", cut)]
    assert peak < 40 << 20, f"peak {peak / 1e6:.0f} MB"
    assert calls[-1] < path.stat().st_size / 4  # most of the file was never even read


def test_parse_bytes_stops_at_a_limit_too():
    parsed = parse_bytes(gzip.compress(b">a\nAC\n>b\nGG\n"), name="up.fa.gz", limits=ReadLimits(max_records=1))
    assert (pairs(parsed), parsed.errors, parsed.truncated) == ([("a", "AC")], (), notice("up.fa.gz", "1 record"))


# ---------------------------------------------------------------- regions and Genome


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("chr22:1,000-2,000", ("chr22", 999, 2000)),
        ("22:17662378-17662378", ("22", 17662377, 17662378)),
        (" chrX:5 - 10 ", ("chrX", 4, 10)),
        ("HLA-A*01:01:1-5", ("HLA-A*01:01", 0, 5)),
    ],
)
def test_parse_region(region, expected):
    assert parse_region(region) == expected


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("chr22", "invalid region 'chr22': expected chrom:start-end (1-based, inclusive), e.g. 'chr22:1,000-2,000'"),
        ("chr22:5", "invalid region 'chr22:5': expected chrom:start-end"),
        (":1-5", "invalid region ':1-5': expected chrom:start-end"),
        ("chr1:a-b", "invalid region 'chr1:a-b': expected chrom:start-end"),
        ("chr1:0-5", "invalid region 'chr1:0-5': start must be at least 1 (coordinates are 1-based)"),
        ("chr1:2,000-1,000", "invalid region 'chr1:2,000-1,000': start 2,000 is after end 1,000"),
    ],
)
def test_parse_region_errors(region, message):
    with pytest.raises(InputError) as caught:
        parse_region(region)
    assert str(caught.value).startswith(message)


@pytest.fixture
def reference(tmp_path) -> tuple[str, dict[str, str]]:
    """FASTA text (60 bp lines, soft-masked, N runs) and its sequences."""
    rng = random.Random(4)
    chroms = {
        "chr1": "".join(rng.choices("ACGTacgtN", k=250)),
        "chr2": "N" * 20 + "".join(rng.choices("ACGT", k=41)),
        "chrM": "acgtACG",
    }
    text = "".join(
        f">{name} test\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
        for name, seq in chroms.items()
    )
    return text, chroms


@pytest.mark.parametrize(
    ("compression", "name"), [("plain", "x.fa"), ("bgzip", "x.fa.gz"), ("gzip", "x.fa.gz"), ("bgzip", "x.fa")]
)
def test_genome_fetch_matches_a_naive_slice(tmp_path, reference, compression, name):
    text, chroms = reference
    path = write(tmp_path / name, text, compression)
    rng = random.Random(5)
    with Genome(path, cache_dir=tmp_path / "cache") as genome:
        assert genome.chromosomes == {name: len(seq) for name, seq in chroms.items()}
        for _ in range(200):
            chrom = rng.choice(list(chroms))
            start = rng.randint(0, len(chroms[chrom]))
            end = rng.randint(start, len(chroms[chrom]))
            assert genome.fetch(chrom, start, end) == chroms[chrom][start:end].upper()
        record = genome.region_record("chr1:11-70")
    assert (record.id, record.source, record.sequence) == ("chr1:11-70", "chr1:11-70", chroms["chr1"][10:70].upper())


def test_plain_gzip_is_decompressed_once_and_a_changed_file_is_not_served_stale(tmp_path, reference, caplog):
    text, chroms = reference
    path = write(tmp_path / "x.fa.gz", text, "gzip")
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="dnabert_core.io"):
        Genome(path, cache_dir=cache).close()
        Genome(path, cache_dir=cache).close()
    assert sum("is gzip- but not bgzip-compressed" in r.getMessage() for r in caplog.records) == 1
    write(path, ">chr1\nGATTACA\n", "gzip")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with Genome(path, cache_dir=cache) as genome:
        assert genome.fetch("chr1", 0, 7) == "GATTACA"
    assert len(list(cache.glob("*.fa"))) == 2


def test_genome_errors_are_clear(tmp_path, reference):
    path = write(tmp_path / "x.fa", reference[0])
    with Genome(path, cache_dir=tmp_path / "cache") as genome:
        with pytest.raises(InputError) as caught:
            genome.fetch("1", 0, 5)
        assert str(caught.value) == (
            "x.fa: unknown chromosome '1'; did you mean 'chr1'? (x.fa has 3: 'chr1', 'chr2', 'chrM')"
        )
        with pytest.raises(InputError) as caught:
            genome.fetch("chr2", 0, 62)
        assert str(caught.value) == "x.fa: region chr2:1-62 is outside 'chr2', which has 61 bases"
        with pytest.raises(InputError, match="start 9 is after end 5"):
            genome.region_record("chr1:9-5")
    ragged = write(tmp_path / "ragged.fa", ">a\nACGT\nAC\nACGT\n")
    with pytest.raises(InputError, match="^.*ragged.fa: cannot index ragged.fa as FASTA: "):
        Genome(ragged, cache_dir=tmp_path / "cache")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable: permissions, plus the immutable attribute for root (who ignores permissions)."""
    folder.chmod(0o555)
    immutable = os.geteuid() == 0 and shutil.which("chattr") is not None
    immutable = immutable and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            yield
        else:
            pytest.skip("cannot make a folder read-only here")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_genome_in_a_read_only_folder_keeps_its_index_in_the_cache(tmp_path, reference):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = write(folder / "x.fa", reference[0])
    with read_only(folder), Genome(path, cache_dir=tmp_path / "cache") as genome:
        assert genome.fetch("chrM", 0, 7) == "ACGTACG"
    assert sorted(p.name for p in folder.iterdir()) == ["x.fa"]
    assert len(list((tmp_path / "cache").glob("x-*.fai"))) == 1


@needs_shared
def test_hg19_chr22_part_plain_gzip_reference(tmp_path):
    """The varfish chr22 part (plain gzip, 22 Mb): the ClinVar REF at 22:17,662,378 is T."""
    with Genome(CHR22, cache_dir=tmp_path) as genome:
        assert genome.chromosomes == {"22": 22_000_000}
        assert genome.fetch("22", 17662377, 17662378) == "T"
        assert genome.region_record("22:17,662,378-17,662,378").sequence == "T"
        assert genome.fetch("22", 0, 10) == "N" * 10
