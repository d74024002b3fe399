"""Only the attention rows asked for, computed from the layers' own queries and keys, never touching the model.

SDPA cannot return attention weights, and ``output_attentions=True`` with eager attention materialises every layer's
(batch, heads, n, n) matrix. The landscape needs one query row per head (``[CLS]``) or the mean over query rows, of a
few layers. So the encoder is run one layer at a time, as ``BertModel`` runs it (its embeddings, its attention mask
from ``create_bidirectional_mask``, then each ``BertLayer`` with SDPA): the hidden state entering a chosen layer gives
that layer's query and key, ``layer.attention.self.query(h)`` and ``.key(h)``, exactly the projections the layer
computes itself (absolute position embeddings: nothing else enters q or k; relative ones are refused). The rows are
then computed as eager attention would: ``softmax(q k^T / sqrt(d) + mask)`` (dropout is off in eval mode). The mean
over query rows is accumulated in blocks of query rows, so no layer's full matrix is ever held; full (heads, n, n)
maps are computed only for the one layer a user views (``query="all"``). Only the current hidden state is held, never
all layers' (``output_hidden_states`` would keep them and installs output-capturing hooks on the model), and without
class probabilities the pass stops after the last chosen layer. With them, the classifier's head (pooler, dropout,
classifier, as ``BertForSequenceClassification`` applies them) finishes the same pass.

Re-entrant: the app shares one model between every user's thread. Nothing here registers a hook, sets an attribute or
switches train/eval mode; each call only calls the model's modules as functions of their weights, so concurrent calls
with different batch shapes never see each other's tensors.

Padding: keys of padding positions get zero weight (as in the model), and only real query rows (``[CLS]``, k-mers,
``[SEP]``) enter the mean, so a padded batch gives exactly each sequence's rows run alone.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from transformers.masking_utils import create_bidirectional_mask

from dnabert_core.errors import DnabertError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress, TokenScores, windowed_kmer_values
from dnabert_core.records import SequenceRecord

QUERIES = ("cls", "mean", "all")
REDUCTIONS = ("sum", "mean")
QUERY_BLOCK = 64  # query rows per block when averaging over rows: bounds the scratch to (batch, heads, 64, n)


def resolve_layers(n_layers: int, layers: Sequence[int] | None) -> list[int]:
    """0-based layer indices (negative count from the end); None means the last layer (SPEC section 5)."""
    if layers is None:
        return [n_layers - 1]
    if not layers:
        raise DnabertError("no layer chosen; give at least one layer")
    out = []
    for layer in layers:
        if not -n_layers <= layer < n_layers:
            raise DnabertError(f"layer {layer} does not exist: the model has {n_layers} layers (0..{n_layers - 1})")
        out.append(layer % n_layers)
    return sorted(set(out))


def resolve_heads(n_heads: int, heads: Sequence[int] | None) -> list[int]:
    """0-based head indices; None means every head."""
    if heads is None:
        return list(range(n_heads))
    if not heads:
        raise DnabertError("no head chosen; give at least one head")
    for head in heads:
        if not 0 <= head < n_heads:
            raise DnabertError(f"head {head} does not exist: the model has {n_heads} heads (0..{n_heads - 1})")
    return sorted(set(heads))


def _encoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    base = getattr(model, "base_model", model)
    try:
        return base.encoder.layer
    except AttributeError as error:
        raise DnabertError(f"{type(model).__name__} is not a BERT encoder (no encoder.layer)") from error


def _rows(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor, query: str) -> torch.Tensor:
    """Attention rows from projections. ``q``, ``k``: (batch, heads, n, d); ``mask``: (batch, n) 1 for real tokens.

    Returns (batch, heads, n) for "cls" and "mean", (batch, heads, n, n) for "all", float32.
    """
    q, k = q.float(), k.float()
    scale = 1.0 / math.sqrt(q.shape[-1])
    bias = torch.zeros(mask.shape, dtype=torch.float32, device=q.device).masked_fill(mask == 0, float("-inf"))
    bias = bias[:, None, None, :]  # (batch, 1, 1, n): padding keys get weight zero

    def probs(rows: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.matmul(rows, k.transpose(-1, -2)) * scale + bias, dim=-1)

    if query == "cls":
        return probs(q[:, :, :1])[:, :, 0]
    if query == "all":
        return probs(q)
    total = torch.zeros(q.shape[0], q.shape[1], q.shape[2], dtype=torch.float32, device=q.device)
    weights = mask.float()
    for first in range(0, q.shape[2], QUERY_BLOCK):
        block = probs(q[:, :, first : first + QUERY_BLOCK])  # (batch, heads, block, n)
        total += torch.einsum("bhqn,bq->bhn", block, weights[:, first : first + QUERY_BLOCK])
    return total / weights.sum(dim=1)[:, None, None]


def attention_rows(
    loaded: LoadedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    layers: Sequence[int] | None = None,
    query: str = "cls",
) -> np.ndarray:
    """Attention rows of the chosen layers for one batch: (batch, n_layers, heads, n) for "cls"/"mean",
    (batch, n_layers, heads, n, n) for "all". ``layers``: 0-based (None: the last)."""
    chosen = resolve_layers(loaded.model.config.num_hidden_layers, layers)
    with torch.inference_mode():
        return _layer_rows(loaded.model, input_ids, attention_mask, chosen, query)[0].cpu().numpy()


def _check_encoder(model: torch.nn.Module, query: str) -> None:
    """Refuse what the rows cannot be computed for: an unknown ``query``, relative position embeddings (they enter
    the attention scores beside q k^T) and a decoder (its mask is causal)."""
    if query not in QUERIES:
        raise DnabertError(f"unknown query {query!r}; choose one of {QUERIES}")
    config = model.config
    position_type = getattr(config, "position_embedding_type", "absolute")
    if position_type != "absolute":
        raise DnabertError(f"attention rows are computed for absolute position embeddings; this model uses "
                           f"{position_type!r}")
    if getattr(config, "is_decoder", False):
        raise DnabertError("attention rows are computed for a bidirectional encoder; this model is a decoder")


def _query_key(attention: torch.nn.Module, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer's query and key from the hidden state entering it: (batch, n, hidden) -> 2 x (batch, heads, n, d)."""
    size = attention.attention_head_size

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], -1, size).transpose(1, 2)

    return split(attention.query(hidden)), split(attention.key(hidden))


