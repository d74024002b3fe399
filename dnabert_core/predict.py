"""Batched, windowed inference: records in, numpy out (class probabilities, embeddings).

Records are streamed in chunks; inside a chunk every window is tokenised, sorted by length (length bucketing keeps
padding small) and run in batches under ``torch.inference_mode``. Sequences longer than one model window are cut into
overlapping windows (``KmerTokenizer.windows``) whose outputs are kept and aggregated per record.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from dnabert_core.errors import DnabertError
from dnabert_core.model import LoadedModel
from dnabert_core.records import Embedding, Prediction, SequenceRecord
from dnabert_core.tokenizer import PAD_ID

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BatchFn = Callable[[torch.Tensor, torch.Tensor], np.ndarray]
PRECISIONS = ("float32", "bfloat16", "int8")
AGGREGATES = ("mean", "max")
POOLINGS = ("cls", "mean")
# Padded tokens per forward pass when ``token_budget`` is None. CPU: the shipped-size model (4 x 128, 1 free core)
# peaks at 2,000-8,000 tokens a batch (13-16 rows of 297 tokens, 32 of 128, 4-16 of 512) and loses 5-10% at
# 10,000-19,000 (32-64 rows of 297), where activations leave the cache (bench/bench_predict.py --sweep). A GPU
# stays busy with bigger batches; there the row cap (``batch_size``) decides unless it is raised.
CPU_TOKEN_BUDGET = 4096
CUDA_TOKEN_BUDGET = 65536


@dataclass(frozen=True)
class WindowOutputs:
    """Per-window outputs of one record: ``starts`` (n_windows,) 0-based, ``outputs`` (n_windows, ...)."""

    record: SequenceRecord
    starts: np.ndarray
    outputs: np.ndarray


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch (None keeps torch's default, one per core)."""
    if threads is not None:
        if threads < 1:
            raise DnabertError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def with_precision(loaded: LoadedModel, precision: str) -> LoadedModel:
    """A copy of the model for opt-in faster inference: "int8" dynamic quantisation of Linear layers (CPU) or
    "bfloat16" weights; "float32" returns the model unchanged. Measure the change in probabilities before relying on it
    (``bench/bench_predict.py`` reports it).
    """
    if precision not in PRECISIONS:
        raise DnabertError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision == "float32":
        return loaded
    import copy

    model = copy.deepcopy(loaded.model)
    if precision == "int8":
        if loaded.device.type != "cpu":
            raise DnabertError("int8 dynamic quantisation runs on the CPU only; use bfloat16 on a GPU")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    else:
        model = model.to(torch.bfloat16)
    return replace(loaded, model=model.eval())


