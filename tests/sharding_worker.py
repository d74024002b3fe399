"""Run by tests/test_sharding.py, alone or under torchrun: predict, scan, variants and ism on the same inputs,
outputs into OUT (written by rank 0)."""
from __future__ import annotations

import sys
from pathlib import Path

from viz.cli import main


def run(folder: str, out: str) -> None:
    data, target = Path(folder), Path(out)
    target.mkdir(parents=True, exist_ok=True)
    model = str(data / "model")
    common = ["-m", model, "--quiet", "--batch-size", "4"]
    codes = [
        main(["predict", *common, str(data / "in.fa"), "-o", str(target / "predict.tsv"), "--chunk-size", "5",
              "--windows-output", str(target / "windows.tsv")]),
        main(["scan", *common, "--fasta", str(data / "ref.fa"), "--region", "chr5:1-400", "-o",
              str(target / "scan.bedgraph"), "--window", "50", "--step", "20", "--peaks", str(target / "peaks.bed"),
              "--threshold", "0"]),
        main(["variants", *common, "--vcf", str(data / "calls.vcf"), "--fasta", str(data / "ref.fa"), "-o",
              str(target / "variants.tsv"), "--flank", "20"]),
        main(["ism", *common, str(data / "short.fa"), "-o", str(target / "ism.tsv")]),
    ]
    if any(codes):
        raise SystemExit(f"exit codes {codes}")


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
