"""`dnabert variants`, `ism` and `scan` end to end on tiny models: columns of SPEC section 8, values against plain
`predict`, REF mismatches as rows, refusals with exit codes, DNABERT's own SNP example."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from dnabert_core.model import load_model, save_model
from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import SHARED_DATA, random_dna, tiny_classifier
from viz.cli import main
from viz.variants import log2_odds_ratio

CHR = random_dna(np.random.default_rng(7), 400)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def p_positive(model: Path, sequences: list[str]) -> np.ndarray:
    loaded = load_model(model)
    return np.array([p.probs[1] for p in predict(loaded, [SequenceRecord(f"s{i}", s) for i, s in
                                                           enumerate(sequences)])])


@pytest.fixture()
def reference(tmp_path) -> Path:
    path = tmp_path / "ref.fa"
    path.write_text(f">chr5\n{CHR}\n")
    return path


def vcf(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "calls.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr5>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                    + "".join(f"{row}\n" for row in rows))
    return path


def test_vcf_effects_equal_plain_predict_on_the_windows(tiny_model_dir, reference, tmp_path, capsys):
    flank = 20
    other, second = [b for b in "ACGT" if b != CHR[99]][:2]
    wrong = "G" if CHR[149] != "G" else "T"
    path = vcf(tmp_path, [f"5\t100\tsnv\t{CHR[99]}\t{other},{second}\t.\t.\t.",
                          f"chr5\t150\tmism\t{wrong}\tA\t.\t.\t.",
                          f"chr5\t200\tdel\t{CHR[199:202]}\t{CHR[199]}\t.\t.\t.",
                          f"chr5\t210\tsym\t{CHR[209]}\t<DEL>\t.\t.\t."])
    out = tmp_path / "effects.tsv"
    assert main(["variants", "-m", str(tiny_model_dir), "--vcf", str(path), "--fasta", str(reference), "-o",
                 str(out), "--flank", str(flank), "--quiet"]) == 0
    rows = read_tsv(out)
    assert [r["id"] for r in rows] == ["snv", "snv", "del", "mism"]  # multi-allelic split; the mismatch listed
    assert rows[3]["ref_check"].startswith("mismatch") and rows[3]["p_ref"] == "NA"
    ref_window = CHR[99 - flank:100 + flank]
    alt_window = ref_window[:flank] + other + ref_window[flank + 1:]
    deletion_ref = CHR[199 - flank:202 + flank]
    deletion_alt = CHR[199 - flank:200] + CHR[202:202 + flank + 2]  # kept at the ref window's length
    expected = p_positive(tiny_model_dir, [ref_window, alt_window, deletion_ref, deletion_alt])
    assert float(rows[0]["p_ref"]) == pytest.approx(expected[0], abs=1e-5)
    assert float(rows[0]["p_alt"]) == pytest.approx(expected[1], abs=1e-5)
    assert float(rows[0]["log2_or"]) == pytest.approx(float(log2_odds_ratio(expected[0], expected[1])), abs=1e-3)
    assert float(rows[2]["p_ref"]) == pytest.approx(expected[2], abs=1e-5)
    assert float(rows[2]["p_alt"]) == pytest.approx(expected[3], abs=1e-5)
    assert rows[2]["kind"] == "deletion" and rows[0]["ref_check"] == "ok"
    assert 1 <= int(rows[0]["attention_rank"]) <= len(ref_window)
    err = capsys.readouterr().err
    assert "REF mismatch" in err and "line 7" in err and "symbolic" in err and "p clipped" in err.replace(
        "p\nclipped", "p clipped")


def test_mutation_file_on_sequences(tiny_model_dir, tmp_path):
    rng = np.random.default_rng(1)
    sequences = [random_dna(rng, 50) for _ in range(3)]
    (tmp_path / "seqs.txt").write_text("\n".join(sequences) + "\n")
    (tmp_path / "mut.txt").write_text("0\t10\t11\tA\n2\t5\t5\tGG\n2\t20\t23\t\n1\t70\t71\tA\n")
    out = tmp_path / "m.tsv"
    assert main(["variants", "-m", str(tiny_model_dir), "--sequences", str(tmp_path / "seqs.txt"), "--mutations",
                 str(tmp_path / "mut.txt"), "-o", str(out), "--quiet", "--sort", "effect"]) == 0
    rows = read_tsv(out)
    assert sorted((r["id"], r["start"], r["end"], r["allele"], r["kind"]) for r in rows) == [
        ("seq1", "10", "11", "A", "substitution"), ("seq3", "20", "23", "-", "deletion"),
        ("seq3", "5", "5", "GG", "insertion")]  # the line past its sequence is rejected
    deltas = [abs(float(r["delta_p"])) for r in rows]
    assert deltas == sorted(deltas, reverse=True)
    edited = sequences[0][:10] + "A" + sequences[0][11:]
    p_ref, p_alt = p_positive(tiny_model_dir, [sequences[0], edited])
    row = next(r for r in rows if r["id"] == "seq1")
    assert float(row["delta_p"]) == pytest.approx(p_alt - p_ref, abs=1e-5)


@pytest.mark.skipif(not (SHARED_DATA / "dnabert-samples").is_dir(), reason="../shared/data is not present")
def test_dnabert_snp_example_runs_as_the_original(tmp_path):
    """DNABERT's SNP example: the k-merized sequence file and the mutation file keyed by its rows."""
    model = save_model(tiny_classifier(6, max_tokens=128, labels=["0", "1"]), KmerTokenizer(6, 128), tmp_path / "k6")
    samples = SHARED_DATA / "dnabert-samples"
    out = tmp_path / "snp.tsv"
    assert main(["variants", "-m", str(model), "--sequences", str(samples / "ft" / "prom-core" / "6" / "dev.tsv"),
                 "--mutations", str(samples / "SNP" / "example_mut_file.txt"), "-o", str(out), "--quiet"]) == 0
    n_lines = len((samples / "SNP" / "example_mut_file.txt").read_text().splitlines())
    assert len(read_tsv(out)) == n_lines


