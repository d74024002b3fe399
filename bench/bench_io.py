"""Peak memory and time of reading one long FASTA record (a chromosome) with ``dnabert_core.io.read_records``.

Each case runs in a fresh subprocess that imports ``dnabert_core.io``, reads the file and reports its own peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and the wall time of ``read_records`` alone; the
floor is the same interpreter importing ``dnabert_core.io`` and reading nothing. The kept record itself (a str of one
byte per base) is part of every peak.

- baseline: the source tree given by ``--baseline`` (e.g. the io module before the split, extracted with
  ``git archive 9f75153 dnabert_core | tar -x -C /tmp/io-before``);
- ours: this repository.

Run: ``PYTHONPATH=. python bench/bench_io.py --baseline /tmp/io-before`` (about two minutes; ``--mb`` sets the size,
``--repeat`` the runs per case, of which the fastest counts).
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import resource, sys, time
from dnabert_core.io import read_records
start = time.perf_counter()
parsed = read_records(sys.argv[1]) if len(sys.argv) > 1 else None
seconds = time.perf_counter() - start
assert parsed is None or (len(parsed.records) == 1 and not parsed.errors), parsed and parsed.errors
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_fasta(path: Path, n_bases: int, width: int | None) -> None:
    """One record of ``n_bases`` random soft-masked bases, ``width`` bases a line (None: one line)."""
    rng = random.Random(0)
    block = "".join(rng.choices("ACGTacgtN", k=1 << 20))
    with open(path, "w") as out:
        out.write(">chrLong test record\n")
        written = 0
        while written < n_bases:
            piece = block[: n_bases - written]
            if width is None:
                out.write(piece)
            else:
                out.write("\n".join(piece[i : i + width] for i in range(0, len(piece), width)) + "\n")
            written += len(piece)
        out.write("\n")


def run(tree: Path, *args: str, repeat: int = 1) -> tuple[float, float]:
    """(seconds, peak RSS in MiB), each the smallest of ``repeat`` runs of the child script with ``tree`` first on
    the import path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, cwd=tree, capture_output=True,
                              text=True, check=True)
        runs.append([float(value) for value in done.stdout.split()])
    return min(seconds for seconds, _ in runs), min(peak for _, peak in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="source tree of the baseline dnabert_core")
    parser.add_argument("--mb", type=int, default=50, help="record length in millions of bases (default: 50)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the smallest numbers count (default: 3)")
    args = parser.parse_args()
    n_bases = args.mb * 1_000_000
    print(f"{'case':<34} {'baseline':>10} {'ours':>10} {'ratio':>7}")
    floor = [run(tree)[1] for tree in (args.baseline, ROOT)]
    print(f"{'import only: peak RSS (MiB)':<34} {floor[0]:>10.0f} {floor[1]:>10.0f} {floor[1] / floor[0]:>7.2f}")
    with tempfile.TemporaryDirectory() as folder:
        for width in (60, None):
            path = Path(folder) / "long.fa"
            write_fasta(path, n_bases, width)
            shape = f"{args.mb} Mb, {f'{width}-col lines' if width else 'one line'}"
            (base_s, base_mb), (our_s, our_mb) = (run(tree, str(path), repeat=args.repeat)
                                                  for tree in (args.baseline, ROOT))
            print(f"{shape + ': peak RSS (MiB)':<34} {base_mb:>10.0f} {our_mb:>10.0f} {our_mb / base_mb:>7.2f}")
            print(f"{shape + ': time (s)':<34} {base_s:>10.2f} {our_s:>10.2f} {our_s / base_s:>7.2f}")


if __name__ == "__main__":
    main()
