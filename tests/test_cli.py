"""`dnabert` end to end on a tiny model: outputs, rejected records, exit codes, help."""
from __future__ import annotations

import csv
import json
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnabert_core.model import load_model
from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna
from viz.cli import main

ROOT = Path(__file__).resolve().parents[1]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture()
def fasta(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "in.fa"
    path.write_text(
        f">good1 first record\n{random_dna(rng, 40)}\n{random_dna(rng, 20).lower()}\n"
        f">bad\nACGTACGXACGT\n"
        f">good2\n{random_dna(rng, 150)}\n"
    )
    return path


def test_predict_writes_tsv_and_lists_rejected_records(tiny_model_dir, fasta, tmp_path, capsys):
    out = tmp_path / "out" / "pred.tsv"
    code = main(["predict", "-m", str(tiny_model_dir), str(fasta), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert "record 'bad', position 8: invalid character 'X'" in err
    assert f"wrote {out}: 2 records, 1 rejected" in err
    rows = read_tsv(out)
    assert list(rows[0]) == ["id", "length", "prob_negative", "prob_positive", "pred"]
    assert [r["id"] for r in rows] == ["good1", "good2"]
    assert [int(r["length"]) for r in rows] == [60, 150]
    loaded = load_model(tiny_model_dir)
    text = fasta.read_text().split(">")
    sequences = ["".join(text[1].splitlines()[1:]).upper(), "".join(text[3].splitlines()[1:])]
    expected = list(predict(loaded, [SequenceRecord(i, s) for i, s in zip(["good1", "good2"], sequences)]))
    for row, prediction in zip(rows, expected):
        got = np.array([float(row["prob_negative"]), float(row["prob_positive"])])
        np.testing.assert_allclose(got, prediction.probs, atol=1e-5)
        assert row["pred"] == ("positive" if prediction.probs[1] > prediction.probs[0] else "negative")


def test_predict_reads_several_formats_at_once(tiny_model_dir, tmp_path, capsys):
    rng = np.random.default_rng(1)
    a, b, c = (random_dna(rng, n) for n in (30, 31, 32))
    with gzip.open(tmp_path / "x.fa.gz", "wt") as handle:
        handle.write(f">gz\n{a}\n")
    (tmp_path / "x.csv").write_text(f"id,sequence,label\ncsv1,{b},1\n")
    kmers = " ".join(c[i : i + 6] for i in range(len(c) - 5))
    (tmp_path / "x.tsv").write_text(f"sequence\tlabel\r\n{kmers}\t0\r\n")
    out = tmp_path / "out.tsv"
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "x.fa.gz"), str(tmp_path / "x.csv"),
                 str(tmp_path / "x.tsv"), "-o", str(out), "--quiet"]) == 0
    rows = read_tsv(out)
    assert [r["id"] for r in rows][:2] == ["gz", "csv1"]
    assert [int(r["length"]) for r in rows] == [30, 31, 32]


def test_progress_bar_is_sized_from_input_bytes_and_each_input_is_read_once(tiny_model_dir, fasta, tmp_path, capsys,
                                                                             monkeypatch):
    from dnabert_core import io

    opened = []
    iter_records = io.iter_records

    def spy(path, **kwargs):
        opened.append(path)
        return iter_records(path, **kwargs)

    monkeypatch.setattr(io, "iter_records", spy)
    packed = tmp_path / "more.fa.gz"
    packed.write_bytes(gzip.compress(b">packed\nACGTACGTACGTACGT\n"))
    assert main(["predict", "-m", str(tiny_model_dir), str(fasta), str(packed), "-o", str(tmp_path / "o.tsv")]) == 0
    assert opened == [str(fasta), str(packed)]  # no counting pass before the real one
    total = fasta.stat().st_size + packed.stat().st_size  # bytes on disk, compressed for the gzip file
    assert f"{total}/{total}" in capsys.readouterr().err


def test_encode_data_format_can_be_named(tiny_model_dir, tmp_path, capsys):
    sequence = random_dna(np.random.default_rng(3), 40)
    (tmp_path / "x.data").write_text(f">chr1:1-40 {sequence} 1\n>chr1:41-80_shuf {sequence[::-1]} 0\n")
    out = tmp_path / "o.tsv"
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "x.data"), "-o", str(out),
                 "--format", "encode_data", "--quiet"]) == 0
    assert [row["id"] for row in read_tsv(out)] == ["chr1:1-40", "chr1:41-80_shuf"]


def test_windows_output(tiny_model_dir, tmp_path):
    (tmp_path / "long.txt").write_text(random_dna(np.random.default_rng(2), 200) + "\n")
    out, windows = tmp_path / "o.tsv", tmp_path / "w.tsv"
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "long.txt"), "-o", str(out), "--window", "50",
                 "--step", "50", "--windows-output", str(windows), "--quiet"]) == 0
    rows = read_tsv(windows)
    assert [(r["id"], r["start"], r["end"]) for r in rows] == [
        ("seq1", "1", "50"), ("seq1", "51", "100"), ("seq1", "101", "150"), ("seq1", "151", "200")]  # 1-based
    mean = np.mean([float(r["prob_positive"]) for r in rows])
    assert float(read_tsv(out)[0]["prob_positive"]) == pytest.approx(mean, abs=1e-5)


