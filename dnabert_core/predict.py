"""Batched, windowed inference: records in, numpy out (class probabilities, embeddings).

Records are streamed in chunks; inside a chunk every window is tokenised, sorted by length (length bucketing keeps
padding small) and run in batches under ``torch.inference_mode``. Sequences longer than one model window are cut into
overlapping windows (``KmerTokenizer.windows``) of the model's training length (``LoadedModel.window_size``) whose
outputs are kept and aggregated per record.

Uninformative windows are not scored: a window in which more than ``MAX_UNKNOWN_FRACTION`` (half) of the k-mers are
``[UNK]`` (they hold N or another ambiguous base: an assembly gap, a masked stretch) would get a confident-looking
number that says nothing about the sequence. Its outputs are NaN (written ``NA``); a record's aggregate uses only its
informative windows, and a record without any is NaN throughout (``Prediction.scored`` is False) for the caller to
reject. With k = 6 a single N already turns 6 k-mers into ``[UNK]``; half the window means, e.g., a gap of about half
the window or one N every 12 bases.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from dnabert_core.errors import OptionError
from dnabert_core.model import LoadedModel
from dnabert_core.records import Embedding, Prediction, SequenceRecord
from dnabert_core.tokenizer import PAD_ID, UNK_ID

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BatchFn = Callable[[torch.Tensor, torch.Tensor], np.ndarray]
TokenFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, "torch.Tensor | None"]]
PRECISIONS = ("float32", "bfloat16", "int8")
AGGREGATES = ("mean", "max")
POOLINGS = ("cls", "mean")
MAX_UNKNOWN_FRACTION = 0.5
# Padded tokens per forward pass when ``token_budget`` is None. CPU: the shipped-size model (4 x 128, 1 free core)
# peaks at 2,000-8,000 tokens a batch (13-16 rows of 297 tokens, 32 of 128, 4-16 of 512) and loses 5-10% at
# 10,000-19,000 (32-64 rows of 297), where activations leave the cache (bench/bench_predict.py --sweep). A GPU
# stays busy with bigger batches; there the row cap (``batch_size``) decides unless it is raised.
CPU_TOKEN_BUDGET = 4096
CUDA_TOKEN_BUDGET = 65536
# Windows tokenised at once inside a chunk: bounds the token ids held (4,096 x 512 int64 = 16 MB) however long a record is.
WINDOW_GROUP = 4096


@dataclass(frozen=True)
class WindowOutputs:
    """Per-window outputs of one record: ``starts`` (n_windows,) 0-based, ``outputs`` (n_windows, ...), NaN rows for
    uninformative windows; ``size``: bases per window (the last window of a short record may be shorter)."""

    record: SequenceRecord
    starts: np.ndarray
    outputs: np.ndarray
    size: int

    @property
    def informative(self) -> np.ndarray:
        """(n_windows,) bool: the windows that were scored."""
        return informative_rows(self.outputs)


def informative_rows(outputs: np.ndarray) -> np.ndarray:
    """(n_windows,) bool: rows of per-window outputs (n_windows, ...) that are not NaN (scored windows)."""
    return ~np.isnan(outputs.reshape(len(outputs), -1)).all(axis=1)


def unscored_spans(starts: np.ndarray, informative: np.ndarray, size: int, length: int) -> list[tuple[int, int]]:
    """0-based half-open base spans covered by no informative window (merged, in order): what was not scored.
    ``starts`` ascending, as ``KmerTokenizer.windows`` gives them; works on the windows, never on a per-base array."""
    spans, covered_to = [], 0
    for start in starts[informative].tolist():
        if start > covered_to:
            spans.append((covered_to, start))
        covered_to = max(covered_to, start + size)
    if covered_to < length:
        spans.append((covered_to, length))
    return spans


def false_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """0-based half-open spans where a (length,) bool mask is False, in order (bool work only: a chromosome-long mask
    costs two bytes a base, not the 16 of an int64 diff)."""
    padded = np.ones(len(mask) + 2, dtype=bool)
    padded[1:-1] = mask
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch (None keeps torch's default, one per core)."""
    if threads is not None:
        if threads < 1:
            raise OptionError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def with_precision(loaded: LoadedModel, precision: str) -> LoadedModel:
    """A copy of the model for opt-in faster inference: "int8" dynamic quantisation of Linear layers (CPU) or
    "bfloat16" weights; "float32" returns the model unchanged. Measure the change in probabilities before relying on it
    (``bench/bench_predict.py`` reports it).
    """
    if precision not in PRECISIONS:
        raise OptionError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision == "float32":
        return loaded
    import copy

    model = copy.deepcopy(loaded.model)
    if precision == "int8":
        if loaded.device.type != "cpu":
            raise OptionError("int8 dynamic quantisation runs on the CPU only; use bfloat16 on a GPU")
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
        raise OptionError(f"batch_size and chunk_size must be at least 1, got {batch_size} and {chunk_size}")
    if token_budget is not None and token_budget < 1:
        raise OptionError(f"token_budget must be at least 1 (or None for the device's default), got {token_budget}")
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
    """Every window of a chunk of records, tokenised ``WINDOW_GROUP`` windows at a time so that one long record (a
    chromosome: hundreds of thousands of windows) never holds all its token ids at once. Each record's outputs are
    one array, NaN until its windows are scored; rows are copied in, so no output keeps a batch's tensor alive (a
    view per window pinned torch's allocations: 1.2 GB for one 4 Mb record)."""
    tokenizer = loaded.tokenizer
    size = loaded.window_size(window)
    starts = [tokenizer.windows(len(r.sequence), size, step) for r in chunk]
    outputs: list[np.ndarray | None] = [None] * len(chunk)
    keys = ((r, w) for r, record_starts in enumerate(starts) for w in range(len(record_starts)))
    row_shape = None  # the shape of one window's output, known after the first batch
    with torch.enable_grad() if grad else torch.inference_mode():
        while group := list(itertools.islice(keys, WINDOW_GROUP)):
            encoded = tokenizer.encode_many([chunk[r].sequence[starts[r][w] : starts[r][w] + size] for r, w in group])
            scored = [(r, w, ids) for (r, w), ids in zip(group, encoded) if is_informative(ids)]
            scored.sort(key=lambda item: item[2].size)
            for batch in _batches(scored, batch_size, token_budget, loaded.device):
                result = np.asarray(fn(*_padded(batch, loaded.device)), dtype=np.float64)
                row_shape = result.shape[1:]
                for row, (r, w, _) in enumerate(batch):
                    if outputs[r] is None:
                        outputs[r] = np.full((len(starts[r]), *row_shape), np.nan)
                    outputs[r][w] = result[row]
            if row_shape is None and len(scored) < len(group):  # nothing scored yet: run one window for the shape
                row_shape = np.asarray(fn(*_padded([(*group[0], encoded[0])], loaded.device))).shape[1:]
    for record, record_starts, record_outputs in zip(chunk, starts, outputs):
        if record_outputs is None:
            record_outputs = np.full((len(record_starts), *row_shape), np.nan)
        yield WindowOutputs(record=record, starts=record_starts, outputs=record_outputs, size=size)


