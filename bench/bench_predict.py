"""Prediction throughput: ``predict`` against the recipe a competent transformers user writes, and the naive loop.

Models (random weights, k = 6, 2 classes), each saved with ``save_model`` to a temp folder and read back:
``build_config(6, size="small")`` (the shipped size: 4 layers, hidden 128, 4 heads, intermediate 512) and
``size="dnabert"`` (12 x 768, 12 heads, 3072; skipped by ``--quick``). Two input sets per model: random 300 bp
sequences (297 tokens with ``[CLS]``/``[SEP]``) and mixed lengths, uniform in 100-515 bp (97-512 tokens: one window
each), where length bucketing matters. The same records go through every path:

- naive: the folder's ``BertTokenizer`` on space-separated k-mers, ``BertForSequenceClassification
  .from_pretrained(folder, attn_implementation="eager")``, ``torch.no_grad()``, softmax, one sequence at a time;
- competent: the same tokenizer on 32 sequences at a time (``padding=True``, input order),
  ``BertForSequenceClassification.from_pretrained(folder)`` with transformers' default attention (SDPA),
  ``torch.inference_mode()``, softmax;
- ours float32: ``predict(load_model(folder), records)`` with its defaults (windows sorted by length within a chunk,
  batches of at most 32 rows and ``CPU_TOKEN_BUDGET`` padded tokens);
- ours int8: ``predict(with_precision(loaded, "int8"), records)`` (dynamic quantisation of the Linear layers), and the
  largest change of any probability against ours float32 on the same records.

Further tables: ``--sweep`` (shipped size only) times ours at fixed token budgets (row cap 256) and at fixed batch
sizes (no budget): the measurement behind ``CPU_TOKEN_BUDGET``; bfloat16 (few sequences: no native support on AVX2);
model FLOPs against the measured matmul peak; padded batches against batch 1; where ours spends its time.

- model FLOPs per sequence = 2 * P * n + 4 * L * n^2 * h + 2 * (h^2 + h * C), with P = L * (4 h^2 + 2 h I) the
  encoder's matmul weights, n tokens, L layers, h hidden, I intermediate, C classes (pooler and classifier run on
  [CLS] only); biases, layer norms, GELU and softmax are not counted;
- peak: the best float32 ``torch.matmul`` (2 m k n FLOPs) with the same threads over 2048^2 and 4096^2 squares and
  the DNABERT feed-forward GEMM (297 x 768 @ 768 x 3072, and 8 x 297 rows), measured at the start and again after
  the model timings; the highest is the peak.

Timings on a shared machine vary a lot: with 2 OpenMP threads on 2 cores, a co-running process makes every
parallel region wait for a descheduled thread, which slows batch-1 loops up to 20x and big batches ~2x. So every
case is timed in short segments, interleaved across paths (naive, competent, ours, int8 alternate), each started
after waiting (within ``--wait-budget`` seconds in all) for other processes to go idle; during each segment the CPU
time used by other processes is read from /proc/stat. A case's rate is its best clean segment (others below
``--clean-limit``, default 0.15 cores), or its best segment marked * when none was clean. torch runs on
``--threads`` threads (default 2).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_predict.py`` (on one free core: ~8 minutes for the shipped size,
~16 for the DNABERT size; ``--models small`` runs one) or add ``--quick`` (shipped size only, fewer sequences, ~3
minutes); ``--sweep`` adds the token-budget table (~8 minutes more).

Targets: ours float32 >= the competent recipe (ratio >= 1.0) and ours int8 > it, on every case; DNABERT-size model
>= 75% of the measured matmul peak.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer
from transformers.utils import logging as hf_logging

from dnabert_core.model import LoadedModel, build_config, load_model, save_model
from dnabert_core.predict import (CPU_TOKEN_BUDGET, class_probabilities, map_windows, predict, set_threads,
                                  with_precision)
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import ALPHABET, KmerTokenizer

K = 6
LENGTH = 300
MIXED = (100, 515)  # 97..512 tokens: one window each
COMPETENT_BATCH = 32
PEAK_TARGET = 0.75
CLEAN_LIMIT = 0.15  # cores other processes may use during a segment that still counts as clean
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SWEEP_BUDGETS = (1024, 2048, 4096, 8192, 16384)
SWEEP_BATCHES = (1, 4, 8, 16, 32)


@dataclass(frozen=True)
class Sizes:
    """How many sequences each measurement uses."""

    naive: int  # sequences per naive segment
    batched: int  # sequences per competent / ours / int8 segment (a multiple of 32)
    rounds: int  # segments per path, interleaved
    bfloat16: int  # 0: not measured
    padded: int
    warmup: int  # sequences through each path before timing it
    breakdown: int  # 0: not measured


class Meter:
    """Times segments on a shared machine: waits (within a budget) until other processes are idle, then records
    how many cores they used during the segment, from /proc/stat minus this process's own CPU time.
    """

    def __init__(self, wait_budget: float, max_wait: float = 15.0, limit: float = CLEAN_LIMIT):
        self.wait_budget = wait_budget
        self.wait_left = wait_budget
        self.max_wait = max_wait
        self.limit = limit
        self.enabled = Path("/proc/stat").is_file()

    @staticmethod
    def _busy_seconds() -> float:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(x) for x in handle.readline().split()[1:]]
        return (sum(values) - values[3] - values[4]) / HZ  # all CPUs, minus idle and iowait

    @staticmethod
    def _own_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def _others(self, start_busy: float, start_own: float, seconds: float) -> float:
        used = self._busy_seconds() - start_busy - (self._own_seconds() - start_own)
        return max(used, 0.0) / seconds

    def wait_quiet(self) -> None:
        start = time.perf_counter()
        while self.enabled and self.wait_left > 0 and time.perf_counter() - start < self.max_wait:
            busy, own = self._busy_seconds(), self._own_seconds()
            time.sleep(0.5)
            if self._others(busy, own, 0.5) < self.limit:
                break
        self.wait_left -= time.perf_counter() - start

    def measure(self, fn: Callable[[], object], items: int, rate: Rate) -> object:
        """Run ``fn`` (processing ``items``) once after waiting for quiet; add its throughput to ``rate``."""
        self.wait_quiet()
        busy, own = (self._busy_seconds(), self._own_seconds()) if self.enabled else (0.0, 0.0)
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        others = self._others(busy, own, seconds) if self.enabled else 0.0
        rate.add(items / seconds, others < self.limit)
        return result


@dataclass
class Rate:
    """Best throughput of a case over its segments; clean ones (others idle) preferred."""

    best_clean: float = 0.0
    best_any: float = 0.0
    segments: int = 0
    clean: int = 0

    def add(self, value: float, clean: bool) -> None:
        self.segments += 1
        self.best_any = max(self.best_any, value)
        if clean:
            self.clean += 1
            self.best_clean = max(self.best_clean, value)

    @property
    def value(self) -> float:
        return self.best_clean if self.clean else self.best_any

    @property
    def note(self) -> str:
        return f"{self.clean}/{self.segments}" + ("" if self.clean else "*")


def random_records(n: int, lengths: tuple[int, int], rng: np.random.Generator, prefix: str) -> list[SequenceRecord]:
    """``n`` uniform random ACGT records with lengths drawn from [lo, hi]."""
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    sizes = rng.integers(lengths[0], lengths[1] + 1, size=n)
    return [
        SequenceRecord(id=f"{prefix}{i}", sequence=letters[rng.integers(0, 4, size=int(size))].tobytes().decode())
        for i, size in enumerate(sizes)
    ]


def model_flops(config: BertConfig, n_tokens: int) -> float:
    """Matmul FLOPs of one sequence (formula in the module docstring)."""
    h, layers, inter, classes = config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.num_labels
    encoder_weights = layers * (4 * h * h + 2 * h * inter)
    return 2.0 * encoder_weights * n_tokens + 4.0 * layers * n_tokens**2 * h + 2.0 * (h * h + h * classes)


def matmul_peak(meter: Meter, repeats: int) -> dict[str, Rate]:
    """Float32 GFLOP/s of ``torch.matmul`` (torch's current thread count) per shape: squares, and the DNABERT-size
    feed-forward GEMM at 1 and 8 sequences of 297 tokens (MKL runs these faster than squares on this CPU).
    """
    tokens = LENGTH - K + 3
    shapes = {
        "2048x2048 @ 2048x2048": (2048, 2048, 2048, repeats),
        "4096x4096 @ 4096x4096": (4096, 4096, 4096, max(repeats // 3, 1)),
        f"{tokens}x768 @ 768x3072": (tokens, 768, 3072, repeats * 4),
        f"{8 * tokens}x768 @ 768x3072": (8 * tokens, 768, 3072, repeats),
    }
    out = {}
    for name, (m, k, n, n_repeats) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.matmul(a, b)
        rate = Rate()
        for _ in range(n_repeats):
            meter.measure(lambda: torch.matmul(a, b), 1, rate)
        flops = 2.0 * m * k * n / 1e9
        out[name] = Rate(rate.best_clean * flops, rate.best_any * flops, rate.segments, rate.clean)
    return out


def to_kmer_text(sequence: str, k: int) -> str:
    return " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))


def naive_loop(model: BertForSequenceClassification, tokenizer: BertTokenizer, records: list[SequenceRecord]) -> np.ndarray:
    """The loop users write first: one sequence at a time, BertTokenizer, no_grad, softmax. (n, n_classes)."""
    out = []
    for record in records:
        inputs = tokenizer(to_kmer_text(record.sequence, K), return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits
        out.append(torch.softmax(logits, dim=-1)[0].numpy())
    return np.array(out, dtype=np.float64)


def competent_loop(model: BertForSequenceClassification, tokenizer: BertTokenizer,
                   records: list[SequenceRecord]) -> np.ndarray:
    """The recipe a competent user writes: 32 padded sequences at a time in input order, default (SDPA) attention,
    inference mode, softmax. (n, n_classes)."""
    out = []
    for first in range(0, len(records), COMPETENT_BATCH):
        texts = [to_kmer_text(r.sequence, K) for r in records[first : first + COMPETENT_BATCH]]
        inputs = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.inference_mode():
            out.append(torch.softmax(model(**inputs).logits, dim=-1).numpy())
    return np.concatenate(out).astype(np.float64)


def ours(loaded: LoadedModel, records: list[SequenceRecord], **kwargs: int) -> np.ndarray:
    """``predict`` probabilities, (n, n_classes); ``kwargs``: ``batch_size`` / ``token_budget`` (default: predict's)."""
    return np.array([p.probs for p in predict(loaded, records, **kwargs)])


def quantised(loaded: LoadedModel, precision: str) -> LoadedModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
        return with_precision(loaded, precision)


def breakdown(meter: Meter, loaded: LoadedModel, records: list[SequenceRecord], repeats: int) -> dict[str, Rate]:
    """Seconds per sequence of ``predict`` (defaults), of all but the forward pass, and of the forward passes alone
    (on pre-built batches of the rows the token budget gives these equal-length records)."""
    n_classes = len(loaded.labels)

    def no_model(ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        return np.zeros((len(ids), n_classes))

    rows = min(32, max(1, CPU_TOKEN_BUDGET // (LENGTH - K + 3)))
    batches = [torch.from_numpy(loaded.tokenizer.batch([r.sequence for r in records[i : i + rows]]).input_ids)
               for i in range(0, len(records), rows)]
    fn = class_probabilities(loaded)

    def forward() -> list[np.ndarray]:
        with torch.inference_mode():
            return [fn(ids, torch.ones_like(ids)) for ids in batches]

    parts = {"predict": Rate(), "non-model": Rate(), "forward": Rate()}
    n = len(records)
    for _ in range(repeats):
        meter.measure(lambda: ours(loaded, records), n, parts["predict"])
        meter.measure(lambda: list(map_windows(loaded, records, no_model)), n, parts["non-model"])
        meter.measure(forward, n, parts["forward"])
    return parts


def bench_model(meter: Meter, size: str, folder: Path, sizes: Sizes, sweep: bool,
                rng: np.random.Generator) -> dict[str, object]:
    """All measurements for one model size."""
    torch.manual_seed(0)
    config = build_config(K, size=size)
    save_model(BertForSequenceClassification(config), KmerTokenizer(K), folder)
    loaded = load_model(folder)
    int8 = quantised(loaded, "int8")
    naive_model = BertForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    competent_model = BertForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = BertTokenizer.from_pretrained(folder)
    assert len(tokenizer.get_vocab()) == loaded.tokenizer.vocab_size
    cases = {
        f"{LENGTH} bp": random_records(sizes.batched, (LENGTH, LENGTH), rng, f"{size}-"),
        f"{MIXED[0]}-{MIXED[1]} bp": random_records(sizes.batched, MIXED, rng, f"{size}-mixed-"),
    }
    paths: dict[str, Callable[[list[SequenceRecord]], np.ndarray]] = {
        "naive": lambda items: naive_loop(naive_model, tokenizer, items),
        "competent": lambda items: competent_loop(competent_model, tokenizer, items),
        "ours": lambda items: ours(loaded, items),
        "int8": lambda items: ours(int8, items),
    }
    if sweep:
        for budget in SWEEP_BUDGETS:
            paths[f"budget {budget}"] = lambda items, budget=budget: ours(loaded, items, batch_size=256,
                                                                         token_budget=budget)
        for batch in SWEEP_BATCHES:
            paths[f"batch {batch}"] = lambda items, batch=batch: ours(loaded, items, batch_size=batch,
                                                                      token_budget=10**9)
    # the first forward passes are several times slower (allocator and oneDNN warm-up): run each path a while
    warm = cases[f"{LENGTH} bp"][: sizes.warmup]
    for fn in paths.values():
        fn(warm)

    rates = {case: {path: Rate() for path in paths} for case in cases}
    probs: dict[str, dict[str, np.ndarray]] = {case: {} for case in cases}
    for _ in range(sizes.rounds):  # interleaved, so every path sees the same machine
        for case, items in cases.items():
            for path, fn in paths.items():
                subset = items[: sizes.naive] if path == "naive" else items
                probs[case][path] = meter.measure(lambda: fn(subset), len(subset), rates[case][path])
    checks = {}
    for case, got in probs.items():
        n = sizes.naive
        checks[case] = {
            "int8 vs float32": float(np.abs(got["int8"] - got["ours"]).max()),
            "int8 argmax agrees": float((got["int8"].argmax(1) == got["ours"].argmax(1)).mean()),
            "competent vs ours": float(np.abs(got["competent"] - got["ours"]).max()),
            "naive vs ours": float(np.abs(got["naive"] - got["ours"][:n]).max()),
            "std of p": float(got["ours"][:, 0].std()),
        }
    extras: dict[str, object] = {"config": config, "rates": rates, "checks": checks, "n": sizes.batched,
                                 "n_naive": sizes.naive}
    del naive_model, competent_model, int8

    if sizes.bfloat16:
        subset = cases[f"{LENGTH} bp"][: sizes.bfloat16]
        bf16 = quantised(loaded, "bfloat16")
        ours(bf16, subset[:1])
        fp32, low = Rate(), Rate()
        reference = meter.measure(lambda: ours(loaded, subset), len(subset), fp32)
        got = meter.measure(lambda: ours(bf16, subset), len(subset), low)
        extras["bfloat16"] = (len(subset), fp32, low, float(np.abs(got - reference).max()))
        del bf16

    mixed = random_records(sizes.padded, (LENGTH // 2, LENGTH), rng, f"{size}-padded-")
    batched, alone = ours(loaded, mixed), ours(loaded, mixed, batch_size=1)
    extras["padded"] = (len(mixed), float(np.abs(batched - alone).mean()), float(np.abs(batched - alone).max()))
    if sizes.breakdown:
        subset = cases[f"{LENGTH} bp"][: sizes.breakdown]
        extras["breakdown"] = (len(subset), breakdown(meter, loaded, subset, sizes.rounds))
    return extras


def print_tables(models: dict[str, dict], peak: dict[str, Rate], threads: int, meter: Meter) -> None:
    limit = meter.limit
    peak_gflops = max(r.value for r in peak.values())
    print(f"torch threads: {threads} (torch.set_num_threads); k={K}; ours float32 = predict's defaults (row cap 32, "
          f"token budget {CPU_TOKEN_BUDGET}); competent = batches of {COMPETENT_BATCH} in input order, default "
          f"(SDPA) attention, inference mode. Rates are the best of interleaved segments; 'clean' counts the segments "
          f"in which other processes used < {limit} cores (* = none clean: the best disturbed one is shown).\n")
    print("| case | naive batch-1 (seq/s) | competent batch-32 (seq/s) | ours float32 (seq/s) | ours / competent "
          "| ours / naive | ours int8 (seq/s) | int8 / competent | int8 max abs change in p | clean (naive, competent, "
          "ours, int8) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for size, extra in models.items():
        for case, rates in extra["rates"].items():
            naive, competent, fp32, int8 = (rates[p] for p in ("naive", "competent", "ours", "int8"))
            print(f"| {size}, {case} ({extra['n']} seqs) | {naive.value:.2f} | {competent.value:.2f} "
                  f"| {fp32.value:.2f} | {fp32.value / competent.value:.2f}x | {fp32.value / naive.value:.2f}x "
                  f"| {int8.value:.2f} | {int8.value / competent.value:.2f}x "
                  f"| {extra['checks'][case]['int8 vs float32']:.1e} "
                  f"| {naive.note}, {competent.note}, {fp32.note}, {int8.note} |")

    print("\n| check | max abs diff in p |")
    print("|---|---:|")
    for size, extra in models.items():
        for case, check in extra["checks"].items():
            print(f"| {size}, {case}: competent (SDPA, padded in input order) vs ours | {check['competent vs ours']:.1e} |")
            print(f"| {size}, {case}: naive (eager, batch 1; {extra['n_naive']} seqs) vs ours | {check['naive vs ours']:.1e} |")
            print(f"| {size}, {case}: int8 vs float32 (argmax agrees {check['int8 argmax agrees']:.0%}; std of p over "
                  f"seqs {check['std of p']:.4f}) | {check['int8 vs float32']:.1e} |")
        n, mean, worst = extra["padded"]
        print(f"| {size}: padded batches vs batch 1 ({n} seqs of {LENGTH // 2}-{LENGTH} bp; mean {mean:.1e}) | {worst:.1e} |")

    swept = [(size, extra) for size, extra in models.items() if any(p.startswith("budget") for p in
                                                                    next(iter(extra["rates"].values())))]
    for size, extra in swept:
        print(f"\nOurs at fixed settings ({size}; seq/s): token budget b = batches of up to 256 rows and b padded "
              f"tokens; batch b = b rows, no budget.\n")
        names = [p for p in next(iter(extra["rates"].values())) if p.startswith(("budget", "batch"))]
        print("| case | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        for case, rates in extra["rates"].items():
            print(f"| {case} | " + " | ".join(f"{rates[p].value:.2f}{'' if rates[p].clean else '*'}" for p in names)
                  + " |")

    print(f"\nMatmul peak (float32, {threads} threads, best segment): "
          + ", ".join(f"{name}: {r.value:.1f} GFLOP/s (clean {r.note})" for name, r in peak.items())
          + f"; peak used = the highest, {peak_gflops:.1f} GFLOP/s")
    print("FLOPs/seq = 2*P*n + 4*L*n^2*h + 2*(h^2 + h*C), P = L*(4h^2 + 2hI)\n")
    print(f"| model | GFLOP/seq ({LENGTH} bp) | naive GFLOP/s (fraction of peak) | competent | ours float32 | target "
          "| met |")
    print("|---|---:|---:|---:|---:|---|---|")
    for size, extra in models.items():
        gflop = model_flops(extra["config"], LENGTH - K + 3) / 1e9
        rates = extra["rates"][f"{LENGTH} bp"]
        cells = [f"{gflop * rates[p].value:.1f} ({gflop * rates[p].value / peak_gflops:.0%})"
                 for p in ("naive", "competent", "ours")]
        fraction = gflop * rates["ours"].value / peak_gflops
        target, met = ((f">= {PEAK_TARGET:.0%} of peak", "yes" if fraction >= PEAK_TARGET else "no")
                       if size == "dnabert" else ("-", "-"))
        print(f"| {size} | {gflop:.2f} | " + " | ".join(cells) + f" | {target} | {met} |")

    for size, extra in models.items():
        if "bfloat16" in extra:
            n, fp32, low, change = extra["bfloat16"]
            print(f"\nbfloat16 ({size}, {n} seqs of {LENGTH} bp): float32 {fp32.value:.2f} seq/s, bfloat16 "
                  f"{low.value:.2f} seq/s ({low.value / fp32.value:.2f}x), max abs change in p {change:.1e}")
        if "breakdown" in extra:
            n, parts = extra["breakdown"]
            total = 1 / parts["predict"].value
            print(f"\nWhere predict's time goes ({size}, {n} seqs of {LENGTH} bp; best segment of each):\n")
            print("| part | ms per sequence | share of predict | clean |")
            print("|---|---:|---:|---|")
            for part, rate in parts.items():
                print(f"| {part} | {1e3 / rate.value:.2f} | {1 / rate.value / total:.1%} | {rate.note} |")
    print(f"\nGating: waited {meter.wait_budget - max(meter.wait_left, 0):.0f} s for other processes to go idle.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shipped size only, fewer sequences (smoke run)")
    parser.add_argument("--sweep", action="store_true", help="also time ours at fixed token budgets and batch sizes "
                                                             "(shipped size)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--models", default=None, help="comma-separated sizes (default small,dnabert; small with "
                                                       "--quick)")
    parser.add_argument("--wait-budget", type=float, default=None,
                        help="total seconds to wait for other processes to go idle (default 180; 20 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="segments per path (default: 6; 2 with --quick; 1 "
                                                                 "for the DNABERT size)")
    parser.add_argument("--clean-limit", type=float, default=CLEAN_LIMIT,
                        help="a segment is clean when other processes use fewer cores than this (default 0.15; "
                             "raise it by one per core a known job keeps busy)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    set_threads(args.threads)
    plans = {
        "small": Sizes(naive=16, batched=64, rounds=2, bfloat16=2, padded=16, warmup=8, breakdown=64)
        if args.quick
        else Sizes(naive=32, batched=128, rounds=6, bfloat16=8, padded=64, warmup=16, breakdown=128),
        "dnabert": Sizes(naive=2, batched=32, rounds=1, bfloat16=0, padded=4, warmup=2, breakdown=0),
    }
    if args.rounds is not None:
        plans = {size: replace(plan, rounds=args.rounds) for size, plan in plans.items()}
    sizes = (args.models or ("small" if args.quick else "small,dnabert")).split(",")
    meter = Meter(args.wait_budget if args.wait_budget is not None else (20.0 if args.quick else 180.0),
                  limit=args.clean_limit)
    rng = np.random.default_rng(args.seed)
    peak = matmul_peak(meter, 3 if args.quick else 6)
    models: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            models[size] = bench_model(meter, size, Path(tmp) / size, plans[size], args.sweep and size == "small", rng)
    after = matmul_peak(meter, 3 if args.quick else 6)
    peak = {n: max(peak[n], after[n], key=lambda r: (r.clean > 0, r.value)) for n in peak}
    print_tables(models, peak, torch.get_num_threads(), meter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
