"""Training throughput: our pre-training and fine-tuning loops against the plain ``transformers`` recipe on the same
model, in one run, and as a fraction of the machine's float32 matmul peak.

Model: ``build_config(6, size="small")`` (the shipped size: 4 layers, hidden 128, 4 heads), dropout 0 in both (the
shipped recipe's setting), the same initial weights, AdamW (0.9, 0.98, eps 1e-6, weight decay 0.01), linear warm-up
and decay, gradient clipping at 1.0. Inputs: pieces of real genome text (chr22, 16.05-19 Mb) cut to the token length.

- masked-LM, ours: ``dnabert_core.pretraining.pretrain`` (contiguous 6-span masking, ~15% of tokens, the vocabulary
  projection only at masked positions), its own tokenisation and masking inside the timed loop;
- masked-LM, plain: ``BertTokenizerFast`` on space-separated k-mers (``padding=True``), ``DataCollatorForLanguageModeling``
  (15% of tokens), ``BertForMaskedLM(input_ids, attention_mask, labels)`` (logits at every position), a hand loop;
- fine-tuning, ours: ``dnabert_core.train.finetune`` on 300 bp sequences, batch 32 (its dev evaluation, called once
  at the end of each segment, is a constant: only the loop is timed);
- fine-tuning, plain: the same tokenizer, ``BertForSequenceClassification(input_ids, attention_mask, labels)``.

Throughput = non-padding input tokens per second; segments of ``--steps`` optimiser steps interleaved between the two
paths after one untimed warm-up segment each, best clean segment kept (see ``bench_predict.Meter``: other processes'
CPU use is read from /proc/stat, * marks a case with no clean segment). ``% of peak`` = 6 x parameters x tokens/s
over the best float32 matmul rate of ``bench_predict.matmul_peak`` with the same threads (6 x parameters is the usual
forward + backward estimate per token; attention's n^2 terms are not counted, nor is the masked-LM saving of
projecting only masked positions, so ours can read above the plain recipe on the same work).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_train.py [--threads 2] [--steps 8] [--rounds 3]`` (~6 minutes on two
free cores). Target: ours >= plain on every row.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import (BertForMaskedLM, BertForSequenceClassification, BertTokenizerFast,
                          DataCollatorForLanguageModeling, get_linear_schedule_with_warmup)
from transformers.utils import logging as hf_logging

from bench.bench_predict import Meter, Rate, matmul_peak, to_kmer_text
from dnabert_core.corpus import corpus_from_sequences
from dnabert_core.io import Genome
from dnabert_core.model import build_config, save_model
from dnabert_core.pretraining import pretrain
from dnabert_core.tokenizer import KmerTokenizer
from dnabert_core.train import TrainConfig, finetune

K = 6
GENOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "hg19-chr22-part" / "chr22_part.fa.gz"
CASES = (("masked-LM", 128, 64), ("masked-LM", 512, 16), ("fine-tuning", 300, 32))  # kind, tokens or bp, batch


def genome_pieces(tokens: int, n: int) -> list[str]:
    """``n`` pieces of chr22 text of ``tokens`` k-mers each (full length, mostly-N pieces skipped)."""
    with Genome(GENOME) as genome:
        text = genome.fetch("22", 16_050_000, 19_000_000)
    pieces = corpus_from_sequences([text], K, np.random.default_rng(0), max_tokens=tokens, short_fraction=0.0)
    return [p for p in pieces if "N" not in p][:n]


def optimiser(model: torch.nn.Module, steps: int):
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    return opt, get_linear_schedule_with_warmup(opt, steps // 10, steps)


class PlainLoop:
    """The hand loop a transformers user writes: tokenizer, optional collator, model(**batch, labels), AdamW."""

    def __init__(self, model: torch.nn.Module, tokenizer: BertTokenizerFast, batches: Callable[[int], tuple],
                 total_steps: int, collator=None) -> None:
        self.model, self.tokenizer, self.batches, self.collator = model.train(), tokenizer, batches, collator
        self.optimizer, self.scheduler = optimiser(model, total_steps)
        self.step = 0

    def run(self, steps: int) -> None:
        for _ in range(steps):
            texts, labels = self.batches(self.step)
            encoded = self.tokenizer(texts, padding=True, return_tensors="pt")
            if self.collator is not None:
                batch = self.collator([{"input_ids": ids} for ids in encoded["input_ids"].tolist()])
                batch["attention_mask"] = (batch["input_ids"] != self.tokenizer.pad_token_id).long()
            else:
                batch = {**encoded, "labels": torch.tensor(labels)}
            loss = self.model(**{key: batch[key] for key in ("input_ids", "attention_mask", "labels")}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1


class OurLoop:
    """Our loop, ``steps`` more at a time (a fresh run folder per segment; the model carries over)."""

    def __init__(self, kind: str, model: torch.nn.Module, data: list, batch: int, folder: Path) -> None:
        self.kind, self.model, self.data, self.batch, self.folder = kind, model, data, batch, folder
        self.tokenizer = KmerTokenizer(K)
        self.segment = 0

    def run(self, steps: int) -> None:
        self.segment += 1
        config = TrainConfig(output=self.folder / str(self.segment), steps=steps, batch_size=self.batch, lr=5e-4,
                             warmup_steps=max(steps // 10, 1), log_every=10**9, eval_every=10**9,
                             save_every=10**9, seed=self.segment)
        if self.kind == "masked-LM":
            pretrain(self.model, self.tokenizer, self.data, config, resume=False)
        else:
            finetune(self.model, self.tokenizer, self.data, self.data[:2], config, evaluate=lambda _: {"mcc": 0.0},
                     resume=False)


def bench_case(meter: Meter, kind: str, length: int, batch: int, steps: int, rounds: int, folder: Path) -> dict:
    total = steps * (rounds + 1)
    tokenizer_folder = folder / "tokenizer"
    if kind == "masked-LM":
        pieces = genome_pieces(length, total * batch + batch)
        data, texts = pieces, [to_kmer_text(p, K) for p in pieces]
        ours_model = BertForMaskedLM(build_config(K, size="small"))
        save_model(ours_model, KmerTokenizer(K), tokenizer_folder)
        plain_model = BertForMaskedLM(build_config(K, size="small"))
    else:
        pieces = genome_pieces(length - K + 1, total * batch + batch)
        labels = np.random.default_rng(1).integers(0, 2, len(pieces)).tolist()
        data, texts = list(zip(pieces, labels)), [to_kmer_text(p, K) for p in pieces]
        ours_model = BertForSequenceClassification(build_config(K, size="small"))
        save_model(ours_model, KmerTokenizer(K), tokenizer_folder)
        plain_model = BertForSequenceClassification(build_config(K, size="small"))
    for model in (ours_model, plain_model):
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    plain_model.load_state_dict(ours_model.state_dict())
    n_params = sum(p.numel() for p in ours_model.parameters())
    tokenizer = BertTokenizerFast(vocab_file=str(tokenizer_folder / "vocab.txt"), do_lower_case=False)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15) if kind == "masked-LM" else None

    def batches(step: int) -> tuple[list[str], list[int]]:
        rows = [(step * batch + i) % len(texts) for i in range(batch)]
        return [texts[i] for i in rows], [data[i][1] if kind != "masked-LM" else 0 for i in rows]

    plain = PlainLoop(plain_model, tokenizer, batches, total, collator)
    ours = OurLoop(kind, ours_model, data, batch, folder / "runs")
    row_tokens = {len(KmerTokenizer(K).encode(p)) for p in pieces}  # [CLS] + k-mers + [SEP], no padding
    assert len(row_tokens) == 1, row_tokens
    tokens = steps * batch * row_tokens.pop()
    rates = {"ours": Rate(), "plain": Rate()}
    plain.run(steps), ours.run(steps)  # warm-up
    for _ in range(rounds):
        for name, loop in (("plain", plain), ("ours", ours)):
            meter.measure(lambda: loop.run(steps), tokens, rates[name])
    return {"kind": kind, "length": length, "batch": batch, "params": n_params, "rates": rates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8, help="optimiser steps per timed segment")
    parser.add_argument("--rounds", type=int, default=3, help="timed segments per path and case")
    parser.add_argument("--wait-budget", type=float, default=120.0, help="seconds to wait for quiet, in all")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    hf_logging.set_verbosity_error()
    logging.disable(logging.WARNING)
    meter = Meter(args.wait_budget)
    peak_rates = matmul_peak(meter, 3)
    peak = max(rate.value for rate in peak_rates.values()) * 1e9
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (kind, length, batch) in enumerate(CASES):
            rows.append(bench_case(meter, kind, length, batch, args.steps, args.rounds, Path(tmp) / str(index)))
    print(f"torch {torch.__version__}, {args.threads} thread(s); float32 matmul peak {peak / 1e9:.1f} GFLOP/s; "
          f"{args.rounds} segments of {args.steps} steps per path (clean segments / all; * none clean)")
    print("| loop | input | batch | plain tokens/s | ours tokens/s | ours / plain | plain % of peak | ours % of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        plain, ours = row["rates"]["plain"], row["rates"]["ours"]
        unit = "tokens" if row["kind"] == "masked-LM" else "bp"
        fraction = [6 * row["params"] * rate.value / peak * 100 for rate in (plain, ours)]
        print(f"| {row['kind']} | {row['length']} {unit} | {row['batch']} | {plain.value:,.0f} ({plain.note}) | "
              f"{ours.value:,.0f} ({ours.note}) | {ours.value / plain.value:.2f}x | {fraction[0]:.1f}% | "
              f"{fraction[1]:.1f}% |")
    print(f"parameters: {rows[0]['params']:,} (masked-LM), {rows[-1]['params']:,} (classifier)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
