"""What the Predict & explain page computes: probabilities and landscapes of many records, and on demand one
record's attention maps, head rows and attributions. Tables come out as DataFrames ready to show and export."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnabert_core.attention import attention_rows, token_scores
from dnabert_core.errors import InputError
from dnabert_core.model import LoadedModel
from dnabert_core.predict import Progress, window_prediction
from dnabert_core.records import Landscape, Prediction, SequenceRecord
from viz.landscape import landscape_source, to_landscape


@dataclass(frozen=True)
class LandscapeSettings:
    """Landscape choices: 0-based ``layers``/``heads`` (None: last layer, every head), "sum"/"mean", "cls"/"mean"."""

    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    reduce: str = "sum"
    query: str = "cls"
    normalise: bool = False


@dataclass(frozen=True)
class Analysis:
    """Per-record predictions and landscapes, in input order."""

    predictions: tuple[Prediction, ...]
    landscapes: tuple[Landscape, ...]


@dataclass(frozen=True)
class AttentionDetail:
    """One window of one record, for attention maps and head plots: ``tokens`` (n,) including [CLS]/[SEP];
    ``maps`` (heads, n, n) of the chosen layer; ``cls_rows`` (layers, heads, m) [CLS] rows over the k-mers."""

    tokens: tuple[str, ...]
    layer: int
    maps: np.ndarray
    cls_rows: np.ndarray
    start: int
    end: int


def analyse(loaded: LoadedModel, records: Sequence[SequenceRecord], settings: LandscapeSettings,
            progress: Progress | None = None, batch_size: int = 16) -> Analysis:
    """Class probabilities (windows aggregated by mean; classifiers only) and attention landscapes (stitched) of every
    record, both from one forward pass per window."""
    source = landscape_source(loaded, settings.layers, settings.heads, settings.reduce, settings.query,
                              settings.normalise)
    predictions, landscapes = [], []
    for item in token_scores(loaded, records, layers=settings.layers, heads=settings.heads, reduce=settings.reduce,
                             query=settings.query, batch_size=batch_size, progress=progress,
                             probabilities=bool(loaded.labels)):
        landscapes.append(to_landscape(item, loaded.tokenizer.k, source, settings.normalise))
        if loaded.labels:
            predictions.append(window_prediction(item.record, item.starts, item.extras))
    return Analysis(predictions=tuple(predictions), landscapes=tuple(landscapes))


def attention_detail(loaded: LoadedModel, sequence: str, layer: int, start: int = 0,
                     window: int | None = None) -> AttentionDetail:
    """Full attention maps of ``layer`` (0-based) and every layer's [CLS] rows for the window of ``sequence``
    starting at ``start`` (0-based) of ``window`` bases (default: the model's window, ``LoadedModel.window_size``)."""
    tokenizer = loaded.tokenizer
    end = min(start + loaded.window_size(window), len(sequence))
    import torch

    ids = torch.from_numpy(tokenizer.encode(sequence[start:end]))[None]
    mask = torch.ones_like(ids)
    n_layers = loaded.model.config.num_hidden_layers
    maps = attention_rows(loaded, ids, mask, layers=[layer], query="all")[0, 0]
    cls_rows = attention_rows(loaded, ids, mask, layers=list(range(n_layers)), query="cls")[0][:, :, 1:-1]
    return AttentionDetail(tokens=tuple(tokenizer.decode(ids[0].numpy())), layer=layer, maps=maps,
                           cls_rows=cls_rows, start=start, end=end)


def predictions_table(predictions: Sequence[Prediction], labels: Sequence[str]) -> pd.DataFrame:
    """One row per record: id, length, windows, prob_<label> per class, pred (the most probable class; empty, with
    empty probabilities, for a record without an informative window)."""
    rows = []
    for p in predictions:
        row = {"id": p.record_id, "length": p.length, "windows": len(p.window_starts)}
        row.update({f"prob_{label}": float(v) for label, v in zip(labels, p.probs)})
        row["pred"] = labels[int(np.argmax(p.probs))] if p.scored else None
        rows.append(row)
    return pd.DataFrame(rows, columns=["id", "length", "windows", *[f"prob_{lab}" for lab in labels], "pred"])


def errors_table(errors: Sequence[InputError]) -> pd.DataFrame:
    """One row per rejected record: id, position, line, reason."""
    return pd.DataFrame([{"id": e.record_id, "position": e.position, "line": e.line, "reason": e.reason}
                         for e in errors], columns=["id", "position", "line", "reason"])


def tracks_table(tracks: Sequence[Landscape], track: str | None = None) -> pd.DataFrame:
    """The long table of SPEC section 8: id, position (1-based), base, score; with ``track`` ("attention",
    "attribution") a ``track`` column after ``id`` says which kind of score each row holds."""
    columns = ["id", *(["track"] if track else []), "position", "base", "score"]
    frames = [pd.DataFrame({"id": t.record_id, **({"track": track} if track else {}),
                            "position": np.arange(1, len(t.sequence) + 1), "base": list(t.sequence),
                            "score": t.scores}) for t in tracks]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def labelled_tracks_table(groups: Mapping[str, Sequence[Landscape]]) -> pd.DataFrame:
    """Several kinds of tracks in one long table, each row's kind in the ``track`` column (``tracks_table``)."""
    return pd.concat([tracks_table(tracks, track=name) for name, tracks in groups.items()], ignore_index=True)
