"""Prediction throughput: ``dnabert_core.predict.predict`` against the naive one-sequence-at-a-time loop.

Models (random weights, k = 6, 2 classes), each saved with ``save_model`` to a temp folder and read back:
``build_config(6, size="mini")`` (4 layers, hidden 256, 4 heads, intermediate 1024) and ``size="dnabert"`` (12 x 768,
12 heads, 3072). Inputs: random 300 bp sequences (297 tokens with ``[CLS]``/``[SEP]``).

- baseline: transformers' ``BertTokenizer`` on space-separated k-mers, ``BertForSequenceClassification
  .from_pretrained(folder, attn_implementation="eager")``, ``torch.no_grad()``, softmax, one sequence at a time;
- ours: ``predict(load_model(folder), records, batch_size=b)`` (SDPA, eval, inference mode) for each b in
  ``--batch-sizes`` (1, 4, 8, 16, 32, 64); the best is the headline;
- model FLOPs per sequence = 2 * P * n + 4 * L * n^2 * h + 2 * (h^2 + h * C), with P = L * (4 h^2 + 2 h I) the
  encoder's matmul weights, n tokens, L layers, h hidden, I intermediate, C classes (pooler and classifier run on
  [CLS] only); biases, layer norms, GELU and softmax are not counted;
- peak: the best float32 ``torch.matmul`` (2 m k n FLOPs) with the same threads over 2048^2 and 4096^2 squares and
  the DNABERT feed-forward GEMM (297 x 768 @ 768 x 3072, and 8 x 297 rows), measured at the start and again after
  the model timings; the highest is the peak (squares alone under-state it: a batch-1 model beats them here);
- opt-in ``with_precision(loaded, "int8" | "bfloat16")``: throughput and the largest change of any probability
  vs float32 on the same sequences (bfloat16 has no native support on AVX2: few sequences);
- padded-batch check: mean and max |p(batched) - p(batch 1)| on sequences of mixed length (150-300 bp);
- where the mini model's time goes: ``predict`` total, everything but the forward pass (``map_windows`` with a
  model-free function: tokenise, sort, pad, collect) and the forward passes alone on pre-built batches.

Timings on a shared machine vary a lot: with 2 OpenMP threads on 2 cores, a co-running process makes every
parallel region wait for a descheduled thread, which slows batch-1 loops up to 20x and big batches ~2x. So every
case is timed in short segments, interleaved across cases (baseline and ours alternate), each started after waiting
(within ``--wait-budget`` seconds in all) for other processes to go idle; during each segment the CPU time used by
other processes is read from /proc/stat. A case's rate is its best clean segment (others < 0.15 cores), or its best
segment marked * when none was clean. torch runs on ``--threads`` threads (default 2: this machine's cores).

Run: ``cd /work/main && PYTHONPATH=. .venv/bin/python bench/bench_predict.py`` (about 7 minutes on an idle 2-core
machine, longer when shared) or add ``--quick`` (smoke run, 1-3 minutes).

Targets: DNABERT-size model >= 75% of the measured matmul peak; mini model >= 1.5x the naive loop.
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer
from transformers.utils import logging as hf_logging

from dnabert_core.model import LoadedModel, build_config, load_model, save_model
from dnabert_core.predict import class_probabilities, map_windows, predict, set_threads, with_precision
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import ALPHABET, KmerTokenizer

K = 6
LENGTH = 300
PEAK_TARGET = 0.75
MINI_TARGET = 1.5
CLEAN_LIMIT = 0.15  # cores other processes may use during a segment that still counts as clean
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sizes:
    """How many sequences (or batches) each measurement uses."""

    naive: int  # sequences per naive segment
    ours_batches: int  # batches per ours segment
    rounds: int  # segments per case, interleaved
    int8: int
    bfloat16: int
    padded: int
    warmup: int  # sequences through the naive loop before timing it
    breakdown: int


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
    """The loop users write today: one sequence at a time, BertTokenizer, no_grad, softmax. (n, n_classes)."""
    out = []
    for record in records:
        inputs = tokenizer(to_kmer_text(record.sequence, K), return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits
        out.append(torch.softmax(logits, dim=-1)[0].numpy())
    return np.array(out, dtype=np.float64)


def ours(loaded: LoadedModel, records: list[SequenceRecord], batch_size: int) -> np.ndarray:
    """``predict`` probabilities, (n, n_classes)."""
    return np.array([p.probs for p in predict(loaded, records, batch_size=batch_size)])


def breakdown(
    meter: Meter, loaded: LoadedModel, records: list[SequenceRecord], batch_size: int, repeats: int
) -> dict[str, Rate]:
    """Seconds per sequence for ``predict``, for all but the forward pass, and for the forward passes alone."""
    n_classes = len(loaded.labels)

    def no_model(ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        return np.zeros((len(ids), n_classes))

    tokenizer = loaded.tokenizer
    batches = [
        torch.from_numpy(tokenizer.batch([r.sequence for r in records[i : i + batch_size]]).input_ids)
        for i in range(0, len(records), batch_size)
    ]
    fn = class_probabilities(loaded)

    def forward() -> list[np.ndarray]:
        with torch.inference_mode():
            return [fn(ids, torch.ones_like(ids)) for ids in batches]

    parts = {"predict": Rate(), "non-model": Rate(), "forward": Rate()}
    n = len(records)
    for _ in range(repeats):
        meter.measure(lambda: ours(loaded, records, batch_size), n, parts["predict"])
        meter.measure(lambda: list(map_windows(loaded, records, no_model, batch_size=batch_size)), n, parts["non-model"])
        meter.measure(forward, n, parts["forward"])
    return parts


def bench_model(
    meter: Meter, size: str, folder: Path, sizes: Sizes, batch_sizes: list[int], rng: np.random.Generator
) -> dict[str, object]:
    """All measurements for one model size."""
    torch.manual_seed(0)
    config = build_config(K, size=size)
    save_model(BertForSequenceClassification(config), KmerTokenizer(K), folder)
    loaded = load_model(folder)
    naive_model = BertForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    bert_tokenizer = BertTokenizer.from_pretrained(folder, do_lower_case=False)
    assert len(bert_tokenizer.get_vocab()) == loaded.tokenizer.vocab_size
    n_records = max(sizes.naive, sizes.ours_batches * max(batch_sizes), sizes.breakdown, sizes.int8, sizes.warmup)
    records = random_records(n_records, (LENGTH, LENGTH), rng, f"{size}-")
    # the first few forward passes are several times slower (allocator and oneDNN warm-up): run each path a while
    naive_probs = naive_loop(naive_model, bert_tokenizer, records[: sizes.warmup])
    for b in batch_sizes:
        ours(loaded, records[: 2 * b], b)

    naive_rate, ours_rate = Rate(), {b: Rate() for b in batch_sizes}
    for _ in range(sizes.rounds):  # interleaved, so both see the same machine
        meter.measure(lambda: naive_loop(naive_model, bert_tokenizer, records[: sizes.naive]), sizes.naive, naive_rate)
        for b in batch_sizes:
            n = max(sizes.ours_batches * b, sizes.naive)
            meter.measure(lambda: ours(loaded, records[:n], b), n, ours_rate[b])
    best_b = max(ours_rate, key=lambda b: ours_rate[b].value)
    check = ours(loaded, records[: sizes.warmup], best_b)
    extras: dict[str, object] = {
        "config": config,
        "best_batch": best_b,
        "naive": naive_rate,
        "ours": ours_rate,
        "naive_vs_ours": float(np.abs(naive_probs - check).max()),
        "naive_vs_ours_n": len(check),
    }
    del naive_model

    precision_rows = []
    for precision, n, repeats in (("int8", sizes.int8, 2), ("bfloat16", sizes.bfloat16, 1)):
        subset = records[:n]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
            approx = with_precision(loaded, precision)
        ours(approx, subset[:1], best_b)
        fp32, low = Rate(), Rate()
        for _ in range(repeats):
            reference = meter.measure(lambda: ours(loaded, subset, best_b), n, fp32)
            probs = meter.measure(lambda: ours(approx, subset, best_b), n, low)
        precision_rows.append(
            (f"{size}: float32 -> {precision} (batch {best_b}, {n} seqs)", fp32, low,
             float(np.abs(probs - reference).max()), float((probs.argmax(1) == reference.argmax(1)).mean()),
             float(reference[:, 0].std()))
        )
        del approx
    extras["precision"] = precision_rows

    mixed = random_records(sizes.padded, (LENGTH // 2, LENGTH), rng, f"{size}-mixed-")
    batched = ours(loaded, mixed, best_b)
    alone = ours(loaded, mixed, 1)
    extras["padded"] = (len(mixed), best_b, float(np.abs(batched - alone).mean()), float(np.abs(batched - alone).max()))
    if size == "mini":
        subset = records[: sizes.breakdown]
        extras["breakdown"] = (best_b, len(subset), breakdown(meter, loaded, subset, best_b, sizes.rounds))
    return extras


def print_tables(models: dict[str, dict], peak: dict[str, Rate], threads: int, meter: Meter) -> None:
    peak_gflops = max(r.value for r in peak.values())
    print(f"torch threads: {threads} (torch.set_num_threads); random {LENGTH} bp sequences, k={K}, "
          f"{LENGTH - K + 3} tokens. Rates are the best of interleaved segments; 'clean' counts the segments in which "
          f"other processes used < {CLEAN_LIMIT} cores (* = none clean: the best disturbed one is shown).\n")
    print("| case | baseline (seq/s) | ours (seq/s) | ratio | clean segments (baseline, ours) |")
    print("|---|---:|---:|---:|---|")
    for size, extra in models.items():
        naive, best_b = extra["naive"], extra["best_batch"]
        for b, rate in extra["ours"].items():
            label = f"{size}: naive loop -> predict batch {b}" + (" (best)" if b == best_b else "")
            print(f"| {label} | {naive.value:.2f} | {rate.value:.2f} | {rate.value / naive.value:.2f}x "
                  f"| {naive.note}, {rate.note} |")

    print(f"\nMatmul peak (float32, {threads} threads, best segment): "
          + ", ".join(f"{name}: {r.value:.1f} GFLOP/s (clean {r.note})" for name, r in peak.items())
          + f"; peak used = the highest, {peak_gflops:.1f} GFLOP/s")
    print("FLOPs/seq = 2*P*n + 4*L*n^2*h + 2*(h^2 + h*C), P = L*(4h^2 + 2hI)\n")
    print("| model | GFLOP/seq | naive GFLOP/s (fraction of peak) | ours GFLOP/s, best batch (fraction of peak) "
          "| target | met |")
    print("|---|---:|---:|---:|---|---|")
    for size, extra in models.items():
        gflop = model_flops(extra["config"], LENGTH - K + 3) / 1e9
        naive_rate, ours_rate = extra["naive"].value, extra["ours"][extra["best_batch"]].value
        fraction = gflop * ours_rate / peak_gflops
        if size == "dnabert":
            target, met = f">= {PEAK_TARGET:.0%} of peak", fraction >= PEAK_TARGET
        else:
            target, met = f">= {MINI_TARGET}x naive", ours_rate / naive_rate >= MINI_TARGET
        print(f"| {size} | {gflop:.2f} | {gflop * naive_rate:.1f} ({gflop * naive_rate / peak_gflops:.0%}) "
              f"| {gflop * ours_rate:.1f}, batch {extra['best_batch']} ({fraction:.0%}) | {target} "
              f"| {'yes' if met else 'no'} |")

    print("\n| case | baseline float32 (seq/s) | ours (seq/s) | ratio | max abs change in p | argmax agrees "
          "| std of p over seqs | clean |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for extra in models.values():
        for case, base, rate, change, agree, spread in extra["precision"]:
            print(f"| {case} | {base.value:.2f} | {rate.value:.2f} | {rate.value / base.value:.2f}x | {change:.2e} "
                  f"| {agree:.0%} | {spread:.4f} | {base.note}, {rate.note} |")

    print("\n| check | n seqs | batch | mean abs diff | max abs diff |")
    print("|---|---:|---:|---:|---:|")
    for size, extra in models.items():
        n, b, mean, worst = extra["padded"]
        print(f"| {size}: padded batch vs batch 1 (150-300 bp) | {n} | {b} | {mean:.1e} | {worst:.1e} |")
        print(f"| {size}: naive (eager, BertTokenizer) vs ours (sdpa), 300 bp | {extra['naive_vs_ours_n']} | - | - "
              f"| {extra['naive_vs_ours']:.1e} |")

    if "mini" in models and "breakdown" in models["mini"]:
        b, n, parts = models["mini"]["breakdown"]
        total = 1 / parts["predict"].value
        print(f"\nWhere predict's time goes (mini, {n} seqs, batch {b}; best segment of each):\n")
        print("| part | ms per sequence | share of predict | clean |")
        print("|---|---:|---:|---|")
        for part, rate in parts.items():
            print(f"| {part} | {1e3 / rate.value:.2f} | {1 / rate.value / total:.1%} | {rate.note} |")
    print(f"\nGating: waited {meter.wait_budget - max(meter.wait_left, 0):.0f} s for other processes to go idle.")


def parse_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few sequences, batch sizes 1, 8 and 16 (smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--batch-sizes", type=parse_ints, default=None, help="comma-separated (default 1,4,8,16,32,64)")
    parser.add_argument("--models", default="mini,dnabert", help="comma-separated sizes to run")
    parser.add_argument("--wait-budget", type=float, default=None,
                        help="total seconds to wait for other processes to go idle (default 180; 20 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    set_threads(args.threads)
    batch_sizes = args.batch_sizes or ([1, 8, 16] if args.quick else [1, 4, 8, 16, 32, 64])
    plans = {
        "mini": Sizes(naive=8, ours_batches=1, rounds=1, int8=16, bfloat16=2, padded=16, warmup=8, breakdown=32)
        if args.quick
        else Sizes(naive=16, ours_batches=2, rounds=4, int8=64, bfloat16=8, padded=64, warmup=16, breakdown=128),
        "dnabert": Sizes(naive=1, ours_batches=1, rounds=1, int8=8, bfloat16=1, padded=4, warmup=2, breakdown=0)
        if args.quick
        else Sizes(naive=2, ours_batches=1, rounds=2, int8=32, bfloat16=2, padded=8, warmup=3, breakdown=0),
    }
    meter = Meter(args.wait_budget if args.wait_budget is not None else (20.0 if args.quick else 180.0))
    rng = np.random.default_rng(args.seed)
    peak = matmul_peak(meter, 3 if args.quick else 6)
    models: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.models.split(","):
            models[size] = bench_model(meter, size, Path(tmp) / size, plans[size], batch_sizes, rng)
    after = matmul_peak(meter, 3 if args.quick else 6)
    peak = {n: max(peak[n], after[n], key=lambda r: (r.clean > 0, r.value)) for n in peak}
    print_tables(models, peak, torch.get_num_threads(), meter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