def _layer_rows(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, chosen: list[int],
                query: str, *, head: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One forward pass, layer by layer: rows of the chosen layers (batch, n_layers, heads, n[, n]), and with
    ``head`` the classifier's softmax probabilities (batch, n_classes) from the same pass (else None).

    ``chosen``: sorted 0-based layers. Reads the model's modules only (see the module docstring)."""
    _check_encoder(model, query)
    base = model.base_model
    encoder_layers = _encoder_layers(model)
    hidden = base.embeddings(input_ids=input_ids)  # (batch, n, hidden): the input of layer 0
    mask = create_bidirectional_mask(config=base.config, inputs_embeds=hidden, attention_mask=attention_mask)
    found = []
    for index in range(len(encoder_layers) if head else chosen[-1] + 1):
        layer = encoder_layers[index]
        if index in chosen:
            found.append(_rows(*_query_key(layer.attention.self, hidden), attention_mask, query))
        hidden = layer(hidden, mask)
    rows = torch.stack(found, dim=1)
    if not head:
        return rows, None
    logits = model.classifier(model.dropout(base.pooler(hidden)))
    return rows, torch.softmax(logits.float(), dim=-1)


def token_scores(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    *,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    reduce: str = "sum",
    query: str = "cls",
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    probabilities: bool = False,
) -> Iterator[TokenScores]:
    """k-mer scores per record and window (SPEC section 5 step 1): attention from the query row(s) to each k-mer,
    summed (or averaged) over the chosen layers and heads. Streamed: memory stays flat over any number of records.
    With ``probabilities`` (a classifier), the same forward pass also gives each window's class probabilities, in
    ``extras`` (n_windows, n_classes)."""
    if reduce not in REDUCTIONS:
        raise DnabertError(f"unknown reduction {reduce!r}; choose one of {REDUCTIONS}")
    if query not in ("cls", "mean"):
        raise DnabertError(f"landscapes use query 'cls' or 'mean', got {query!r}")
    config = loaded.model.config
    chosen = resolve_layers(config.num_hidden_layers, layers)
    head_index = resolve_heads(config.num_attention_heads, heads)

    if probabilities:
        loaded.require_classifier()

    def fn(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        rows, probs = _layer_rows(loaded.model, input_ids, attention_mask, chosen, query, head=probabilities)
        rows = rows[:, :, head_index]
        return (rows.sum(dim=(1, 2)) if reduce == "sum" else rows.mean(dim=(1, 2))), probs

    return windowed_kmer_values(loaded, records, fn, window=window, step=step, batch_size=batch_size,
                                chunk_size=chunk_size, progress=progress)
