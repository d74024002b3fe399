"""`dnabert motifs` end to end on the planted-attention model (tests/planted.py): the planted 8-mer comes back with
its instances on both strands, every output file of SPEC section 8, shuffled controls, IG scores, bad input."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from dnabert_core.tokenizer import reverse_complement
from tests.planted import PLANT, planted_model, planted_sets
from viz.cli import main

MOTIF_COLUMNS = ["motif", "consensus", "instances", "x", "n", "p", "p_adj", "members"]
INSTANCE_COLUMNS = ["motif", "id", "start", "end", "strand", "sequence"]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def header(path: Path) -> list[str]:
    return path.read_text().splitlines()[0].split("\t")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    model = planted_model(folder / "model")
    positives, negatives = planted_sets(np.random.default_rng(3))
    pos = folder / "pos.fa"
    pos.write_text("".join(f">{i}\n{s}\n" for i, s, _, _ in positives))
    neg = folder / "neg.fa"
    neg.write_text("".join(f">neg{i}\n{s}\n" for i, s in enumerate(negatives)))
    return model, pos, neg, positives


def run(*args: str) -> int:
    return main(["motifs", "--quiet", *args])


def test_planted_motif_and_its_instances_on_both_strands(planted, tmp_path, capsys):
    model, pos, neg, positives = planted
    out = tmp_path / "out"
    assert run("-m", str(model), "--positives", str(pos), "--negatives", str(neg), "-o", str(out),
               "--top-matches", "0") == 0
    assert header(out / "motifs.tsv")[: len(MOTIF_COLUMNS)] == MOTIF_COLUMNS
    assert header(out / "instances.tsv") == INSTANCE_COLUMNS
    motifs = read_tsv(out / "motifs.tsv")
    first = motifs[0]
    assert first["motif"] == "motif_1"
    forward = PLANT in first["consensus"]
    assert forward or reverse_complement(PLANT) in first["consensus"], first["consensus"]
    assert int(first["x"]) == len(positives) and float(first["p_adj"]) < 0.005
    instances = [r for r in read_tsv(out / "instances.tsv") if r["motif"] == "motif_1"]
    oriented = PLANT if forward else reverse_complement(PLANT)
    # every occurrence of the 8-mer (planted, or by chance) on either strand, with room for a 24 bp window around it
    # (a base to spare for rounding), is an instance on its strand; every instance's window holds the 8-mer or, where
    # one of its 6-mers occurs by chance (the model attends to that k-mer too), that 6-mer, in motif orientation
    places = {(i, m.start(), m.start() + 8, "+" if strand_seq == oriented else "-")
              for i, s, _, _ in positives for strand_seq in (PLANT, reverse_complement(PLANT))
              for m in re.finditer(strand_seq, s)}
    assert {(i, start) for i, start, _, _ in places} >= {(i, start) for i, _, start, _ in positives}
    found = {(r["id"], int(r["start"]), int(r["end"]), r["strand"]) for r in instances}
    assert all(end - start == 24 for _, start, end, _ in found)
    for record_id, start, end, strand in places:
        window = [f for f in found if f[0] == record_id and f[3] == strand and f[1] <= start and end <= f[2]]
        assert window or start < 9 or end > 100 - 9, (record_id, start, strand)
    for r in instances:
        assert any(oriented[j:j + 6] in r["sequence"] for j in range(3)), r
    assert sum(oriented in r["sequence"] for r in instances) >= 30
    from memelite.io import read_meme

    meme = read_meme(str(out / "motifs.meme"))
    assert len(meme) == len(motifs)
    for row in motifs:
        assert (out / "logos" / f"{row['motif']}.png").stat().st_size > 0
        assert (out / "logos" / f"{row['motif']}.svg").read_text().lstrip().startswith("<?xml")
    assert "motifs from" in capsys.readouterr().err


def test_shuffled_controls_without_negatives(planted, tmp_path, capsys):
    model, pos, _neg, _ = planted
    out = tmp_path / "out"
    assert run("-m", str(model), "--positives", str(pos), "-o", str(out), "--top-matches", "0", "--seed", "7") == 0
    err = capsys.readouterr().err
    assert "dinucleotide-shuffled controls" in err and "seed 7" in err
    consensus = read_tsv(out / "motifs.tsv")[0]["consensus"]
    assert PLANT in consensus or reverse_complement(PLANT) in consensus


def test_integrated_gradients_scores_run(planted, tmp_path):
    model, pos, neg, _ = planted
    out = tmp_path / "out"
    assert run("-m", str(model), "--positives", str(pos), "--negatives", str(neg), "-o", str(out), "--score", "ig",
               "--ig-steps", "4", "--top-matches", "0") == 0
    assert header(out / "motifs.tsv")[: len(MOTIF_COLUMNS)] == MOTIF_COLUMNS


def test_too_few_sequences_write_empty_tables_with_headers(planted, tmp_path, capsys):
    model, pos, _neg, positives = planted
    one = tmp_path / "one.fa"
    one.write_text(f">a\n{positives[0][1]}\n")
    out = tmp_path / "out"
    assert run("-m", str(model), "--positives", str(one), "--negatives", str(one), "-o", str(out)) == 0
    assert header(out / "motifs.tsv")[: len(MOTIF_COLUMNS)] == MOTIF_COLUMNS and len(read_tsv(out / "motifs.tsv")) == 0
    assert header(out / "instances.tsv") == INSTANCE_COLUMNS
    assert "note:" in capsys.readouterr().err


@pytest.mark.parametrize("options", [["--alpha", "0"], ["--alpha", "1.5"], ["--min-len", "0"], ["--window", "500"],
                                     ["--window", "3"], ["--score", "motif"], ["--layer", "2"]])
def test_usage_errors_exit_2(planted, tmp_path, options):
    model, pos, neg, _ = planted
    with pytest.raises(SystemExit) as stop:
        run("-m", str(model), "--positives", str(pos), "--negatives", str(neg), "-o", str(tmp_path / "o"), *options)
    assert stop.value.code == 2


def test_nothing_readable_exits_1(planted, tmp_path, capsys):
    model, pos, _neg, _ = planted
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGTXXACGT\n")
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    assert run("-m", str(model), "--positives", str(bad), "-o", str(tmp_path / "o")) == 1
    assert "rejected" in capsys.readouterr().err
    assert run("-m", str(model), "--positives", str(pos), "--negatives", str(empty), "-o", str(tmp_path / "o")) == 1
    assert not (tmp_path / "o").exists()
