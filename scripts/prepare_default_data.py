"""Write the train/dev/test splits of the embedded default models from ../shared/data (not committed: data/ is ignored).

    python scripts/prepare_default_data.py [--shared ../shared/data] [--out data]

Every split is deduplicated by exact sequence first, so that no test sequence is seen in training:
- promoter-300 (gena-promoter-300): folds 1-3 -> train and dev (10%, seeded), fold 4 -> test. A sequence that occurs
  in fold 4 is dropped from folds 1-3; a sequence with conflicting labels is dropped everywhere.
- tfbs-ctcf (encode690 Gm12878 CTCF): split by chromosome: test chr1, chr8 (about 15%), dev chr2 (about 8%), the rest
  train. Label-0 rows are shuffled peaks named after their peak's location, so they follow its chromosome.
- splice-400 (GUE reconstructed splice dev + test): pooled, deduplicated, re-split 80/10/10 stratified by class
  (labels 0 acceptor, 1 donor, 2 neither).
Each output CSV has columns id, sequence, label. Prints the counts per split and label.
"""
from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

import numpy as np

SEED = 20211
CTCF_TEST = {"chr1", "chr8"}
CTCF_DEV = {"chr2"}


def read_csv(path: Path, sequence: str, label: str) -> list[tuple[str, str]]:
    with path.open() as handle:
        return [(row[sequence].upper(), row[label]) for row in csv.DictReader(handle)]


def drop_conflicts(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Keep the first copy of each sequence; drop sequences seen with two labels. Rows: (id, sequence, label)."""
    labels: dict[str, set[str]] = {}
    for _, sequence, label in rows:
        labels.setdefault(sequence, set()).add(label)
    seen, out = set(), []
    for row in rows:
        if len(labels[row[1]]) == 1 and row[1] not in seen:
            seen.add(row[1])
            out.append(row)
    return out


def write(folder: Path, name: str, rows: list[tuple[str, str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sequence", "label"])
        writer.writerows(rows)
    print(f"{folder.name}/{name}: {len(rows)} {dict(sorted(Counter(r[2] for r in rows).items()))}")


def promoter(shared: Path, out: Path) -> None:
    folds = {f: read_csv(shared / "gena-promoter-300" / f"fold_{f}.csv", "sequence", "promoter_presence")
             for f in (1, 2, 3, 4)}
    rows = [(f"fold{f}_{i}", s, y, f) for f in folds for i, (s, y) in enumerate(folds[f])]
    clean = {r[:3] for r in drop_conflicts([r[:3] for r in rows])}
    test = [r[:3] for r in rows if r[3] == 4 and r[:3] in clean]
    test_sequences = {r[1] for r in test}
    pool = [r[:3] for r in rows if r[3] != 4 and r[:3] in clean and r[1] not in test_sequences]
    order = np.random.default_rng(SEED).permutation(len(pool))
    n_dev = len(pool) // 10
    write(out / "promoter-300", "train", [pool[i] for i in order[n_dev:]])
    write(out / "promoter-300", "dev", [pool[i] for i in order[:n_dev]])
    write(out / "promoter-300", "test", test)


def ctcf(shared: Path, out: Path) -> None:
    path = shared / "encode690-tfbs" / "wgEncodeAwgTfbsBroadGm12878CtcfUniPk" / "test.data"
    rows = []
    for line in path.read_text().splitlines():
        name, sequence, label = line[1:].split()
        rows.append((name, sequence.upper(), label))
    rows = drop_conflicts(rows)
    chrom = {r[0]: r[0].split(":")[0] for r in rows}
    write(out / "tfbs-ctcf", "train", [r for r in rows if chrom[r[0]] not in CTCF_TEST | CTCF_DEV])
    write(out / "tfbs-ctcf", "dev", [r for r in rows if chrom[r[0]] in CTCF_DEV])
    write(out / "tfbs-ctcf", "test", [r for r in rows if chrom[r[0]] in CTCF_TEST])


def splice(shared: Path, out: Path) -> None:
    folder = shared / "gue" / "splice" / "reconstructed"
    pooled = read_csv(folder / "dev.csv", "sequence", "label") + read_csv(folder / "test.csv", "sequence", "label")
    rows = drop_conflicts([(f"splice{i}", s, y) for i, (s, y) in enumerate(pooled)])
    rng = np.random.default_rng(SEED)
    split: dict[str, list] = {"train": [], "dev": [], "test": []}
    for label in sorted({r[2] for r in rows}):
        members = [r for r in rows if r[2] == label]
        order = rng.permutation(len(members))
        n = len(members) // 10
        split["test"] += [members[i] for i in order[:n]]
        split["dev"] += [members[i] for i in order[n : 2 * n]]
        split["train"] += [members[i] for i in order[2 * n :]]
    for name, members in split.items():
        write(out / "splice-400", name, members)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--shared", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "data")
    args = parser.parse_args()
    promoter(args.shared, args.out)
    ctcf(args.shared, args.out)
    splice(args.shared, args.out)


if __name__ == "__main__":
    main()
