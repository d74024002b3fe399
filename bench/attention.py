"""Time and peak memory of attention landscapes against plain prediction and against the competent
``output_attentions=True`` recipe.

    python bench/attention.py [--threads 2] [--repeats 2] [--quick] [--models small,dnabert] [--stream-sizes 1000,10000]

For 32 random sequences of 300 bp and of 515 bp (512 tokens at k = 6), with the shipped model size (``small``: 4
layers x 128) and a DNABERT-size random model (12 x 768), saved with ``save_model`` to a temp folder, each case in a
fresh process:
  (a) plain prediction: ``predict`` on the records (SDPA), the floor;
  (b) ours: ``attention_landscapes`` on the same records (last layer, [CLS] row, every head, per-base scores):
      one SDPA forward pass, layer by layer, computing only the [CLS] rows from the layer's queries and keys;
  (c) the recipe a competent user writes (what DNABERT and bertviz do): ``BertForSequenceClassification
      .from_pretrained(folder, attn_implementation="eager")`` (SDPA returns no weights), the folder's
      ``BertTokenizer`` on space-separated k-mers, batches of 32 padded sequences in input order,
      ``torch.inference_mode()``, ``output_attentions=True`` (every layer's (batch, heads, n, n) matrix kept); the
      landscape is the last layer's [CLS] row summed over heads, projected to bases by the same covering rule
      (``dnabert_core.tokenizer.kmers_to_bases``). Its largest difference from (b) on the first 2 sequences is
      reported (computed outside the timed runs).
Time is the best of ``--repeats`` runs after a 2-sequence warm-up; peak memory is the highest resident set size seen
(sampled every 2 ms) during the timed runs minus the resident size just before them.

A last table streams landscapes of 1,000 and 10,000 sequences (shipped size, 300 bp) through ``attention_landscapes``
and reports the peak resident size of the whole process: it should not grow with the number of sequences.

Targets (issue 6): (b) at most 1.25x (a) in time and faster than (c); at 512 tokens (c)/(b) at least 3x in peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"small": "shipped size 4x128", "dnabert": "DNABERT size 12x768"}
LENGTHS = {300: "300 bp", 515: "512 tokens"}
METHODS = ("plain", "ours", "competent")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class PeakSampler:
    """Highest resident set size seen while the block runs, sampled every 2 ms in a thread."""

    def __enter__(self):
        self.peak = rss_mb()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb())


def build(size: str, quick: bool, folder: Path):
    """Save a random classifier of ``size`` to ``folder`` and load it with ``load_model`` (SDPA)."""
    import torch
    from transformers import BertForSequenceClassification

    from dnabert_core.model import build_config, load_model, save_model
    from dnabert_core.tokenizer import KmerTokenizer

    torch.manual_seed(0)
    kwargs = dict(layers=2, hidden=64, heads=4, intermediate=128) if quick and size == "dnabert" else {}
    save_model(BertForSequenceClassification(build_config(6, size=size, **kwargs)), KmerTokenizer(6), folder)
    return load_model(folder)


def competent_recipe(folder: Path):
    """``work(records) -> per-base landscapes`` as a competent transformers user writes it (docstring, (c))."""
    import torch
    from transformers import BertForSequenceClassification, BertTokenizer

    from dnabert_core.tokenizer import kmers_to_bases

    model = BertForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = BertTokenizer.from_pretrained(folder)
    k = 6

    def work(items):
        out = []
        for first in range(0, len(items), 32):
            chunk = items[first : first + 32]
            texts = [" ".join(r.sequence[i : i + k] for i in range(len(r.sequence) - k + 1)) for r in chunk]
            inputs = tokenizer(texts, padding=True, return_tensors="pt")
            with torch.inference_mode():
                attentions = model(**inputs, output_attentions=True).attentions
            cls_rows = attentions[-1][:, :, 0].sum(dim=1).numpy()  # (batch, n): [CLS] row, summed over heads
            for row, record in zip(cls_rows, chunk):
                out.append(kmers_to_bases(row[1 : len(record.sequence) - k + 2], k))
        return out

    return work


def records(n: int, length: int, seed: int = 0):
    import numpy as np

    from dnabert_core.records import SequenceRecord

    rng = np.random.default_rng(seed)
    for i in range(n):
        yield SequenceRecord(f"s{i}", "".join(rng.choice(list("ACGT"), length)))


def run_case(size: str, length: int, method: str, repeats: int, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return timed_case(size, length, method, repeats, quick, Path(tmp))


def timed_case(size: str, length: int, method: str, repeats: int, quick: bool, folder: Path) -> dict:
    import numpy as np

    from dnabert_core.predict import predict
    from viz.landscape import attention_landscapes

    loaded = build(size, quick, folder)
    batch = list(records(32, length))
    extra = {}
    if method == "competent":
        work = competent_recipe(folder)
        theirs = work(batch[:2])
        mine = [item.scores for item in attention_landscapes(loaded, batch[:2])]
        extra["max_diff"] = float(max(np.abs(a - b).max() for a, b in zip(theirs, mine)))
    elif method == "plain":
        def work(items):
            return list(predict(loaded, items, batch_size=32))
    else:
        def work(items):
            return list(attention_landscapes(loaded, items, batch_size=32))
    work(batch[:2])
    before = rss_mb()
    times = []
    with PeakSampler() as sampler:
        for _ in range(repeats):
            start = time.perf_counter()
            result = work(batch)
            times.append(time.perf_counter() - start)
            del result
    return {"time_s": min(times), "peak_mb": sampler.peak - before, **extra}


def run_stream(n: int) -> dict:
    from viz.landscape import attention_landscapes

    with tempfile.TemporaryDirectory() as tmp:
        loaded = build("small", False, Path(tmp))
    start = time.perf_counter()
    count = sum(1 for _ in attention_landscapes(loaded, records(n, 300), batch_size=32))
    return {"n": count, "time_s": time.perf_counter() - start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}


def subprocess_json(args: list[str], threads: int) -> dict:
    command = [sys.executable, __file__, "--threads", str(threads), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"case {args} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny stand-in for the DNABERT-size model, 1k/2k stream")
    parser.add_argument("--models", default=",".join(SIZES), help="comma-separated model sizes (default small,dnabert)")
    parser.add_argument("--stream-sizes", type=lambda text: [int(x) for x in text.split(",")], default=None,
                        help="numbers of sequences streamed (default 1000,10000; 1000,2000 with --quick)")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stream", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.case:
        size, length, method = args.case.split(",")
        print(json.dumps(run_case(size, int(length), method, args.repeats, args.quick)))
        return
    if args.stream:
        print(json.dumps(run_stream(args.stream)))
        return
    flags = ["--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
    print(f"threads {args.threads}, batch 32, best of {args.repeats}" + (" (quick: tiny DNABERT stand-in)" if
                                                                         args.quick else ""))
    print("| model | length | (a) plain s | (b) ours s | (c) competent output_attentions s | b/a time | c/b time | "
          "(a) MB | (b) MB | (c) MB | c/b memory | max abs diff (b) vs (c) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.models.split(","):
        for length in LENGTHS:
            r = {m: subprocess_json(["--case", f"{size},{length},{m}", *flags], args.threads) for m in METHODS}
            a, b, c = (r[m] for m in METHODS)
            print(f"| {SIZES[size]} | {LENGTHS[length]} | {a['time_s']:.3f} | {b['time_s']:.3f} | {c['time_s']:.3f} | "
                  f"{b['time_s'] / a['time_s']:.2f}x | {c['time_s'] / b['time_s']:.2f}x | {a['peak_mb']:.0f} | "
                  f"{b['peak_mb']:.0f} | {c['peak_mb']:.0f} | {c['peak_mb'] / max(b['peak_mb'], 1):.1f}x | "
                  f"{c['max_diff']:.1e} |",
                  flush=True)
    print("\n| landscapes streamed (shipped size, 300 bp) | seconds | peak RSS of the process (MB) |")
    print("|---:|---:|---:|")
    for n in args.stream_sizes or ((1000, 2000) if args.quick else (1000, 10000)):
        s = subprocess_json(["--stream", str(n)], args.threads)
        print(f"| {s['n']:,} | {s['time_s']:.1f} | {s['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
