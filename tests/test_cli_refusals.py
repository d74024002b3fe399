"""`dnabert` refuses what it cannot compute honestly, and says so: exit codes, no output file, the words that name the
problem (issue: no silently wrong answers)."""
from __future__ import annotations

import csv
import os
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnabert_core.model import save_model
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import random_dna, tiny_classifier
from viz.cli import main

ROOT = Path(__file__).resolve().parents[1]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture()
def sequences(tmp_path) -> Path:
    path = tmp_path / "in.fa"
    path.write_text(f">a\n{random_dna(np.random.default_rng(0), 60)}\n")
    return path


@pytest.mark.parametrize("command", ["predict", "attribute"])
def test_an_encoder_without_a_head_is_refused_for_probabilities(dnabert_format_dir, sequences, tmp_path, capsys,
                                                                 command):
    out = tmp_path / "o.tsv"
    assert main([command, "-m", str(dnabert_format_dir), str(sequences), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{dnabert_format_dir} is a BertForMaskedLM with no trained classification head" in err
    assert f"dnabert finetune -m {dnabert_format_dir}" in err
    assert not out.exists()


def test_attention_works_on_an_encoder(dnabert_format_dir, sequences, tmp_path):
    out = tmp_path / "att.tsv"
    assert main(["attention", "-m", str(dnabert_format_dir), str(sequences), "-o", str(out), "--quiet"]) == 0
    assert len(read_tsv(out)) == 60


def test_all_n_records_are_rejected_and_n_gaps_are_na(tiny_model_dir, tmp_path, capsys):
    rng = np.random.default_rng(1)
    gapped = random_dna(rng, 100) + "N" * 100 + random_dna(rng, 100)
    (tmp_path / "in.fa").write_text(f">gap\n{'N' * 1200}\n>region\n{gapped}\n")
    out, windows = tmp_path / "o.tsv", tmp_path / "w.tsv"
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "in.fa"), "-o", str(out), "--window", "50",
                 "--step", "25", "--windows-output", str(windows), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "rejected: record 'gap' (1200 bp): no informative window" in err
    assert "NA: record 'region', bases " in err and "windows mostly N, not scored" in err
    assert [r["id"] for r in read_tsv(out)] == ["region"] and "NA" not in out.read_text()
    rows = read_tsv(windows)
    for row in rows:  # NA exactly where more than half of the window's 3-mers hold an N
        piece = gapped[int(row["start"]) - 1 : int(row["end"])]
        unknown = sum("N" in piece[i : i + 3] for i in range(len(piece) - 2)) > (len(piece) - 2) / 2
        assert (row["prob_positive"] == "NA") == unknown, row
    assert any(row["prob_positive"] == "NA" for row in rows)
    assert "wrote" in err and "1 records, 1 rejected" in err
    tracks = tmp_path / "att.tsv"
    assert main(["attention", "-m", str(tiny_model_dir), str(tmp_path / "in.fa"), "-o", str(tracks), "--window", "50",
                 "--step", "25", "--quiet"]) == 0
    scores = [r["score"] for r in read_tsv(tracks)]
    assert len(scores) == 300 and "NA" in scores[100:200] and "NA" not in scores[:100] + scores[200:]


def test_only_n_input_writes_nothing_and_exits_1(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "n.fa").write_text(">gap\n" + "N" * 500 + "\n")
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "n.fa"), "-o", str(tmp_path / "o.tsv")]) == 1
    assert "no informative window" in capsys.readouterr().err and not (tmp_path / "o.tsv").exists()


def write_labelled(path: Path, n: int, length: int, rng: np.random.Generator, classes: int = 2) -> None:
    rows = ["id,sequence,label"]
    for i in range(n):
        sequence = random_dna(rng, length)
        if i % classes:
            sequence = sequence[:5] + "GGGGGGGG" + sequence[13:]
        rows.append(f"s{i},{sequence},{i % classes}")
    path.write_text("\n".join(rows) + "\n")


