"""Motif discovery speed: candidate counting (Aho-Corasick against a plain Python loop), whole discovery from given
scores, and naming against JASPAR, in one run.

- counting: 10,000 random 300 bp sequences x 1,000 candidate strings (5-12 bp, half of them cut from the sequences so
  that they occur); for each candidate the number of sequences holding it or its reverse complement. Baseline: what a
  competent user writes without a multi-pattern matcher, ``sum(c in s or rc in s for s in sequences)`` per candidate
  (Python's ``in`` is a fast C substring search). Ours: ``viz.motifs.count_containing`` (pyahocorasick, one pass per
  sequence). Both must give the same counts.
- discovery: ``viz.motifs.discover_motifs`` on 5,000 positives (300 bp, scores peaked on a planted 10-mer in half of
  them, noise elsewhere) against 5,000 random negatives; target under 60 s on 2 cores.
- naming: 50 motifs (JASPAR vertebrate matrices resampled to 200 sites, and random matrices) against every JASPAR
  CORE vertebrate matrix with ``viz.known_motifs.match_motifs``, warm (Tomtom compiled); target under 5 s.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_motifs.py [--threads 2]`` (~2 minutes with the first Tomtom compile).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from dnabert_core.records import Landscape
from dnabert_core.tokenizer import reverse_complement
from viz.motifs import MotifParams, count_containing, discover_motifs


def random_sequences(rng: np.random.Generator, n: int, length: int) -> list[str]:
    codes = rng.integers(0, 4, size=(n, length))
    return ["".join("ACGT"[c] for c in row) for row in codes]


def candidates(rng: np.random.Generator, sequences: list[str], n: int) -> list[str]:
    out = set()
    while len(out) < n:
        length = int(rng.integers(5, 13))
        if len(out) % 2:
            s = sequences[int(rng.integers(len(sequences)))]
            start = int(rng.integers(0, len(s) - length))
            out.add(s[start:start + length])
        else:
            out.add("".join(rng.choice(list("ACGT"), length)))
    return sorted(out)


def naive_counts(patterns: list[str], sequences: list[str]) -> np.ndarray:
    return np.array([sum(1 for s in sequences if p in s or reverse_complement(p) in s) for p in patterns])


def timed(call):
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def bench_counting(rng: np.random.Generator) -> dict:
    sequences = random_sequences(rng, 10_000, 300)
    patterns = candidates(rng, sequences, 1_000)
    naive, t_naive = timed(lambda: naive_counts(patterns, sequences))
    ours, t_ours = timed(lambda: np.asarray(count_containing(patterns, sequences)))
    assert np.array_equal(naive, ours), "Aho-Corasick and the plain loop disagree"
    return {"case": "count 1,000 candidates in 10,000 x 300 bp", "baseline (s)": t_naive, "ours (s)": t_ours,
            "ratio": t_naive / t_ours, "target": ">= 20x"}


def bench_discovery(rng: np.random.Generator) -> dict:
    plant = "GACTTCAGTG"
    positives = []
    for i, s in enumerate(random_sequences(rng, 5_000, 300)):
        scores = rng.random(300) * 0.1 + 0.05
        if i % 2 == 0:
            start = int(rng.integers(0, 290))
            s = s[:start] + plant + s[start + 10:]
            scores[start:start + 10] += 2.0
        positives.append(Landscape(f"p{i}", s, scores, "synthetic"))
    negatives = random_sequences(rng, 5_000, 300)
    result, seconds = timed(lambda: discover_motifs(positives, negatives, MotifParams()))
    found = any(plant in m.consensus or reverse_complement(plant) in m.consensus for m in result.motifs)
    return {"case": f"discovery, 5,000 x 300 bp vs 5,000 ({len(result.motifs)} motifs, plant found: {found})",
            "baseline (s)": float("nan"), "ours (s)": seconds, "ratio": float("nan"), "target": "< 60 s"}


def bench_naming(rng: np.random.Generator) -> list[dict]:
    from viz.known_motifs import jaspar_library, match_motifs, warm_up

    _, compile_seconds = timed(warm_up)
    library = jaspar_library()
    queries = []
    for i in range(50):
        if i % 2 == 0:
            probs = library.probabilities[int(rng.integers(len(library.probabilities)))]  # (4, w)
            counts = np.stack([rng.multinomial(200, np.clip(col, 0, None) / np.clip(col, 0, None).sum())
                               for col in probs.T])
        else:
            counts = rng.multinomial(200, [0.25] * 4, size=int(rng.integers(8, 20)))
        queries.append(pd.DataFrame(counts, columns=list("ACGT")))
    _, seconds = timed(lambda: match_motifs(queries, top=5))
    return [{"case": "Tomtom's first call in this process (numba compiles on a fresh install, ~40-70 s; cached on disk after)", "baseline (s)": float("nan"),
             "ours (s)": compile_seconds, "ratio": float("nan"), "target": "background in the app"},
            {"case": f"name 50 motifs against {len(library.probabilities)} JASPAR matrices, warm",
             "baseline (s)": float("nan"), "ours (s)": seconds, "ratio": float("nan"), "target": "< 5 s"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    rng = np.random.default_rng(0)
    rows = [bench_counting(rng), bench_discovery(rng), *bench_naming(rng)]
    print("| case | baseline (s) | ours (s) | ratio | target |\n|---|---:|---:|---:|---|")
    for row in rows:
        cells = [f"{row[c]:.3g}" if row[c] == row[c] else "" for c in ("baseline (s)", "ours (s)", "ratio")]
        print(f"| {row['case']} | {' | '.join(cells)} | {row['target']} |")


if __name__ == "__main__":
    main()
