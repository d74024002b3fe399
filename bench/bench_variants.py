"""Variant scoring speed: in-silico mutagenesis and VCF scoring against (a) a loop that tokenises and runs each allele
alone at batch 1 and (b) plain ``predict`` on the same number of sequences, in one run.

- ISM: ten 300 bp held-out-like sequences (chr22 genome text, 19-22 Mb), every base to each other base: 9,000
  variants. Ours: ``viz.ism.saturation_mutagenesis`` (mutants built as byte codes, streamed through ``predict``).
- VCF: the first 2,000 variants of the 1000 Genomes chr22 sites VCF against the chr22 reference, flank 149 (300 bp
  windows). Ours: ``viz.vcf.variant_windows`` + ``viz.variant_effects.score_pairs`` (each distinct ref window once,
  one forward pass per window for probabilities and the attention landscape).
- (a) per-allele loop: for every variant, ``tokenizer.encode`` of the mutated sequence and ``model(ids)`` at batch 1
  under ``torch.inference_mode`` (what a user without batching writes). Timed on a sample and scaled.
- (b) plain ``predict`` on as many 300 bp sequences as ours scored (9,000 mutants; 2 x 2,000 windows), batch 32:
  the floor; ours should reach at least 0.9x of it (no overhead per variant).

Model: the shipped ``assets/models/promoter-300``. Run: ``PYTHONPATH=. .venv/bin/python bench/bench_variants.py
[--threads 2]`` (~5 minutes on two free cores).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from dnabert_core.io import Genome
from dnabert_core.model import load_model
from dnabert_core.predict import predict, set_threads
from dnabert_core.records import SequenceRecord

ROOT = Path(__file__).resolve().parents[1]
CHR22 = ROOT.parent / "shared" / "data" / "hg19-chr22-part"
MODEL = ROOT / "assets" / "models" / "promoter-300"


def timed(call):
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def per_allele_loop(loaded, sequences: list[str]) -> float:
    """Seconds per sequence of the batch-1 loop (tokenise, forward, softmax)."""
    model = loaded.model
    start = time.perf_counter()
    with torch.inference_mode():
        for sequence in sequences:
            ids = torch.from_numpy(loaded.tokenizer.encode(sequence))[None]
            torch.softmax(model(input_ids=ids).logits, dim=-1)
    return (time.perf_counter() - start) / len(sequences)


def plain_predict(loaded, sequences: list[str]) -> float:
    records = [SequenceRecord(f"s{i}", s) for i, s in enumerate(sequences)]
    _, seconds = timed(lambda: list(predict(loaded, records, batch_size=32)))
    return seconds


def bench_ism(loaded, genome: Genome) -> dict:
    from viz.ism import saturation_mutagenesis

    records = [SequenceRecord(f"w{i}", genome.fetch("22", 19_000_000 + 10_000 * i, 19_000_300 + 10_000 * i))
               for i in range(10)]
    results, ours = timed(lambda: [saturation_mutagenesis(loaded, r, batch_size=32) for r in records])
    n = sum(int(np.isfinite(r.effects).sum() - len(r.sequence)) for r in results)
    mutants = [r.sequence[:p] + b + r.sequence[p + 1:] for r in records[:1] for p in range(0, 300, 3)
               for b in "ACGT" if b != r.sequence[p]][:200]
    loop = per_allele_loop(loaded, mutants) * n
    floor = plain_predict(loaded, [m for _ in range(n // len(mutants) + 1) for m in mutants][:n])
    return {"case": f"ISM, 10 x 300 bp ({n:,} variants)", "n": n, "ours": ours, "loop": loop, "predict": floor}


def bench_vcf(loaded, genome: Genome) -> dict:
    from itertools import islice

    from viz.variant_effects import pairs_from_windows, score_pairs
    from viz.vcf import iter_variant_windows
    from dnabert_core.records import VariantWindow

    path = CHR22 / "ALL.chr22.phase3_shapeit2_mvncall_integrated_v5b.20130502.sites.vcf.gz"

    def ours_call():
        windows = [w for w in islice(iter_variant_windows(path, genome, 149), 2_000) if isinstance(w, VariantWindow)]
        return windows, list(score_pairs(loaded, pairs_from_windows(windows), batch_size=32))

    (windows, _effects), ours = timed(ours_call)
    sequences = [s for w in windows for s in (w.ref_sequence, w.alt_sequence)]
    loop = per_allele_loop(loaded, sequences[:200]) * len(sequences)
    floor = plain_predict(loaded, sequences)
    return {"case": f"VCF, {len(windows):,} variants (flank 149)", "n": len(windows), "ours": ours, "loop": loop,
            "predict": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    loaded = load_model(MODEL)
    with Genome(CHR22 / "chr22_part.fa.gz") as genome:
        rows = [bench_ism(loaded, genome), bench_vcf(loaded, genome)]
    print(f"threads {args.threads}, model {MODEL.name}")
    print("| case | per-allele loop, batch 1 (s) | plain predict, same sequences (s) | ours (s) | variants/s | "
          "vs loop | vs predict |\n|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['loop']:.1f} | {r['predict']:.1f} | {r['ours']:.1f} | {r['n'] / r['ours']:.0f} | "
              f"{r['loop'] / r['ours']:.1f}x | {r['predict'] / r['ours']:.2f}x |")


if __name__ == "__main__":
    main()
