"""Integrated-gradients attributions per nucleotide (captum ``IntegratedGradients`` over the k-mer embeddings).

What is attributed: the softmax probability of the target class, so a record's k-mer attributions sum to
p(sequence) - p(baseline) up to the convergence delta that captum reports.

Baseline: the same token sequence with every k-mer replaced by ``[PAD]``, whose word embedding is the zero vector
(``padding_idx``; never trained); ``[CLS]``, ``[SEP]``, position and token-type embeddings are kept. So the path runs
from "no k-mer information at any position" to the sequence, and ``[CLS]``/``[SEP]`` get zero attribution.

How, without touching the shared model: the word embeddings of the sequence and of the baseline are looked up here
(``word_embeddings(ids)``, no gradient), and captum integrates a forward function that passes the interpolated
embeddings to the model as ``inputs_embeds`` (``BertEmbeddings`` adds position and token-type embeddings to them,
exactly as to looked-up ones). This is what ``LayerIntegratedGradients`` on the embedding layer computes, without the
hook it registers on that layer: the app's threads share one model, and a hook would fire on every other user's
forward pass. Gradients are taken with ``torch.autograd.grad`` with respect to the embeddings only, so no parameter's
``.grad`` is written. Integration steps run ``internal_batch_size`` rows per forward pass.

Per-token attributions are summed over the embedding dimension, projected to bases by the covering rule of SPEC
section 5 (mean over the k-mers covering a base) and, for long sequences, averaged over covering windows.

Target: a given class, or by default each record's predicted class (one extra forward pass per window first).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from captum.attr import IntegratedGradients

from dnabert_core.errors import OptionError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress, predict, windowed_kmer_values
from dnabert_core.records import Landscape, SequenceRecord
from dnabert_core.tokenizer import CLS_ID, PAD_ID, SEP_ID
from viz.landscape import to_landscape


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
    """IG of p(target) per token: (batch, n) attributions and (batch,) convergence deltas. ``input_ids``,
    ``attention_mask``: (batch, n). ``internal_batch_size``: rows per forward pass (batch x steps per pass)."""
    model = loaded.model
    word_embeddings = model.base_model.embeddings.word_embeddings
    with torch.no_grad():
        inputs = word_embeddings(input_ids)  # (batch, n, hidden)
        baselines = word_embeddings(pad_baseline(input_ids))  # zero vectors at the k-mers

    def probability(embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(inputs_embeds=embeds, attention_mask=mask).logits.float(), dim=-1)

    attributions, delta = IntegratedGradients(probability).attribute(
        inputs=inputs, baselines=baselines, additional_forward_args=(attention_mask,), target=target,
        n_steps=n_steps, internal_batch_size=internal_batch_size, return_convergence_delta=True,
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
    """Per-base IG attribution of every record toward ``target``, in input order. ``target=None`` explains each
    record's predicted class (the most probable after aggregating its windows by mean), so that a multi-class model
    never explains "neither" by default; the class is named in each ``Landscape.source``.

    ``Landscape.delta`` is the largest absolute convergence delta over the record's scored windows: compare it with the
    attributions' scale, and raise ``n_steps`` when it is not small. Uninformative windows are NaN.
    """
    if n_steps < 2:
        raise OptionError(f"n_steps must be at least 2, got {n_steps}")
    fixed = loaded.class_index(target)
    settings = dict(window=window, step=step, batch_size=batch_size)
    total = len(records) if hasattr(records, "__len__") else 0
    done = 0
    for chunk in _chunks(records, chunk_size):
        classes = [fixed] * len(chunk) if fixed is not None else [
            int(np.argmax(p.probs)) if p.scored else 0 for p in predict(loaded, chunk, **settings)]
        tracks: dict[int, Landscape] = {}
        for index in sorted(set(classes)):
            members = [i for i, c in enumerate(classes) if c == index]
            source = (f"integrated gradients of p({loaded.labels[index]}), {n_steps} steps, baseline: k-mers "
                      f"replaced by [PAD] (zero embedding)")

            def fn(input_ids: torch.Tensor, attention_mask: torch.Tensor, index: int = index):
                values, delta = token_attributions(loaded, input_ids, attention_mask, index, n_steps=n_steps,
                                                   internal_batch_size=internal_batch_size)
                return values, delta[:, None]

            items = windowed_kmer_values(loaded, [chunk[i] for i in members], fn, **settings, grad=True)
            for i, item in zip(members, items):
                deltas = np.abs(item.extras[:, 0])
                delta = float(np.nanmax(deltas)) if np.isfinite(deltas).any() else None
                tracks[i] = to_landscape(item, loaded.k, source, delta=delta)
        yield from (tracks[i] for i in range(len(chunk)))
        done += len(chunk)
        if progress:
            progress(done, total)


def _chunks(records: Iterable[SequenceRecord], size: int) -> Iterator[list[SequenceRecord]]:
    chunk: list[SequenceRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
