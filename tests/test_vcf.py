"""VCF and ClinVar TSV + reference -> ref/alt windows (viz.vcf): every bad case with its line, on tiny hand-made files
(plain, plain gzip and bgzip), and the real chr22 files."""
from __future__ import annotations

import gzip
from itertools import islice
from pathlib import Path

import pysam
import pytest

from dnabert_core.errors import InputError, OptionError
from dnabert_core.io import Genome
from dnabert_core.records import VariantWindow
from tests.conftest import SHARED_DATA
from viz.variants import apply_edit
from viz.vcf import (
    RefMismatch,
    iter_variant_windows,
    iter_windows,
    looks_like_variants,
    read_variants,
    read_vcf,
    variant_windows,
)

CHR22 = SHARED_DATA / "hg19-chr22-part"
#        0         1         2         3
#        0123456789012345678901234567890123456789
CHR1 = "ACGTACGTACGGCCTTAAGGacgtacgtacTTTTTGGGGG"  # soft-masked 20-29
TWO = "GATTACAGATTACA"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=1,length=40>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
# (line number, text) of the data lines; lines 1-3 are the header
ROWS = [
    "1\t5\tsnv\tA\tC",                     # 4: window CGT A CGT
    "1\t11\tmulti\tG\tT,c,<DEL>",          # 5: two windows, one symbolic ALT
    "1\t6\tmism\tG\tA",                    # 6: the reference has C
    "1\t40\tpast\tGA\tC",                  # 7: REF runs past the end
    "3\t5\tunk\tA\tC",                     # 8: unknown contig
    "1\tabc\tbadpos\tA\tC",                # 9: POS not an integer
    "1\t12\ttoofew\tG",                    # 10: four fields
    "1\t13\tnalt\tC\tN",                   # 11: N allele
    "1\t14\tstar\tC\t*",                   # 12: spanning deletion
    "1\t15\tbnd\tT\tN]chr1:123]",          # 13: breakend
    "1\t2\toffstart\tC\tT",                # 14: window starts before the contig
    "1\t39\toffend\tG\tA",                 # 15: window ends past the contig
    "1\t21\tlower\ta\tg",                  # 16: soft-masked reference, lower-case alleles
    "chr2\t4\tdel\tTACA\tT",               # 17: anchored deletion, chr2 -> 2
    "1\t31\tins\tT\tTGG",                  # 18: anchored insertion
    "",                                    # 19: blank: skipped
    "1\t5\tsame\tA\tG",                    # 20: same site as line 4
]
TAIL = "\t.\t.\t."


def vcf_text() -> str:
    return HEADER + "".join(row + (TAIL if row.count("\t") == 4 else "") + "\n" for row in ROWS)


@pytest.fixture
def genome(tmp_path) -> Genome:
    path = tmp_path / "ref.fa"
    path.write_text(f">chr1 test\n{CHR1[:20]}\n{CHR1[20:]}\n>2\n{TWO}\n")
    with Genome(path, cache_dir=tmp_path / "cache") as opened:
        yield opened


def write_vcf(folder: Path, compression: str, text: str | None = None) -> Path:
    plain = folder / "calls.vcf"
    plain.write_text(vcf_text() if text is None else text)
    if compression == "plain":
        return plain
    packed = folder / "calls.vcf.gz"
    if compression == "gzip":
        packed.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        pysam.tabix_compress(str(plain), str(packed), force=True)
    return packed


def summary(parsed):
    windows = [(w.variant.line, w.variant.id, w.variant.alt, w.contig, w.start, w.ref_sequence, w.alt_sequence)
               for w in parsed.windows]
    errors = [(type(err).__name__, err.line, err.record_id, err.reason) for err in parsed.errors]
    return windows, errors