def test_exit_1_when_nothing_could_be_processed(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "bad.fa").write_text(">a\nAC\n>b\nAC!GT\n")
    code = main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "bad.fa"), "-o", str(tmp_path / "o.tsv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "record 'a'" in err and "record 'b', position 3: invalid character '!'" in err
    assert f"no record could be processed from {tmp_path / 'bad.fa'} (2 rejected)" in err
    assert not (tmp_path / "o.tsv").exists() and not list(tmp_path.glob(".o.tsv*"))  # nothing half-written


def test_exit_1_when_model_cannot_load(tmp_path, fasta, capsys):
    (tmp_path / "empty-model").mkdir()
    code = main(["predict", "-m", str(tmp_path / "empty-model"), str(fasta), "-o", str(tmp_path / "o.tsv")])
    assert code == 1
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch-size", "0"], "must be a positive integer, got 0"),
        (["--window", "500"], "window 500: this model (k=3) takes windows of 3 to 64 bp"),
        (["--window", "40", "--step", "50"], "step 50 is larger than the window 40: the 10 bases between windows"),
        (["--step", "1000"], "step 1000 is larger than the window 64"),
        (["--target", "tata"], "unknown target class 'tata'"),
        (["--aggregate", "median"], "invalid choice: 'median'"),
    ],
)
def test_usage_errors_exit_2(tiny_model_dir, fasta, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "-m", str(tiny_model_dir), str(fasta), "-o", str(tmp_path / "o.tsv"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_input_is_a_usage_error(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "nope.fa"), "-o", str(tmp_path / "o.tsv")])
    assert exit_info.value.code == 2
    assert "input file not found" in capsys.readouterr().err


def test_help_documents_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # no line wrapping inside "(default: ...)"
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for expected in ("--batch-size", "(default: 32)", "(default: mean)", "(default: float32)", "example: dnabert"):
        assert expected in text


def test_convert(dnabert_format_dir, tmp_path, capsys):
    target = tmp_path / "converted"
    assert main(["convert", str(dnabert_format_dir), "-o", str(target)]) == 0
    assert (target / "model.safetensors").is_file()
    assert load_model(target, task="mlm").k == 6


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "viz.cli", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "predict" in result.stdout and "convert" in result.stdout


def test_pretrain_writes_model_folder_card_and_curve(tmp_path, capsys):
    rng = np.random.default_rng(3)
    genome = tmp_path / "genome.fa"
    genome.write_text(">chrT\n" + "N" * 600 + random_dna(rng, 3000) + "\n")
    out = tmp_path / "mini"
    code = main(["pretrain", "--fasta", str(genome), "--holdout", "chrT:3001-3600", "-o", str(out), "--k", "4",
                 "--steps", "2", "--batch-size", "2", "--log-every", "1", "--eval-every", "2", "--quiet",
                 "--cls-composition", "0.5"])
    assert code == 0
    assert {"config.json", "model.safetensors", "vocab.txt", "README.md", "loss_curve.png", "metrics.jsonl"} <= {
        p.name for p in out.iterdir()}
    card = (out / "README.md").read_text()
    assert "Region never trained on: chrT:3001-3600" in card and "unigram baseline" in card and "flank baseline" in card
    assert "[CLS] composition loss with weight 0.5" in card and "trained with the [CLS] composition objective" in card
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("cls_composition_kl" in line for line in logged if "loss" in line)
    assert "training regions: chrT:1-3000" in card
    assert load_model(out, task="mlm").k == 4


