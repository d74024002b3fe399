"""Write the app's one-click examples (assets/examples/) from held-out data only.

    python scripts/make_examples.py [--data data] [--shared ../shared/data]

- promoters.fa: two TATA promoters, two non-TATA promoters and two negatives of the promoter-300 test split (fold 4).
- ctcf.fa: three CTCF peaks and two shuffled peaks of the tfbs-ctcf test split (chr1, chr8).
- splice.fa: one acceptor, one donor and one non-site of the splice-400 test split.
- region.fa: 3 kb of chr22 from the pre-training hold-out (22:21,500,001-21,503,000), longer than one window.
The first records of each split that qualify are taken (files in split order), so the choice is reproducible.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def fasta(records: list[tuple[str, str]]) -> str:
    return "".join(f">{name}\n{sequence}\n" for name, sequence in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    out = ROOT / "assets" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    tata = {line.strip() for line in (args.shared / "deepromoter-tata/hs_pos_TATA.txt").read_text().splitlines()}
    test = rows(args.data / "promoter-300/test.csv")
    chosen = ([(f"TATA_promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "1" and r["sequence"] in tata][:2]
              + [(f"promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "1" and r["sequence"] not in tata][:2]
              + [(f"non_promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "0"][:2])
    (out / "promoters.fa").write_text(fasta(chosen))
    test = rows(args.data / "tfbs-ctcf/test.csv")
    chosen = ([(f"CTCF_peak_{r['id']}", r["sequence"]) for r in test if r["label"] == "1"][:3]
              + [(f"shuffled_{r['id']}", r["sequence"]) for r in test if r["label"] == "0"][:2])
    (out / "ctcf.fa").write_text(fasta(chosen))
    test = rows(args.data / "splice-400/test.csv")
    names = {"0": "acceptor", "1": "donor", "2": "neither"}
    chosen = [next((f"{names[c]}_{r['id']}", r["sequence"]) for r in test if r["label"] == c) for c in "012"]
    (out / "splice.fa").write_text(fasta(chosen))
    import sys

    sys.path.insert(0, str(ROOT))
    from dnabert_core.io import Genome

    with Genome(args.shared / "hg19-chr22-part/chr22_part.fa.gz") as genome:
        region = genome.fetch("22", 21_500_000, 21_503_000).upper()
    (out / "region.fa").write_text(fasta([("chr22:21500001-21503000 hg19, held out from pre-training", region)]))
    for path in sorted(out.glob("*.fa")):
        print(path, path.read_text().count(">"), "records")


if __name__ == "__main__":
    main()