@pytest.mark.parametrize("compression", ["plain", "gzip", "bgzip"])
def test_vcf_windows_and_every_bad_case(tmp_path, genome, compression):
    parsed = variant_windows(write_vcf(tmp_path, compression), genome, 3)
    windows, errors = summary(parsed)
    assert windows == [
        (4, "snv", "C", "chr1", 1, "CGTACGT", "CGTCCGT"),
        (5, "multi", "T", "chr1", 7, "TACGGCC", "TACTGCC"),
        (5, "multi", "C", "chr1", 7, "TACGGCC", "TACCGCC"),
        (16, "lower", "G", "chr1", 17, "AGGACGT", "AGGGCGT"),
        (17, "del", "T", "2", 0, "GATTACAGAT", "GATTGAT" + TWO[10:13]),  # kept at 10 bases: the next 3 appended
        (18, "ins", "TGG", "chr1", 27, "TACTTTT", "TACTGGT"),  # TACTGGTTT kept at 7 bases: its last 2 cut
        (20, "same", "G", "chr1", 1, "CGTACGT", "CGTGCGT"),
    ]
    assert [(kind, line, record) for kind, line, record, _ in errors] == [
        ("InputError", 5, "multi"),
        ("RefMismatch", 6, "mism"),
        ("InputError", 7, "past"),
        ("InputError", 8, "unk"),
        ("InputError", 9, None),
        ("InputError", 10, None),
        ("InputError", 11, "nalt"),
        ("InputError", 12, "star"),
        ("InputError", 13, "bnd"),
        ("InputError", 14, "offstart"),
        ("InputError", 15, "offend"),
    ]
    reasons = [reason for *_, reason in errors]
    assert reasons[0] == "ALT '<DEL>' is a symbolic allele (structural variant, breakend or '*'): not supported"
    assert reasons[1].startswith("REF 'G' does not match the reference, which has 'C' at chr1:6")
    assert reasons[2] == "REF at chr1:40-41 is outside 'chr1', which has bases 1 to 40"
    assert reasons[3].startswith("unknown contig '3' (nor 'chr3') in ref.fa, which has 'chr1', '2'")
    assert reasons[4] == "POS 'abc' is not a positive integer"
    assert reasons[5] == "expected 8 or more tab-separated fields (CHROM POS ID REF ALT QUAL FILTER INFO), got 4"
    assert reasons[6] == "ALT 'N' holds 'N': only alleles of A, C, G and T are scored (not N or IUPAC codes)"
    assert "symbolic" in reasons[7] and "symbolic" in reasons[8]
    assert reasons[9].startswith("the window of 3 bases on each side (chr1:-1-5) runs off 'chr1'")
    assert reasons[10].startswith("the window of 3 bases on each side (chr1:36-42) runs off 'chr1', which has 40")
    assert all(err.source == "calls.vcf" + (".gz" if compression != "plain" else "") for err in parsed.errors)
    assert "line 6, record 'mism': REF 'G'" in str(parsed.errors[1])


def rebuilt_alt(window: VariantWindow, genome: Genome) -> str:
    """The alt window by hand: the edited ref window, then the reference bases after it (a deletion) or cut (an
    insertion) to the ref window's length."""
    tail = genome.fetch(window.contig, window.end, window.end + max(window.alt_tail, 0))
    return (apply_edit(window.ref_sequence, window.edit) + tail)[: len(window.ref_sequence)]


def test_edits_are_minimal_and_rebuild_the_alt_window(tmp_path, genome):
    parsed = variant_windows(write_vcf(tmp_path, "plain"), genome, 3)
    edits = {w.variant.id: w.edit for w in parsed.windows}
    assert (edits["snv"].start, edits["snv"].end, edits["snv"].allele, edits["snv"].kind) == (3, 4, "C", "substitution")
    assert (edits["del"].start, edits["del"].end, edits["del"].allele, edits["del"].ref) == (4, 7, "", "ACA")
    assert edits["del"].kind == "deletion" and edits["ins"].kind == "insertion"
    assert (edits["ins"].start, edits["ins"].end, edits["ins"].allele) == (4, 4, "GG")
    assert edits["snv"].record_id == "chr1:2-8" and edits["snv"].source == "calls.vcf line 4"
    for window in parsed.windows:
        assert rebuilt_alt(window, genome) == window.alt_sequence
        assert window.ref_sequence == genome.fetch(window.contig, window.start, window.end)