def test_ism_rows_and_values(tiny_model_dir, tmp_path):
    sequence = random_dna(np.random.default_rng(2), 30)
    (tmp_path / "one.fa").write_text(f">one\n{sequence}\n>long\n{random_dna(np.random.default_rng(3), 200)}\n")
    out = tmp_path / "ism.tsv"
    assert main(["ism", "-m", str(tiny_model_dir), str(tmp_path / "one.fa"), "-o", str(out), "--quiet"]) == 0
    rows = read_tsv(out)
    assert list(rows[0]) == ["id", "position", "ref", "alt", "p_alt", "delta"] and len(rows) == 90
    assert {r["id"] for r in rows} == {"one"}  # the 200 bp record is longer than the window: rejected
    row = rows[4]
    position, alt = int(row["position"]), row["alt"]
    mutated = sequence[:position - 1] + alt + sequence[position:]
    p_ref, p_alt = p_positive(tiny_model_dir, [sequence, mutated])
    assert row["ref"] == sequence[position - 1] and float(row["p_alt"]) == pytest.approx(p_alt, abs=1e-5)
    assert float(row["delta"]) == pytest.approx(p_alt - p_ref, abs=1e-5)


def test_scan_writes_a_tiling_bedgraph_and_peaks(tiny_model_dir, reference, tmp_path):
    out, peaks = tmp_path / "scan.bedgraph", tmp_path / "peaks.bed"
    assert main(["scan", "-m", str(tiny_model_dir), "--fasta", str(reference), "--region", "chr5:101-300", "-o",
                 str(out), "--window", "50", "--step", "25", "--peaks", str(peaks), "--threshold", "0", "--quiet"]) == 0
    lines = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("track")]
    assert lines[0][:2] == ["chr5", "100"] and lines[-1][2] == "300"
    assert all(a[2] == b[1] for a, b in zip(lines, lines[1:]))  # runs tile the region
    bed = [line.split("\t") for line in peaks.read_text().splitlines()]
    assert bed and bed[0][0] == "chr5" and int(bed[0][1]) >= 100 and int(bed[-1][2]) <= 300


@pytest.mark.parametrize("options", [["--step", "80", "--window", "50"], ["--region", "chr5:350-500"],
                                     ["--region", "chr9:1-100"], ["--threshold", "2"]])
def test_scan_refusals(tiny_model_dir, reference, tmp_path, options):
    base = {"--region": "chr5:1-200"}
    args = ["scan", "-m", str(tiny_model_dir), "--fasta", str(reference), "-o", str(tmp_path / "o.bg"), "--quiet"]
    if "--region" not in options:
        args += ["--region", base["--region"]]
    try:
        code = main(args + options)
    except SystemExit as stop:
        code = stop.code
    assert code in (1, 2) and not (tmp_path / "o.bg").exists()


def test_predict_names_the_command_for_variant_files(tiny_model_dir, reference, tmp_path, capsys):
    path = vcf(tmp_path, [f"chr5\t100\tsnv\t{CHR[99]}\tA\t.\t.\t."])
    with pytest.raises(SystemExit) as stop:
        main(["predict", "-m", str(tiny_model_dir), str(path), "-o", str(tmp_path / "p.tsv")])
    assert stop.value.code == 2 and "dnabert variants" in capsys.readouterr().err
    (tmp_path / "mut.txt").write_text("0\t1\t2\tA\n")
    with pytest.raises(SystemExit):
        main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "mut.txt"), "-o", str(tmp_path / "p.tsv")])
    assert "--mutations" in capsys.readouterr().err


def test_variants_needs_one_kind_of_input(tiny_model_dir, reference, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["variants", "-m", str(tiny_model_dir), "--vcf", "x.vcf", "-o", str(tmp_path / "o.tsv")])
    assert stop.value.code == 2


def test_variants_with_attributions(tiny_model_dir, reference, tmp_path):
    path = vcf(tmp_path, [f"chr5\t{p}\tv{p}\t{CHR[p - 1]}\t{'A' if CHR[p - 1] != 'A' else 'C'}\t.\t.\t."
                          for p in (60, 120, 121)])
    out = tmp_path / "ig.tsv"
    assert main(["variants", "-m", str(tiny_model_dir), "--vcf", str(path), "--fasta", str(reference), "-o",
                 str(out), "--flank", "20", "--ig", "--ig-steps", "4", "--quiet", "--sort", "effect"]) == 0
    rows = read_tsv(out)
    assert list(rows[0])[-3:] == ["attribution", "attribution_rank", "ref_check"] and len(rows) == 3
    assert all(1 <= int(r["attribution_rank"]) <= 41 for r in rows)
