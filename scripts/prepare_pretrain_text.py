"""Write the extra pre-training text and the exclusion list of the shipped encoder (data/pretrain/, not committed).

    python scripts/prepare_pretrain_text.py [--shared ../shared/data] [--data data] [--out data/pretrain]

- ``promoters.txt``: the promoter-300 training positives (folds 1-3 minus fold 4, from prepare_default_data.py), one
  per line: real promoter text beside the genome. Negatives are not used: shuffled promoters are not genome text.
- ``promoters_joined.txt``: the same promoters joined 20 at a time in random order, each line rotated by a random
  number of bases (``join_unaligned``), so that their TSS falls anywhere in a piece rather than at base 250 of each.
- ``exclude.txt``: every DNA stretch of 50 bp or more in the labelled shared sets (every task, every split), one per
  line. ``dnabert pretrain --exclude`` masks their occurrences in the genome text, so that no evaluation sequence of
  any task (whatever split it falls in later) is pre-trained on.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnabert_core.corpus import join_unaligned  # noqa: E402

DNA_RUN = re.compile(rb"[ACGTNacgtn]{50,}")
SKIP = {"hg19-chr22-part"}  # the genome itself
JOIN = 20  # promoters per line of promoters_joined.txt


def labelled_files(shared: Path) -> list[Path]:
    return sorted(p for p in shared.rglob("*") if p.is_file() and p.relative_to(shared).parts[0] not in SKIP
                  and p.suffix in {".csv", ".tsv", ".txt", ".data"} and p.name != "SOURCE.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--shared", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--data", type=Path, default=root / "data")
    parser.add_argument("--out", type=Path, default=root / "data" / "pretrain")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.data / "promoter-300" / "train.csv").open() as handle:
        promoters = [row["sequence"] for row in csv.DictReader(handle) if row["label"] == "1"]
    (args.out / "promoters.txt").write_text("\n".join(promoters) + "\n")
    joined = join_unaligned(promoters, JOIN, np.random.default_rng(0))
    (args.out / "promoters_joined.txt").write_text("\n".join(joined) + "\n")
    runs: set[bytes] = set()
    for path in labelled_files(args.shared):
        runs.update(match.upper() for match in DNA_RUN.findall(path.read_bytes()))
    (args.out / "exclude.txt").write_bytes(b"\n".join(sorted(runs)) + b"\n")
    print(f"{len(promoters)} training promoters; {len(runs)} distinct labelled sequences to exclude")


if __name__ == "__main__":
    main()