def map_windows(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    fn: BatchFn,
    *,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    grad: bool = False,
    token_budget: int | None = None,
) -> Iterator[WindowOutputs]:
    """Run ``fn(input_ids, attention_mask) -> (batch, ...)`` over every window of every record, in input order.

    Windows are sorted by length; a batch holds as many as fit ``token_budget`` padded tokens, at most ``batch_size``
    (None: ``CPU_TOKEN_BUDGET`` = 4,096 on the CPU, ``CUDA_TOKEN_BUDGET`` = 65,536 on other devices). Memory stays
    flat: at most ``chunk_size`` records are held at once. ``progress(done, total)`` is called after each chunk;
    ``total`` is 0 when ``records`` has no length. ``fn`` runs under ``torch.inference_mode`` unless ``grad``
    (attribution methods need gradients).
    """
    if batch_size < 1 or chunk_size < 1:
        raise DnabertError(f"batch_size and chunk_size must be at least 1, got {batch_size} and {chunk_size}")
    if token_budget is not None and token_budget < 1:
        raise DnabertError(f"token_budget must be at least 1 (or None for the device's default), got {token_budget}")
    total = len(records) if hasattr(records, "__len__") else 0
    done = 0
    chunk: list[SequenceRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == chunk_size:
            yield from _run_chunk(loaded, chunk, fn, window, step, batch_size, grad, token_budget)
            done += len(chunk)
            chunk = []
            if progress:
                progress(done, total)
    if chunk:
        yield from _run_chunk(loaded, chunk, fn, window, step, batch_size, grad, token_budget)
        done += len(chunk)
        if progress:
            progress(done, total)


def _run_chunk(
    loaded: LoadedModel,
    chunk: list[SequenceRecord],
    fn: BatchFn,
    window: int | None,
    step: int | None,
    batch_size: int,
    grad: bool,
    token_budget: int | None = None,
) -> Iterator[WindowOutputs]:
    tokenizer = loaded.tokenizer
    size = tokenizer.window_size(window)
    starts = [tokenizer.windows(len(r.sequence), window, step) for r in chunk]
    keys = [(r, w) for r, record_starts in enumerate(starts) for w in range(len(record_starts))]
    encoded = tokenizer.encode_many([chunk[r].sequence[starts[r][w] : starts[r][w] + size] for r, w in keys])
    items = [(r, w, ids) for (r, w), ids in zip(keys, encoded)]  # (record index, window index, token ids)
    items.sort(key=lambda item: item[2].size)
    outputs: list[list[np.ndarray | None]] = [[None] * len(s) for s in starts]
    device = loaded.device
    with torch.enable_grad() if grad else torch.inference_mode():
        for batch in _batches(items, batch_size, token_budget, device):
            width = batch[-1][2].size  # sorted by length: the last is the longest
            ids = np.full((len(batch), width), PAD_ID, dtype=np.int64)
            for row, (_, _, token_ids) in enumerate(batch):
                ids[row, : token_ids.size] = token_ids
            input_ids = torch.from_numpy(ids).to(device)
            result = fn(input_ids, (input_ids != PAD_ID).long())
            for row, (r, w, _) in enumerate(batch):
                outputs[r][w] = result[row]
    for record, record_starts, record_outputs in zip(chunk, starts, outputs):
        yield WindowOutputs(record=record, starts=record_starts, outputs=np.stack(record_outputs))


def _batches(items: list[tuple], batch_size: int, token_budget: int | None, device: torch.device) -> Iterator[list]:
    """Consecutive runs of length-sorted ``items`` (``item[2]``: token ids): each takes as many as fit ``token_budget``
    padded tokens (rows x the longest, the last), at most ``batch_size`` rows and at least one. ``token_budget`` None:
    ``CPU_TOKEN_BUDGET`` on the CPU, ``CUDA_TOKEN_BUDGET`` elsewhere."""
    if token_budget is None:
        token_budget = CPU_TOKEN_BUDGET if device.type == "cpu" else CUDA_TOKEN_BUDGET
    first = 0
    while first < len(items):
        end = first + 1
        while end < len(items) and end - first < batch_size and (end - first + 1) * items[end][2].size <= token_budget:
            end += 1
        yield items[first:end]
        first = end


def class_probabilities(loaded: LoadedModel) -> BatchFn:
    """A ``BatchFn`` giving softmax class probabilities: (batch, n_classes) float64."""
    loaded.require_classifier()

    def fn(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        logits = loaded.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return torch.softmax(logits.float(), dim=-1).cpu().double().numpy()

    return fn


def predict(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    *,
    aggregate: str = "mean",
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    token_budget: int | None = None,
) -> Iterator[Prediction]:
    """Class probabilities per record, in input order; long records are scored in windows and aggregated.

    ``aggregate``: "mean" of the window probabilities, or "max" (the window with the highest probability of the last
    class, for "is there a site anywhere in this region"). Per-window probabilities are kept in the ``Prediction``.
    ``batch_size`` caps the rows of a forward pass, ``token_budget`` its padded tokens (see ``map_windows``).
    """
    if aggregate not in AGGREGATES:
        raise DnabertError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}")
    fn = class_probabilities(loaded)
    for out in map_windows(
        loaded, records, fn, window=window, step=step, batch_size=batch_size, chunk_size=chunk_size, progress=progress,
        token_budget=token_budget,
    ):
        yield window_prediction(out.record, out.starts, out.outputs, aggregate)


def window_prediction(record: SequenceRecord, starts: np.ndarray, window_probs: np.ndarray,
                      aggregate: str = "mean") -> Prediction:
    """A record's ``Prediction`` from its windows' probabilities (n_windows, n_classes): their "mean", or the window
    with the highest probability of the last class ("max")."""
    if aggregate not in AGGREGATES:
        raise DnabertError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}")
    probs = window_probs.mean(axis=0) if aggregate == "mean" else window_probs[int(window_probs[:, -1].argmax())]
    return Prediction(record_id=record.id, length=len(record.sequence), probs=probs, window_probs=window_probs,
                      window_starts=starts)


def embed(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    *,
    pooling: str = "mean",
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    token_budget: int | None = None,
) -> Iterator[Embedding]:
    """Sequence embeddings from the last encoder layer: the ``[CLS]`` vector or the mean over k-mer tokens
    (mask-aware: ``[CLS]``, ``[SEP]`` and padding excluded); windows of long records are averaged.
    """
    if pooling not in POOLINGS:
        raise DnabertError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
    encoder = loaded.model.base_model

    def fn(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        if pooling == "cls":
            return hidden[:, 0].cpu().double().numpy()
        kmer_mask = attention_mask.clone()
        kmer_mask[:, 0] = 0  # [CLS]
        kmer_mask[torch.arange(len(kmer_mask)), attention_mask.sum(dim=1) - 1] = 0  # [SEP]
        weights = kmer_mask.unsqueeze(-1).to(hidden.dtype)
        return ((hidden * weights).sum(dim=1) / weights.sum(dim=1)).cpu().double().numpy()

    for out in map_windows(
        loaded, records, fn, window=window, step=step, batch_size=batch_size, chunk_size=chunk_size, progress=progress,
        token_budget=token_budget,
    ):
        yield Embedding(record_id=out.record.id, vector=out.outputs.mean(axis=0), pooling=pooling)