def test_finetune_records_the_training_length_and_predict_uses_it(tiny_model_dir, tmp_path, capsys):
    rng = np.random.default_rng(2)
    write_labelled(tmp_path / "train.csv", 40, 30, rng)
    out = tmp_path / "ft"
    assert main(["finetune", "-m", str(tiny_model_dir), "--train", str(tmp_path / "train.csv"), "-o", str(out),
                 "--steps", "4", "--eval-every", "2", "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["dnabert_training_length"] == 30
    (tmp_path / "q.fa").write_text(f">long\n{random_dna(rng, 90)}\n>short\n{random_dna(rng, 12)}\n")
    windows = tmp_path / "w.tsv"
    capsys.readouterr()
    assert main(["predict", "-m", str(out), str(tmp_path / "q.fa"), "-o", str(tmp_path / "p.tsv"),
                 "--windows-output", str(windows), "--quiet"]) == 0
    starts = [(r["start"], r["end"]) for r in read_tsv(windows) if r["id"] == "long"]
    assert starts == [("1", "30"), ("16", "45"), ("31", "60"), ("46", "75"), ("61", "90")]  # 30 bp, step 15
    err = capsys.readouterr().err
    assert "warning: 1 of 2 inputs are scored on 12-12 bp windows, but ft was trained on 30 bp inputs" in err


def test_finetune_adds_reverse_complements_to_training_only_and_crops(tiny_model_dir, tmp_path):
    from dnabert_core.recipes import with_reverse_complements
    from dnabert_core.records import SequenceRecord

    doubled = with_reverse_complements([SequenceRecord("a", "AACGT", "1"), SequenceRecord("b", "GGGTA", "0")])
    assert [(r.id, r.sequence, r.label) for r in doubled] == [
        ("a", "AACGT", "1"), ("b", "GGGTA", "0"), ("a:rc", "ACGTT", "1"), ("b:rc", "TACCC", "0")]
    rng = np.random.default_rng(3)
    for name, n in (("train", 40), ("dev", 10), ("test", 12)):
        write_labelled(tmp_path / f"{name}.csv", n, 30, rng)
    out = tmp_path / "ft"
    assert main(["finetune", "-m", str(tiny_model_dir), "--train", str(tmp_path / "train.csv"), "--dev",
                 str(tmp_path / "dev.csv"), "--test", str(tmp_path / "test.csv"), "-o", str(out), "--steps", "2",
                 "--eval-every", "2", "--cnn-minutes", "0", "--add-reverse-complements", "--random-crop", "3",
                 "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_dev"], metrics["n_test"]) == (80, 10, 12)
    card = (out / "README.md").read_text()
    assert "Training 80 (40 and their reverse complements; the peers train on the same set)" in card
    assert "random crops of up to 3 bases from the ends of each training input" in card


def test_finetune_refuses_a_single_class(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "one.csv").write_text("sequence,label\n" + "".join(f"{'ACGT' * 8},1\n" for _ in range(10)))
    code = main(["finetune", "-m", str(tiny_model_dir), "--train", str(tmp_path / "one.csv"), "-o",
                 str(tmp_path / "ft"), "--steps", "2", "--quiet"])
    assert code == 1 and "every training record has the label '1'" in capsys.readouterr().err
    assert not (tmp_path / "ft" / "model.safetensors").exists()


def test_max_on_several_classes_needs_a_target(tmp_path, sequences, capsys):
    folder = save_model(tiny_classifier(3, labels=["acceptor", "donor", "neither"]), KmerTokenizer(3, 64),
                        tmp_path / "three")
    base = ["predict", "-m", str(folder), str(sequences), "-o", str(tmp_path / "o.tsv"), "--aggregate", "max"]
    assert "say which with a target" in usage_error(base, capsys)
    assert main([*base, "--target", "donor", "--quiet"]) == 0


def test_encode_data_input_is_read(tiny_model_dir, tmp_path, capsys):
    rng = np.random.default_rng(3)
    lines = [f">chr1:{i * 101}-{i * 101 + 101} {random_dna(rng, 101)} {i % 2}" for i in range(5)]
    (tmp_path / "x.data").write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.tsv"
    assert main(["predict", "-m", str(tiny_model_dir), str(tmp_path / "x.data"), "-o", str(out), "--quiet"]) == 0
    assert [r["id"] for r in read_tsv(out)] == [f"chr1:{i * 101}-{i * 101 + 101}" for i in range(5)]
    assert "rejected" not in capsys.readouterr().err


def test_a_directory_or_an_empty_file_is_named(tiny_model_dir, tmp_path, capsys):
    argv = ["predict", "-m", str(tiny_model_dir), "-o", str(tmp_path / "o.tsv")]
    assert f"input {tmp_path} is a directory, not a sequence file" in usage_error([*argv, str(tmp_path)], capsys)
    (tmp_path / "empty.fa").write_text("")
    assert main([*argv, str(tmp_path / "empty.fa")]) == 1
    err = capsys.readouterr().err
    assert "empty.fa" in err and "empty" in err.split("rejected:")[1] and not (tmp_path / "o.tsv").exists()


def test_bad_figure_name_fails_before_any_work(tiny_model_dir, sequences, tmp_path, capsys):
    out = tmp_path / "o.tsv"
    err = usage_error(["attention", "-m", str(tiny_model_dir), str(sequences), "-o", str(out), "--figure", "x.pdf"],
                      capsys)
    assert "--figure x.pdf: the name must end in .html, .png, .svg" in err and not out.exists()


def test_convert_onto_a_file_is_a_clear_error(dnabert_format_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["convert", str(dnabert_format_dir), "-o", str(tmp_path / "file")]) == 1
    assert "is a file; give a folder" in capsys.readouterr().err


def test_unexpected_failures_are_one_line_without_traceback(tiny_model_dir, sequences, tmp_path, capsys,
                                                              monkeypatch):
    import viz.cli.predict as predict_command

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(predict_command, "predict", broken)
    assert main(["predict", "-m", str(tiny_model_dir), str(sequences), "-o", str(tmp_path / "o.tsv")]) == 1
    err = capsys.readouterr().err
    assert "error: unexpected failure (RuntimeError: boom); run with -v" in err and "Traceback" not in err
    assert not (tmp_path / "o.tsv").exists() and not list(tmp_path.glob(".o.tsv*"))


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("dnabert ")


def test_a_closed_pipe_ends_quietly(tiny_model_dir, tmp_path):
    rng = np.random.default_rng(4)
    (tmp_path / "many.txt").write_text("".join(random_dna(rng, 40) + "\n" for _ in range(3000)))
    command = (f"{sys.executable} -m viz.cli predict -m {tiny_model_dir} {tmp_path / 'many.txt'} -o - --quiet "
               f"--threads 1 | head -2")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.splitlines()[0].startswith("id\tlength") and len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.returncode == 0


def test_card_commands_carry_no_absolute_paths(monkeypatch, tmp_path):
    from viz.cli.train import command_line

    monkeypatch.chdir(tmp_path)
    line = command_line(["finetune", "-m", str(tmp_path / "models" / "enc"), "--train", "data/t.csv", "-o", "/x/y"])
    assert line == "dnabert finetune -m models/enc --train data/t.csv -o " + os.path.relpath("/x/y", tmp_path)