def is_informative(token_ids: np.ndarray) -> bool:
    """True when at most ``MAX_UNKNOWN_FRACTION`` of a window's k-mers are ``[UNK]``. ``token_ids``: (m + 2,) with
    ``[CLS]`` and ``[SEP]``."""
    n_kmers = token_ids.size - 2
    return int(np.count_nonzero(token_ids == UNK_ID)) <= MAX_UNKNOWN_FRACTION * n_kmers


def _padded(batch: list[tuple[int, int, np.ndarray]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask of a length-sorted batch of (record, window, token ids): (batch, longest)."""
    width = max(item[2].size for item in batch)
    ids = np.full((len(batch), width), PAD_ID, dtype=np.int64)
    for row, (_, _, token_ids) in enumerate(batch):
        ids[row, : token_ids.size] = token_ids
    input_ids = torch.from_numpy(ids).to(device)
    return input_ids, (input_ids != PAD_ID).long()


@dataclass(frozen=True)
class TokenScores:
    """Per-window k-mer scores of one record. ``scores``: (n_windows, m_max), the first ``n_kmers[w]`` entries of row
    w are the scores of that window's k-mers (keys 1..m, ``[CLS]`` and ``[SEP]`` excluded), the rest zero;
    ``starts``: (n_windows,) 0-based window starts in bases; ``extras``: (n_windows, e) per-window values the method
    adds (e = 0 for attention; the convergence delta for integrated gradients)."""

    record: SequenceRecord
    starts: np.ndarray
    scores: np.ndarray
    n_kmers: np.ndarray
    extras: np.ndarray


def windowed_kmer_values(
    loaded: LoadedModel,
    records: Iterable[SequenceRecord],
    fn: TokenFn,
    *,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    grad: bool = False,
) -> Iterator[TokenScores]:
    """Run ``fn(input_ids, attention_mask) -> (per-token values (batch, n), extras (batch, e) or None)`` over every
    window and keep each window's k-mer values (keys 1..m; ``[CLS]``, ``[SEP]`` and padding dropped). Uninformative
    windows (mostly ``[UNK]``, see ``dnabert_core.predict``) are not run: their rows are NaN."""
    tokenizer = loaded.tokenizer
    m_max = loaded.window_size(window) - tokenizer.k + 1

    def slots(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        values, extras = fn(input_ids, attention_mask)
        values = values.detach().double().cpu().numpy()
        n_extra = 0 if extras is None else extras.shape[1]
        out = np.zeros((len(input_ids), m_max + n_extra))
        for row, m in enumerate(attention_mask.sum(dim=1).cpu().numpy() - 2):
            out[row, :m] = values[row, 1 : m + 1]
        if extras is not None:
            out[:, m_max:] = extras.detach().double().cpu().numpy()
        return out

    for windows in map_windows(loaded, records, slots, window=window, step=step, batch_size=batch_size,
                               chunk_size=chunk_size, progress=progress, grad=grad):
        size = min(windows.size, len(windows.record.sequence))
        n_kmers = np.full(len(windows.starts), max(size - tokenizer.k + 1, 0), dtype=np.int64)
        yield TokenScores(record=windows.record, starts=windows.starts, scores=windows.outputs[:, :m_max],
                          n_kmers=n_kmers, extras=windows.outputs[:, m_max:])


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
    target: int | None = None,
    window: int | None = None,
    step: int | None = None,
    batch_size: int = 32,
    chunk_size: int = 1024,
    progress: Progress | None = None,
    token_budget: int | None = None,
) -> Iterator[Prediction]:
    """Class probabilities per record, in input order; long records are scored in windows and aggregated.

    ``aggregate``: "mean" of the informative windows' probabilities, or "max": the window with the highest probability
    of class ``target`` ("is there a site anywhere in this region"); ``target`` defaults to the positive (last) class
    of a binary model and must be given for more classes. Per-window probabilities are kept in the ``Prediction``.
    ``batch_size`` caps the rows of a forward pass, ``token_budget`` its padded tokens (see ``map_windows``).
    """
    aggregate_target(loaded, aggregate, target)
    fn = class_probabilities(loaded)
    for out in map_windows(
        loaded, records, fn, window=window, step=step, batch_size=batch_size, chunk_size=chunk_size, progress=progress,
        token_budget=token_budget,
    ):
        yield window_prediction(out.record, out.starts, out.outputs, aggregate, target)


def aggregate_target(loaded: LoadedModel, aggregate: str, target: int | None) -> int | None:
    """The class whose best window "max" picks (None for "mean"; ``LoadedModel.target_class`` for "max": refused
    without a target on a multi-class model, where no class is "the positive one")."""
    loaded.require_classifier()
    if aggregate not in AGGREGATES:
        raise OptionError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}")
    return None if aggregate == "mean" else loaded.target_class(target)


def window_prediction(record: SequenceRecord, starts: np.ndarray, window_probs: np.ndarray, aggregate: str = "mean",
                      target: int | None = None) -> Prediction:
    """A record's ``Prediction`` from its windows' probabilities (n_windows, n_classes), NaN rows for uninformative
    windows: the "mean" of the informative ones, or the informative window with the highest probability of class
    ``target`` (default: the last) for "max". All NaN when no window was informative."""
    if aggregate not in AGGREGATES:
        raise OptionError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}")
    informative = informative_rows(window_probs)
    if not informative.any():
        probs = np.full(window_probs.shape[1], np.nan)
    elif aggregate == "mean":
        probs = window_probs[informative].mean(axis=0)
    else:
        column = window_probs[:, -1 if target is None else target]
        probs = window_probs[int(np.nanargmax(column))]
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
    (mask-aware: ``[CLS]``, ``[SEP]`` and padding excluded); informative windows of long records are averaged (NaN
    when none is).
    """
    if pooling not in POOLINGS:
        raise OptionError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
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
        vectors = out.outputs[out.informative]
        vector = vectors.mean(axis=0) if len(vectors) else np.full(out.outputs.shape[1], np.nan)
        yield Embedding(record_id=out.record.id, vector=vector, pooling=pooling)
