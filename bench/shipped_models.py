"""The embedded default models: size on disk, parameters, and the latency of one 300 bp prediction.

    python bench/shipped_models.py [--threads 2] [--repeats 50]

Latency is the median over ``--repeats`` calls of ``predict`` on one new random 300 bp sequence (tokenisation, forward
pass and softmax included), after a warm-up call. Target (issue 5): under 50 ms on 2 cores; all models under 40 MB.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dnabert_core.model import load_model  # noqa: E402
from dnabert_core.predict import predict, set_threads  # noqa: E402
from dnabert_core.records import SequenceRecord  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    set_threads(args.threads)
    rng = np.random.default_rng(0)
    folders = sorted(p for p in (ROOT / "assets" / "models").iterdir() if (p / "config.json").is_file())
    total = 0.0
    print(f"threads {args.threads}, median of {args.repeats}")
    print("| model | MB on disk | parameters | one 300 bp prediction (ms) |")
    print("|---|---:|---:|---:|")
    for folder in folders:
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        total += size
        loaded = load_model(folder, task="as-saved")
        n_params = sum(p.numel() for p in loaded.model.parameters())
        latency = "(masked LM)"
        if loaded.labels:
            times = []
            for i in range(args.repeats + 1):
                record = SequenceRecord(f"s{i}", "".join(rng.choice(list("ACGT"), 300)))
                start = time.perf_counter()
                list(predict(loaded, [record]))
                times.append(time.perf_counter() - start)
            latency = f"{statistics.median(times[1:]) * 1000:.1f}"
        print(f"| {folder.name} | {size:.1f} | {n_params / 1e6:.2f}M | {latency} |")
    print(f"| all | {total:.1f} | | |")


if __name__ == "__main__":
    main()
