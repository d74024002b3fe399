"""Tokenisation throughput: our vectorised k-mer tokenizer against the naive reference users write today.

Baselines: (1) split into space-separated k-mers and look each up in a dict read from vocab.txt; (2) transformers'
``BertTokenizer`` (``do_lower_case=False``) on the same space-separated text, one call per sequence and one batch call.
Ours: ``KmerTokenizer.encode_many`` (one vectorised pass over all sequences), ``KmerTokenizer.batch`` (padded ids and
mask) and, for reference, ``KmerTokenizer.encode`` called once per sequence. Every path is asserted to give the naive
reference's ids before anything is timed. Target: ours >= 20x the naive reference on 10,000 x 300 bp.

    python bench/bench_tokenize.py            # 10,000 sequences of 300 bp, k = 6 and 3, plus 200-500 bp
    python bench/bench_tokenize.py --quick    # 1,000 sequences
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnabert_core.tokenizer import KmerTokenizer  # noqa: E402


def naive_encode(sequence: str, k: int, vocab: dict[str, int]) -> list[int]:
    text = " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))
    return [vocab["[CLS]"]] + [vocab.get(token, vocab["[UNK]"]) for token in text.split()] + [vocab["[SEP]"]]


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs, in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def bench(label: str, sequences: list[str], k: int, repeats: int) -> list[tuple[str, float, float]]:
    from transformers import BertTokenizer

    tokenizer = KmerTokenizer(k)
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_vocabulary(folder)
        vocab = {token: index for index, token in enumerate(Path(folder, "vocab.txt").read_text().splitlines())}
        bert = BertTokenizer.from_pretrained(folder, do_lower_case=False)
    texts = [" ".join(s[i : i + k] for i in range(len(s) - k + 1)) for s in sequences]
    expected = [naive_encode(s, k, vocab) for s in sequences]
    assert [ids.tolist() for ids in tokenizer.encode_many(sequences)] == expected, "encode_many differs from naive"
    assert [tokenizer.encode(s).tolist() for s in sequences[:200]] == expected[:200], "encode differs from naive"
    assert bert(texts[:50])["input_ids"] == expected[:50], "BertTokenizer differs from naive"
    times = {
        "naive": best_time(lambda: [naive_encode(s, k, vocab) for s in sequences], repeats),
        "bert_each": best_time(lambda: [bert(t)["input_ids"] for t in texts], 1),
        "bert_batch": best_time(lambda: bert(texts)["input_ids"], 1),
        "encode_many": best_time(lambda: tokenizer.encode_many(sequences), repeats),
        "batch": best_time(lambda: tokenizer.batch(sequences), repeats),
        "encode": best_time(lambda: [tokenizer.encode(s) for s in sequences], repeats),
    }
    p = f"{len(sequences)} x {label}, k={k}"
    return [
        (f"{p}: naive split+dict -> KmerTokenizer.encode_many", times["naive"], times["encode_many"]),
        (f"{p}: naive split+dict -> KmerTokenizer.batch (padded ids + mask)", times["naive"], times["batch"]),
        (f"{p}: naive split+dict -> KmerTokenizer.encode, one call per sequence", times["naive"], times["encode"]),
        (f"{p}: BertTokenizer per sequence -> KmerTokenizer.encode_many", times["bert_each"], times["encode_many"]),
        (f"{p}: BertTokenizer one batch call -> KmerTokenizer.encode_many", times["bert_batch"], times["encode_many"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 sequences instead of 10,000")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best is reported)")
    args = parser.parse_args(argv)
    n = 1000 if args.quick else 10000
    rng = np.random.default_rng(0)
    fixed = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(n)]
    mixed = ["".join(rng.choice(list("ACGTN"), int(rng.integers(200, 501)), p=[0.2475] * 4 + [0.01])) for _ in range(n)]
    rows = bench("300 bp", fixed, 6, args.repeats) + bench("300 bp", fixed, 3, args.repeats)
    rows += bench("200-500 bp with N", mixed, 6, args.repeats)
    print("Tokenisation, best of runs; times in ms for all sequences; ratio = baseline / ours (target >= 20x).\n")
    print("| case | baseline (ms) | ours (ms) | ratio |\n|---|---:|---:|---:|")
    for case, baseline, ours in rows:
        print(f"| {case} | {baseline:.1f} | {ours:.1f} | {baseline / ours:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
