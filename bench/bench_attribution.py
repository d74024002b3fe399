"""Time of integrated gradients for one 300 bp sequence: captum ``LayerIntegratedGradients`` (a hook on the word
embeddings, the former way) against ours (``IntegratedGradients`` over embeddings passed as ``inputs_embeds``), by how
many integration steps go through the model per forward pass.

    python bench/bench_attribution.py [--threads 1] [--repeats 3] [--steps 50]

Random weights at the shipped size (4 layers x 128, k = 6, 297 tokens), target class 1. ``internal_batch_size`` is
captum's rows per pass: with one sequence, the steps per pass. Times are the best of ``--repeats`` after a warm-up,
wall clock and CPU time of the process (on a shared machine CPU time is the steadier of the two); the largest
difference between the two methods' attributions is printed beside them.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    import numpy as np
    import torch
    from captum.attr import LayerIntegratedGradients
    from transformers import BertForSequenceClassification

    from dnabert_core.model import LoadedModel, build_config
    from dnabert_core.tokenizer import KmerTokenizer
    from viz.attribution import pad_baseline, token_attributions

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BertForSequenceClassification(build_config(6, size="small")).eval()
    loaded = LoadedModel(model=model, tokenizer=KmerTokenizer(6), labels=("0", "1"), path="small")
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), 300))
    ids = torch.from_numpy(loaded.tokenizer.encode(sequence))[None]
    mask = torch.ones_like(ids)
    hooked = copy.deepcopy(model)  # the hook goes on a copy, never on the model ours uses

    def probability(input_ids, attention_mask):
        return torch.softmax(hooked(input_ids=input_ids, attention_mask=attention_mask).logits.float(), dim=-1)

    layer_ig = LayerIntegratedGradients(probability, hooked.bert.embeddings.word_embeddings)

    def baseline(size):
        return layer_ig.attribute(inputs=ids, baselines=pad_baseline(ids), additional_forward_args=(mask,), target=1,
                                  n_steps=args.steps, internal_batch_size=size).sum(dim=-1)

    def ours(size):
        return token_attributions(loaded, ids, mask, 1, n_steps=args.steps, internal_batch_size=size)[0]

    def best(fn, size):
        fn(size)
        wall, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = fn(size)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return min(wall), min(cpu), out

    print(f"threads {args.threads}, {args.steps} steps, {ids.shape[1]} tokens, best of {args.repeats}")
    print("| steps per pass | LayerIntegratedGradients s (CPU s) | ours s (CPU s) | ours/LIG CPU | max abs difference |")
    print("|---:|---:|---:|---:|---:|")
    for size in sorted({1, 5, 10, 25, args.steps}):
        (wall_base, cpu_base, a_base), (wall_ours, cpu_ours, a_ours) = best(baseline, size), best(ours, size)
        difference = float((a_base - a_ours).abs().max())
        print(f"| {size} | {wall_base:.2f} ({cpu_base:.2f}) | {wall_ours:.2f} ({cpu_ours:.2f}) | "
              f"{cpu_ours / cpu_base:.2f}x | {difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
