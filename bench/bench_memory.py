"""Peak memory of ``dnabert predict`` on growing FASTA files: streamed (flat) against reading everything first.

For each size (default 1,000, 10,000 and 100,000 random 300 bp sequences, FASTA with 60-column lines, written to a
temp dir) two subprocesses run on the same file and model, and their peak resident set size is read from
``/usr/bin/time -v`` (or, without it, ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a one-child wrapper):

- ours: ``python -m viz.cli predict -m MODEL FASTA -o out.tsv --quiet --threads T`` (records are parsed, batched,
  predicted and written in chunks of 1,024);
- baseline "load-all": an inline script that reads every record with ``dnabert_core.io.read_records`` into a list,
  predicts them all into a list, then writes the same TSV (what a user script that collects first does);
- floor: the same interpreter importing ``viz.cli`` and loading the model, no sequences.

The model is a tiny random one (``build_config(6, layers=1, hidden=32, heads=2, intermediate=64)``): the point is the
memory profile of parsing, batching and writing, not model speed. ``--threads`` defaults to 1 because on a shared
2-core machine two OpenMP threads of a tiny model mostly wait for each other; it does not change the memory profile.

A second table holds the two cases of the issue, each in its own subprocess beside the floor: ours on (a) a single
record of ``--long-mb`` (default 50) million random bases, FASTA with 60-column lines, predicted in windows (the
model's window, half-window step: one output row, every window's probabilities kept), and (b) 100,000 records of
300 bp (the largest row of the first table; run on its own when ``--sizes`` leaves it out).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_memory.py`` (about 25 minutes on one free core, 10 of them the 50 Mb
record) or add ``--quick`` (2,500 and 10,000 sequences and a 5 Mb record, about 5 minutes).

Target: ours stays flat: its peak RSS at 100,000 sequences is within 10 MB of its peak at the first size holding at
least two chunks (10,000); 1,000 sequences fit one chunk and never reach the steady state. The bytes per extra
sequence are printed for both approaches: a streamed pipeline should be near 0.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLAT_TOLERANCE_MB = 10.0
CHUNK = 1024  # records the CLI holds at once (its --chunk-size default)
SHORT_RECORDS = 100_000

LOAD_ALL = """
import csv, sys
import torch
from dnabert_core.io import read_records
from dnabert_core.model import load_model
from dnabert_core.predict import predict
model, fasta, output, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
loaded = load_model(model)
records = list(read_records(fasta, min_length=loaded.k).records)
predictions = list(predict(loaded, records))
with open(output, "w", newline="") as handle:
    writer = csv.writer(handle, delimiter="\\t", lineterminator="\\n")
    writer.writerow(["id", "length"] + [f"prob_{label}" for label in loaded.labels] + ["pred"])
    for p in predictions:
        writer.writerow([p.record_id, p.length, *(f"{x:.6g}" for x in p.probs), loaded.labels[int(p.probs.argmax())]])
"""

FLOOR = """
import sys
import torch
import viz.cli
from dnabert_core.model import load_model
torch.set_num_threads(int(sys.argv[2]))
load_model(sys.argv[1])
"""

# max RSS of one child, for machines without /usr/bin/time (ru_maxrss is in KiB on Linux)
RUSAGE_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(f"Maximum resident set size (kbytes): {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def write_fasta(path: Path, n: int, length: int, rng: np.random.Generator) -> None:
    """``n`` random ACGT records of ``length`` bp, 60 bases a line, written in blocks (never all in memory)."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with path.open("w", encoding="ascii") as handle:
        for first in range(0, n, 1000):
            block = letters[rng.integers(0, 4, size=(min(1000, n - first), length))]
            lines = []
            for offset, row in enumerate(block):
                text = row.tobytes().decode("ascii")
                lines.append(f">seq{first + offset}\n" + "\n".join(text[i : i + 60] for i in range(0, length, 60)))
            handle.write("\n".join(lines) + "\n")