def test_multi_allelic_and_same_site_windows_share_one_ref_key(tmp_path, genome):
    parsed = variant_windows(write_vcf(tmp_path, "plain"), genome, 3)
    keys = [w.ref_key for w in parsed.windows]
    assert keys[1] == keys[2] == ("chr1", 7, 14)
    assert keys[0] == keys[6] == ("chr1", 1, 8)
    assert len(set(keys)) == 5


def test_mismatch_carries_what_the_reference_holds(tmp_path, genome):
    mismatch = next(err for err in variant_windows(write_vcf(tmp_path, "plain"), genome, 3).errors
                    if isinstance(err, RefMismatch))
    assert (mismatch.variant.pos, mismatch.variant.ref, mismatch.contig, mismatch.reference) == (6, "G", "chr1", "C")


def test_chr_prefix_both_ways_and_flank_zero(tmp_path, genome):
    text = HEADER + "chr1\t5\ta\tA\tT\t.\t.\t.\n2\t1\tb\tG\tC\t.\t.\t.\nchr2\t1\tc\tG\tA\t.\t.\t.\n"
    parsed = variant_windows(write_vcf(tmp_path, "plain", text), genome, 0)
    assert not parsed.errors
    assert [(w.contig, w.ref_sequence, w.alt_sequence) for w in parsed.windows] == [
        ("chr1", "A", "T"), ("2", "G", "C"), ("2", "G", "A")]


def test_bgzip_reference_and_the_whole_contig_as_window(tmp_path):
    plain = tmp_path / "ref.fa"
    plain.write_text(f">2\n{TWO}\n")
    packed = tmp_path / "ref.fa.gz"
    pysam.tabix_compress(str(plain), str(packed))
    vcf = write_vcf(tmp_path, "plain", HEADER + "2\t4\tx\tT\tG\t.\t.\t.\n")
    with Genome(packed, cache_dir=tmp_path / "cache") as genome:
        (window,) = variant_windows(vcf, genome, 3).windows
        assert (window.ref_sequence, window.alt_sequence) == ("GATTACA", "GATGACA")
        assert [type(item) for item in iter_variant_windows(vcf, genome, 4)] == [InputError]  # runs off at the start


def test_negative_flank_is_refused_at_once(genome):
    with pytest.raises(OptionError, match="flank must be 0 or more"):
        iter_windows([], genome, -1)


def test_not_a_vcf(tmp_path):
    headless = write_vcf(tmp_path, "plain", "##fileformat=VCFv4.2\n1\t5\t.\tA\tC\t.\t.\t.\n")
    (error,) = read_vcf(headless)
    assert isinstance(error, InputError) and error.reason.startswith("cannot read as VCF")
    other = tmp_path / "seqs.txt"
    other.write_text("ACGTACGT\n")
    (error,) = read_variants(other)
    assert "not a VCF" in error.reason


def test_htslib_verbosity_is_restored(tmp_path):
    before = pysam.set_verbosity(2)
    list(read_vcf(write_vcf(tmp_path, "gzip")))
    assert pysam.set_verbosity(before) == 2


CLINVAR_HEADER = ("release\tchromosome\tstart\tend\tbin\treference\talternative\tvcv\t"
                  "summary_clinvar_pathogenicity_label\tsymbols\tvariation_type\tdetails\n")