def test_finetune_writes_model_metrics_curves_and_card(tiny_model_dir, tmp_path, capsys):
    rng = np.random.default_rng(4)

    def write(path: Path, n: int) -> None:
        rows = ["id,sequence,label"]
        for i in range(n):
            label = i % 2
            sequence = random_dna(rng, 30)
            if label:
                sequence = sequence[:10] + "GGGGGGGG" + sequence[18:]
            rows.append(f"s{i},{sequence},{label}")
        path.write_text("\n".join(rows) + "\n")

    for name, n in (("train", 200), ("dev", 40), ("test", 60), ("other", 30)):
        write(tmp_path / f"{name}.csv", n)
    out = tmp_path / "ft"
    code = main(["finetune", "-m", str(tiny_model_dir), "--train", str(tmp_path / "train.csv"),
                 "--dev", str(tmp_path / "dev.csv"), "--test", str(tmp_path / "test.csv"), "-o", str(out),
                 "--heldout", f"other set={tmp_path / 'other.csv'}", "--cnn-minutes", "0.5",
                 "--steps", "60", "--eval-every", "20", "--lr", "3e-3", "--class-names", "plain,gggg", "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == ["plain", "gggg"] and metrics["n_test"] == 60
    assert {"accuracy", "f1", "mcc", "auroc", "auprc", "confusion_matrix"} <= set(metrics["test"])
    assert metrics["baseline"]["auroc"] > 0.9  # a planted G run: k-mer counts see it
    assert metrics["cnn"]["auroc"] > 0.9  # and so does a convolution
    assert list(metrics["heldout"]) == ["test", "other set"] and metrics["heldout"]["other set"]["n"] == 30
    assert metrics["heldout"]["test"]["model"] == metrics["test"]
    card = (out / "README.md").read_text()
    other = metrics["heldout"]["other set"]
    assert (f"| other set | 30 | {other['model']['auroc']:.4f} / {other['cnn']['auroc']:.4f} / "
            f"{other['kmer_lr']['auroc']:.4f} |") in card
    assert "CNN on one-hot bases" in card and "stopped by" in card
    assert {"roc_curve.png", "pr_curve.png", "loss_curve.png", "README.md", "model.safetensors"} <= {
        p.name for p in out.iterdir()}
    loaded = load_model(out)
    assert loaded.labels == ("plain", "gggg")
    # the card's numbers are the metrics file's numbers
    assert f"{metrics['test']['mcc']:.4f}" in (out / "README.md").read_text()
    # re-evaluating the saved model on the test file reproduces the reported AUROC
    from sklearn.metrics import roc_auc_score

    from dnabert_core.io import read_records

    for name, key in (("test", "test"), ("other", "other set")):
        records = read_records(tmp_path / f"{name}.csv").records
        probs = np.stack([p.probs for p in predict(loaded, records)])
        assert roc_auc_score([int(r.label) for r in records], probs[:, 1]) == pytest.approx(
            metrics["heldout"][key]["model"]["auroc"], abs=1e-6)


def test_attention_writes_long_tsv_equal_to_the_library_and_a_figure(tiny_model_dir, fasta, tmp_path, capsys):
    from viz.landscape import attention_landscapes

    out, figure = tmp_path / "att.tsv", tmp_path / "att.html"
    code = main(["attention", "-m", str(tiny_model_dir), str(fasta), "-o", str(out), "--layer", "1-2",
                 "--heads", "2,4", "--query", "mean", "--norm", "--figure", str(figure)])
    err = capsys.readouterr().err
    assert code == 0 and "record 'bad', position 8" in err and f"wrote {out}: 2 records, 1 rejected" in err
    rows = read_tsv(out)
    assert list(rows[0]) == ["id", "position", "base", "score"]
    assert [r["id"] for r in rows].count("good1") == 60 and [r["id"] for r in rows].count("good2") == 150
    assert rows[0]["position"] == "1" and rows[59]["position"] == "60"
    loaded = load_model(tiny_model_dir)
    text = fasta.read_text().split(">")
    good2 = "".join(text[3].splitlines()[1:])
    expected = next(attention_landscapes(loaded, [SequenceRecord("good2", good2)], layers=[0, 1], heads=[1, 3],
                                         query="mean", normalise=True))
    got = np.array([float(r["score"]) for r in rows if r["id"] == "good2"])
    np.testing.assert_allclose(got, expected.scores, rtol=1e-5, atol=1e-9)
    assert "".join(r["base"] for r in rows if r["id"] == "good2") == good2
    assert figure.stat().st_size > 100_000 and "good2" in figure.read_text()


@pytest.mark.parametrize("extra, message", [
    (["--layer", "3"], "--layer '3': this model has 2 (layer 1-2)"),
    (["--heads", "0"], "--heads '0': numbers start at 1"),
    (["--heads", "x"], "--heads 'x': give 1-based numbers or ranges"),
])
def test_attention_usage_errors(tiny_model_dir, fasta, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["attention", "-m", str(tiny_model_dir), str(fasta), "-o", str(tmp_path / "o.tsv"), *extra])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_attribute_writes_tsv_and_reports_delta(tiny_model_dir, fasta, tmp_path, capsys):
    out = tmp_path / "ig.tsv"
    code = main(["attribute", "-m", str(tiny_model_dir), str(fasta), "-o", str(out), "--target", "positive",
                 "--ig-steps", "8"])
    err = capsys.readouterr().err
    assert code == 0 and "largest convergence delta" in err
    rows = read_tsv(out)
    assert len(rows) == 210 and {r["id"] for r in rows} == {"good1", "good2"}
    with pytest.raises(SystemExit) as exit_info:
        main(["attribute", "-m", str(tiny_model_dir), str(fasta), "-o", str(out), "--target", "tata"])
    assert exit_info.value.code == 2 and "unknown target class 'tata'" in capsys.readouterr().err
