"""Integrated-gradients attributions per nucleotide (captum ``LayerIntegratedGradients`` on the k-mer embeddings).

What is attributed: the softmax probability of the target class, so a record's k-mer attributions sum to
p(sequence) - p(baseline) up to the convergence delta that captum reports.

Baseline: the same token sequence with every k-mer replaced by ``[PAD]``, whose word embedding is the zero vector
(``padding_idx``; never trained); ``[CLS]``, ``[SEP]``, position and token-type embeddings are kept. So the path runs
from "no k-mer information at any position" to the sequence, and ``[CLS]``/``[SEP]`` get zero attribution.

Per-token attributions are summed over the embedding dimension, projected to bases by the covering rule of SPEC
section 5 (mean over the k-mers covering a base) and, for long sequences, averaged over covering windows.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from captum.attr import LayerIntegratedGradients

from dnabert_core.attention import windowed_kmer_values
from dnabert_core.errors import DnabertError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress
from dnabert_core.records import Landscape, SequenceRecord
from dnabert_core.tokenizer import CLS_ID, PAD_ID, SEP_ID
from viz.landscape import kmer_windows_to_bases


def target_index(loaded: LoadedModel, target: int | str | None) -> int:
    """Class index from a label name or index; None means the last class (the positive one of a binary model)."""
    labels = loaded.require_classifier()
    if target is None:
        return len(labels) - 1
    if isinstance(target, str) and target in labels:
        return labels.index(target)
    try:
        index = int(target)
    except ValueError:
        raise DnabertError(f"unknown target class {target!r}; the model's classes are {list(labels)}") from None
    if not 0 <= index < len(labels):
        raise DnabertError(f"target class {index} does not exist; the model's classes are {list(labels)} "
                           f"(0..{len(labels) - 1})")
    return index


def pad_baseline(input_ids: torch.Tensor) -> torch.Tensor:
    """The IG baseline: every k-mer token replaced by ``[PAD]``; ``[CLS]``, ``[SEP]`` and padding kept."""
    special = (input_ids == CLS_ID) | (input_ids == SEP_ID) | (input_ids == PAD_ID)
    return torch.where(special, input_ids, torch.full_like(input_ids, PAD_ID))


def token_attributions(
    loaded: LoadedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    target: int,
    *,
    n_steps: int = 50,
    internal_batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """IG of p(target) per token: (batch, n) attributions and (batch,) convergence deltas."""
    model = loaded.model

    def probability(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)

    ig = LayerIntegratedGradients(probability, model.base_model.embeddings.word_embeddings)
    attributions, delta = ig.attribute(
        inputs=input_ids, baselines=pad_baseline(input_ids), additional_forward_args=(attention_mask,),
        target=target, n_steps=n_steps, internal_batch_size=internal_batch_size, return_convergence_delta=True,
    )
    return attributions.sum(dim=-1), delta


def integrated_gradients(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    *,
    target: int | str | None = None,
    n_steps: int = 50,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 8,
    internal_batch_size: int = 64,
    chunk_size: int = 256,
    progress: Progress | None = None,
) -> Iterator[Landscape]:
    """Per-base IG attribution of every record toward ``target`` (default: the last class), in input order.

    ``Landscape.delta`` is the largest absolute convergence delta over the record's windows: compare it with the
    attributions' scale, and raise ``n_steps`` when it is not small.
    """
    if n_steps < 2:
        raise DnabertError(f"n_steps must be at least 2, got {n_steps}")
    index = target_index(loaded, target)
    k = loaded.tokenizer.k
    source = (f"integrated gradients of p({loaded.labels[index]}), {n_steps} steps, baseline: k-mers replaced by "
              f"[PAD] (zero embedding)")

    def fn(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, delta = token_attributions(loaded, input_ids, attention_mask, index, n_steps=n_steps,
                                           internal_batch_size=internal_batch_size)
        return values, delta[:, None]

    for item in windowed_kmer_values(loaded, records, fn, window=window, step=step, batch_size=batch_size,
                                     chunk_size=chunk_size, progress=progress, grad=True):
        sequence = item.record.sequence
        scores = kmer_windows_to_bases(item.starts, item.scores, item.n_kmers, k, len(sequence))
        yield Landscape(record_id=item.record.id, sequence=sequence, scores=scores, source=source,
                        delta=float(np.abs(item.extras[:, 0]).max()))