def write_long_fasta(path: Path, n_bases: int, rng: np.random.Generator) -> None:
    """One record of ``n_bases`` random ACGT bases, 60 a line, written in blocks of 983,040 bases (16,384 lines)."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    block = 60 * 16384
    with path.open("w", encoding="ascii") as handle:
        handle.write(">long\n")
        for first in range(0, n_bases, block):
            text = letters[rng.integers(0, 4, size=min(block, n_bases - first))].tobytes().decode("ascii")
            handle.write("\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n")


def build_model(folder: Path) -> None:
    """Save the tiny random classifier used for every run."""
    import torch
    from transformers import BertForSequenceClassification

    from dnabert_core.model import build_config, save_model
    from dnabert_core.tokenizer import KmerTokenizer

    torch.manual_seed(0)
    config = build_config(6, layers=1, hidden=32, heads=2, intermediate=64)
    save_model(BertForSequenceClassification(config), KmerTokenizer(6), folder)


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run ``command`` from the project root; its peak RSS in MB and wall seconds. Fails loudly on a non-zero exit."""
    time_binary = shutil.which("time")
    wrapped = [time_binary, "-v", *command] if time_binary else [PYTHON, "-c", RUSAGE_WRAPPER, *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    result = subprocess.run(wrapped, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no peak RSS in the output of {' '.join(wrapped)}:\n{result.stderr[-3000:]}")
    return int(match.group(1)) / 1024, seconds


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,500 and 10,000 sequences (smoke run)")
    parser.add_argument("--sizes", default=None, help="comma-separated numbers of sequences (default 1000,10000,100000)")
    parser.add_argument("--length", type=int, default=300, help="sequence length in bp")
    parser.add_argument("--long-mb", type=float, default=None,
                        help="million bases of the single long record (default 50; 5 with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both subprocesses")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in (args.sizes or ("2500,10000" if args.quick else "1000,10000,100000")).split(",")]
    rng = np.random.default_rng(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / "model"
        build_model(model)
        floor_mb, _ = peak_rss([PYTHON, "-c", FLOOR, str(model), str(args.threads)])
        rows = []
        for n in sizes:
            fasta = folder / f"random_{n}.fa"
            write_fasta(fasta, n, args.length, rng)
            ours_out, base_out = folder / f"ours_{n}.tsv", folder / f"load_all_{n}.tsv"
            ours_cmd = [PYTHON, "-m", "viz.cli", "predict", "-m", str(model), str(fasta), "-o", str(ours_out),
                        "--quiet", "--threads", str(args.threads)]
            base_cmd = [PYTHON, "-c", LOAD_ALL, str(model), str(fasta), str(base_out), str(args.threads)]
            ours_mb, ours_s = peak_rss(ours_cmd)
            base_mb, base_s = peak_rss(base_cmd)
            assert count_rows(ours_out) == n, f"{ours_out}: {count_rows(ours_out)} rows, expected {n}"
            assert ours_out.read_text() == base_out.read_text(), f"n={n}: ours and load-all outputs differ"
            rows.append((n, ours_mb, base_mb, ours_s, base_s, fasta.stat().st_size / 2**20))
            fasta.unlink()

        def ours_alone(fasta: Path, output: Path) -> tuple[float, float]:
            return peak_rss([PYTHON, "-m", "viz.cli", "predict", "-m", str(model), str(fasta), "-o", str(output),
                             "--quiet", "--threads", str(args.threads)])

        issue_rows = []
        long_bases = int((args.long_mb if args.long_mb is not None else (5 if args.quick else 50)) * 1e6)
        fasta = folder / "long.fa"
        write_long_fasta(fasta, long_bases, rng)
        long_mb, long_s = ours_alone(fasta, folder / "long.tsv")
        assert count_rows(folder / "long.tsv") == 1
        issue_rows.append((f"1 record of {long_bases / 1e6:g} Mb (windows of the model's length)",
                           fasta.stat().st_size / 2**20, long_mb, long_s))
        fasta.unlink()
        short = next((row for row in rows if row[0] == SHORT_RECORDS), None)
        if short is None:
            fasta = folder / "short.fa"
            write_fasta(fasta, SHORT_RECORDS, args.length, rng)
            short_mb, short_s = ours_alone(fasta, folder / "short.tsv")
            short = (SHORT_RECORDS, short_mb, 0.0, short_s, 0.0, fasta.stat().st_size / 2**20)
            fasta.unlink()
        issue_rows.append((f"{SHORT_RECORDS:,} records of {args.length} bp", short[5], short[1], short[3]))

    print(f"Peak RSS of predicting random {args.length} bp FASTA files (tiny random model, {args.threads} torch "
          f"thread(s), /usr/bin/time -v); floor = imports + model load, no sequences: {floor_mb:.0f} MB. "
          f"Ratio = load-all / ours. Both write identical TSVs.\n")
    print(f"Command (ours): python -m viz.cli predict -m MODEL FASTA -o out.tsv --quiet --threads {args.threads}\n")
    print("| n sequences | FASTA (MB) | peak RSS ours (MB) | peak RSS load-all (MB) | ratio | ours above floor (MB) "
          "| time ours (s) | time load-all (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, ours_mb, base_mb, ours_s, base_s, fasta_mb in rows:
        print(f"| {n:,} | {fasta_mb:.1f} | {ours_mb:.0f} | {base_mb:.0f} | {base_mb / ours_mb:.2f}x "
              f"| {ours_mb - floor_mb:+.0f} | {ours_s:.1f} | {base_s:.1f} |")
    # a run shorter than two chunks never reaches the steady state, so flatness is judged from the first longer one
    steady = [row for row in rows if row[0] >= 2 * CHUNK] or rows
    first, last = steady[0], rows[-1]
    extra = max(last[0] - first[0], 1)
    for name, column in (("ours", 1), ("load-all", 2)):
        growth = last[column] - first[column]
        print(f"\n{name}: {growth:+.1f} MB from {first[0]:,} to {last[0]:,} sequences "
              f"({growth * 2**20 / extra:.0f} bytes per extra sequence)", end="")
    growth = last[1] - first[1]
    verdict = "flat" if growth <= FLAT_TOLERANCE_MB else "NOT flat"
    print(f"\nours is {verdict} (target: within {FLAT_TOLERANCE_MB:.0f} MB from {first[0]:,} to {last[0]:,})")
    print(f"\nThe issue's two cases (ours, one subprocess each; floor {floor_mb:.0f} MB):\n")
    print("| case | FASTA (MB) | peak RSS ours (MB) | above floor (MB) | time (s) |")
    print("|---|---:|---:|---:|---:|")
    for case, fasta_mb, peak_mb, seconds in issue_rows:
        print(f"| {case} | {fasta_mb:.1f} | {peak_mb:.0f} | {peak_mb - floor_mb:+.0f} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