def test_clinvar_table(tmp_path, genome):
    rows = [
        'GRCh37\t1\t5\t5\t1\tA\tG\tVCV01\tpathogenic\t{"GENE1"}\tsnv\t[{"""x""": 1}]',  # 2
        "GRCh37\t1\tfive\t5\t1\tA\tG\tVCV02\tbenign\t{}\tsnv\t[]",                       # 3: bad start
        "GRCh37\t1\t5\t5\t1\tA\tG",                                                      # 4: short row
        "GRCh37\t2\t4\t7\t1\tTACA\tT\t\tbenign\t{}\tindel\t[]",                          # 5: no VCV
        "GRCh37\t1\t6\t6\t1\tG\tA\tVCV03\tbenign\t{}\tsnv\t[]",                          # 6: mismatch
    ]
    path = tmp_path / "Clinvar.tsv.gz"
    path.write_bytes(gzip.compress((CLINVAR_HEADER + "\n".join(rows) + "\n").encode()))
    assert looks_like_variants(path) == "clinvar"
    parsed = variant_windows(path, genome, 2)
    first, second = parsed.windows
    assert (first.variant.id, first.variant.line, first.ref_sequence, first.alt_sequence) == (
        "VCV01", 2, "GTACG", "GTGCG")
    assert first.variant.annotations == (("clinvar_significance", "pathogenic"), ("genes", "GENE1"),
                                         ("variation_type", "snv"))
    assert (second.variant.id, second.variant.label, second.edit.kind) == (None, "2:4:TACA>T", "deletion")
    assert [(type(err).__name__, err.line) for err in parsed.errors] == [
        ("InputError", 3), ("InputError", 4), ("RefMismatch", 6)]
    assert parsed.errors[0].reason == "start 'five' is not a positive integer"
    assert parsed.errors[1].reason == "row has 7 fields, but the header has 12"


def test_looks_like_variants(tmp_path):
    cases = {
        "a.vcf": vcf_text(),
        "b.txt": "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t5\t.\tA\tC\t.\t.\t.\n",
        "mut.txt": "0\t30\t31\tG\n240\t8\t8\tA\n325\t10\t11\t\n",
        "seqs.fa": ">s\nACGT\n",
        "seqs.txt": "ACGTACGT\nTTTT\n",
        "kmers.tsv": "ACG CGT GTA\t1\n",
        "table.tsv": "sequence\tlabel\nACGT\t1\n",
    }
    found = {}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        found[name] = looks_like_variants(tmp_path / name)
    assert found == {"a.vcf": "vcf", "b.txt": "vcf", "mut.txt": "mutations", "seqs.fa": None, "seqs.txt": None,
                     "kmers.tsv": None, "table.tsv": None}
    assert looks_like_variants(write_vcf(tmp_path, "bgzip")) == "vcf"


REAL = ["ALL.chr22.phase3_shapeit2_mvncall_integrated_v5b.20130502.sites.vcf.gz", "ExAC.r1.sites.vep.vcf.gz",
        "Clinvar.tsv.gz"]


@pytest.fixture(scope="module")
def chr22(tmp_path_factory):
    if not CHR22.is_dir():
        pytest.skip("../shared/data/hg19-chr22-part is not available")
    with Genome(CHR22 / "chr22_part.fa.gz", cache_dir=tmp_path_factory.mktemp("chr22-cache")) as genome:
        yield genome


@pytest.mark.parametrize("name", REAL)
def test_real_chr22_files_give_windows_with_checked_refs(chr22, name):
    """The first 50 variants of each real file (BGZF VCFs with contig '22', a plain-gzip ClinVar TSV) all check out."""
    items = list(islice(iter_variant_windows(CHR22 / name, chr22, 150), 50))
    assert len(items) == 50
    assert all(isinstance(item, VariantWindow) for item in items), [str(i) for i in items if isinstance(i, InputError)]
    for window in items:
        assert window.contig == "22" and len(window.ref_sequence) == 300 + len(window.variant.ref)
        assert window.ref_sequence[150 : 150 + len(window.variant.ref)] == window.variant.ref
        assert rebuilt_alt(window, chr22) == window.alt_sequence
