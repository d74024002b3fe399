"""End-to-end training recipes behind ``dnabert pretrain``: data in, model folder with its card out."""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import BertForMaskedLM

from dnabert_core.cards import hardware, metrics_table, render_card
from dnabert_core.corpus import corpus_from_sequences
from dnabert_core.io import Genome, parse_region
from dnabert_core.model import build_config, save_model
from dnabert_core.tokenizer import N_SPECIAL, KmerTokenizer, kmer_token_ids
from dnabert_core.train import Run, TrainConfig, init_distributed, masked_lm_metrics, pretrain, seed_everything

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenomeSplit:
    """Training and held-out genome text: lists of (name, sequence)."""

    train: list[tuple[str, str]]
    held_out: list[tuple[str, str]]


def split_genome(genome: Genome, regions: list[str] | None, holdout: str | None) -> GenomeSplit:
    """Training text = the regions (default: every chromosome) minus the held-out region; held-out text = that region.

    Region strings are ``chr:start-end`` (1-based inclusive).
    """
    spans = [parse_region(r) for r in regions] if regions else [(c, 0, n) for c, n in genome.chromosomes.items()]
    held = parse_region(holdout) if holdout else None
    train, held_out = [], []
    for chrom, start, end in spans:
        pieces = [(start, end)]
        if held and held[0] == chrom:
            pieces = [(s, e) for s, e in ((start, min(end, held[1])), (max(start, held[2]), end)) if e > s]
        for s, e in pieces:
            train.append((f"{chrom}:{s + 1}-{e}", genome.fetch(chrom, s, e)))
    if held:
        held_out.append((holdout, genome.fetch(*held)))
    return GenomeSplit(train=train, held_out=held_out)


def unigram_baseline(train_pieces: list[str], eval_pieces: list[str], k: int) -> dict:
    """Trivial baselines on held-out k-mers: accuracy of always predicting the most frequent training k-mer, and the
    cross-entropy of the training k-mer frequencies (add-one smoothed)."""
    counts = Counter()
    for piece in train_pieces:
        counts.update(kmer_token_ids(piece, k).tolist())
    vocab = N_SPECIAL + 4**k
    frequencies = np.ones(vocab)
    for token, n in counts.items():
        frequencies[token] += n
    frequencies[:N_SPECIAL] = 0
    probabilities = frequencies / frequencies.sum()
    held = np.concatenate([kmer_token_ids(p, k) for p in eval_pieces])
    held = held[held >= N_SPECIAL]
    most = int(np.argmax(frequencies))
    return {"accuracy": float(np.mean(held == most)), "loss": float(-np.mean(np.log(probabilities[held])))}


def pretrain_genome(
    fasta: str,
    output: Path,
    *,
    regions: list[str] | None,
    holdout: str | None,
    k: int,
    size: str,
    config: TrainConfig,
    extra_text: list[str] | None = None,
    eval_limit: int = 256,
    resume: bool = True,
    on_log=None,
    command: str = "",
) -> Run:
    """Pre-train a masked-LM on genome text (plus optional extra sequences) and write the model folder with its card,
    the held-out masked-k-mer accuracy and loss against the unigram baseline."""
    dist_info = init_distributed()
    rng = np.random.default_rng(config.seed)
    with Genome(fasta) as genome:
        split = split_genome(genome, regions, holdout)
    pieces = corpus_from_sequences([s for _, s in split.train] + list(extra_text or []), k, rng)
    eval_pieces = corpus_from_sequences([s for _, s in split.held_out], k, np.random.default_rng(0),
                                        short_fraction=0.0)[:eval_limit]
    seed_everything(config.seed)
    model = BertForMaskedLM(build_config(k, size=size))
    tokenizer = KmerTokenizer(k)
    started = time.perf_counter()
    run = pretrain(model, tokenizer, pieces, config, eval_pieces=eval_pieces, dist_info=dist_info, resume=resume,
                   on_log=on_log)
    if not dist_info.main:
        return run
    held = masked_lm_metrics(run.model, tokenizer, eval_pieces, batch_size=32, seed=config.seed)
    baseline = unigram_baseline(pieces, eval_pieces, k)
    n_params = sum(p.numel() for p in run.model.parameters())
    card = render_card(
        f"{output.name}: DNABERT-style masked-LM encoder (k={k})",
        {
            "Task": "Masked-language-model pre-training with contiguous k-span masking (SPEC section 3). Use it as "
            "the starting point of fine-tuning: `dnabert finetune -m THIS_FOLDER ...`.",
            "Model": f"BERT, {run.model.config.num_hidden_layers} layers, hidden {run.model.config.hidden_size}, "
            f"{run.model.config.num_attention_heads} heads, {n_params / 1e6:.1f}M parameters, {k}-mer tokens, "
            f"{run.model.config.max_position_embeddings} positions.",
            "Data": f"Genome text from `{Path(fasta).name}`; training regions: "
            f"{', '.join(name for name, _ in split.train)} ({sum(len(s) for _, s in split.train):,} bp"
            f"{', plus ' + str(len(extra_text)) + ' extra training sequences' if extra_text else ''}); "
            f"{len(pieces):,} pieces of up to {tokenizer.max_bases} bp, half cut shorter, mostly-N pieces skipped.",
            "Held-out evaluation": f"Region never trained on: {holdout} ({len(eval_pieces)} pieces). Masked k-mer "
            f"accuracy and cross-entropy on masked positions, against the trivial baselines (always the most "
            f"frequent training k-mer; training k-mer frequencies):\n\n"
            + metrics_table({"this model": held, "unigram baseline": baseline}, ["accuracy", "loss"]),
            "Training": f"{run.step} steps, global batch {config.batch_size}, AdamW (0.9, 0.98, eps 1e-6, weight "
            f"decay {config.weight_decay}), peak lr {config.lr}, {config.warmup_steps} warm-up steps then linear "
            f"decay, mask probability {config.mask_probability}, seed {config.seed}. Wall time of this invocation "
            f"{(time.perf_counter() - started) / 60:.1f} min on {hardware()}.\n\n"
            f"Command: `{command}`",
            "Limitations": "Small model trained briefly on a small part of one human chromosome: it knows local "
            "sequence statistics, not the whole genome. Fine-tune before predicting anything.",
        },
    )
    save_model(run.model, tokenizer, output, card=card)
    return run
