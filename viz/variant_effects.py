"""Ref/alt effects of variants (SPEC section 7): each allele pair scored with one forward pass per sequence, which
gives both the class probabilities and the attention landscape; a reference shared by several variants is scored
once. Pairs come from a VCF (or ClinVar TSV) against a reference (``pairs_from_windows``) or from sequences and the
original's mutation file (``pairs_from_mutations``). ``effects_table`` is the TSV of ``dnabert variants``."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dnabert_core.model import LoadedModel
from dnabert_core.records import Landscape, Prediction, SequenceRecord, Variant, VariantWindow
from viz.explain import LandscapeSettings, analyse
from viz.variants import P_CLIP, apply_edit, clip_probability, delta_p, log2_odds_ratio, score_change

Progress = Callable[[int, int], None]
SORTS = ("input", "effect", "delta_p", "log2_or")


@dataclass(frozen=True)
class AllelePair:
    """One variant as two sequences: ``ref`` and ``alt`` records, ``edit`` (ref -> alt, 0-based in ``ref``),
    ``key`` (pairs with equal keys share the same ``ref``: scored once) and the variant's own table ``columns``."""

    ref: SequenceRecord
    alt: SequenceRecord
    edit: Variant
    key: object
    columns: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantEffect:
    """The scores of one pair: ``p_ref``, ``p_alt`` (n_classes,); the ref landscape at the variant (its largest
    score over the edited bases, or the two bases around an insertion) and its rank in the ref window (1 = the
    window's top base); the landscapes themselves when asked for (``keep_tracks``)."""

    pair: AllelePair
    p_ref: np.ndarray
    p_alt: np.ndarray
    attention: float
    attention_rank: int
    ref_landscape: Landscape | None = field(default=None, repr=False)
    alt_landscape: Landscape | None = field(default=None, repr=False)


def pairs_from_windows(windows: Iterable[VariantWindow]) -> Iterator[AllelePair]:
    """Pairs of genomic windows (``viz.vcf``): ref and alt windows centred on the variant, the VCF's columns."""
    for window in windows:
        v = window.variant
        name = v.label
        columns = {"chrom": v.chrom, "pos": v.pos, "id": v.id or ".", "ref": v.ref, "alt": v.alt,
                   **dict(v.annotations), "window_start": window.start + 1, "window_end": window.end}
        yield AllelePair(ref=SequenceRecord(f"{name}|ref", window.ref_sequence),
                         alt=SequenceRecord(f"{name}|alt", window.alt_sequence), edit=window.edit,
                         key=window.ref_key, columns=columns)


def pairs_from_mutations(records: Mapping[str, SequenceRecord], variants: Iterable[Variant]) -> Iterator[AllelePair]:
    """Pairs of whole sequences and their edits (the original's mutation file, keyed by ``Variant.record_id``)."""
    for v in variants:
        record = records[v.record_id]
        columns = {"id": v.record_id, "start": v.start, "end": v.end, "allele": v.allele or "-"}
        yield AllelePair(ref=record, alt=SequenceRecord(f"{record.id}|{v.start}-{v.end}>{v.allele or '-'}",
                                                        apply_edit(record.sequence, v)),
                         edit=v, key=record.id, columns=columns)


def variant_attention(landscape: Landscape, edit: Variant, absolute: bool = False) -> tuple[float, int]:
    """The track's largest score over the edited bases (an insertion: the two bases beside it) and its rank among
    the window's bases (1 = highest; ties share the better rank); NaN and 0 when nothing there is scored. With
    ``absolute`` (attributions, signed) the value of largest magnitude, ranked by magnitude."""
    scores = np.abs(landscape.scores) if absolute else landscape.scores
    first = max(edit.start - 1, 0) if edit.start == edit.end else edit.start
    last = min(max(edit.end, edit.start + 1), len(scores))
    values = scores[first:last]
    if not np.isfinite(values).any():
        return float("nan"), 0
    at = first + int(np.nanargmax(values))
    rank = int(np.sum(scores[np.isfinite(scores)] > scores[at])) + 1
    return float(landscape.scores[at]), rank


def with_attributions(loaded: LoadedModel, effects: Sequence[VariantEffect], target: int,
                      n_steps: int = 50) -> list[dict[str, object]]:
    """For each effect, the integrated-gradients attribution of its ref sequence toward class ``target`` at the
    variant (``variant_attention`` with ``absolute``) and its rank by magnitude: columns attribution,
    attribution_rank. Each distinct ref is attributed once."""
    from viz.attribution import integrated_gradients

    refs = list({e.pair.key: e.pair.ref for e in effects}.items())
    tracks = dict(zip((key for key, _ in refs), integrated_gradients(loaded, [r for _, r in refs], target=target,
                                                                    n_steps=n_steps)))
    out = []
    for e in effects:
        value, rank = variant_attention(tracks[e.pair.key], e.pair.edit, absolute=True)
        out.append({"attribution": value, "attribution_rank": rank})
    return out


def _scored(loaded: LoadedModel, records: list[SequenceRecord], batch_size: int) -> list[tuple[Prediction, Landscape]]:
    """Probabilities and attention landscape of each record, in order (one forward pass per window)."""
    analysis = analyse(loaded, records, LandscapeSettings(), batch_size=batch_size)
    return list(zip(analysis.predictions, analysis.landscapes))


def score_pairs(loaded: LoadedModel, pairs: Iterable[AllelePair], *, keep_tracks: bool = False, batch_size: int = 32,
                chunk_size: int = 256, progress: Progress | None = None, total: int = 0) -> Iterator[VariantEffect]:
    """Score every pair, in input order, ``chunk_size`` pairs at a time (memory stays flat): each distinct ref once
    per chunk, each alt once. ``progress(done, total)`` counts pairs."""
    loaded.require_classifier()
    done = 0
    chunk: list[AllelePair] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == chunk_size:
            yield from _score_chunk(loaded, chunk, keep_tracks, batch_size)
            done += len(chunk)
            chunk = []
            if progress:
                progress(done, total)
    if chunk:
        yield from _score_chunk(loaded, chunk, keep_tracks, batch_size)
        if progress:
            progress(done + len(chunk), total)


def _score_chunk(loaded: LoadedModel, chunk: list[AllelePair], keep_tracks: bool,
                 batch_size: int) -> Iterator[VariantEffect]:
    slots: dict[object, int] = {}
    for pair in chunk:
        slots.setdefault(pair.key, len(slots))
    firsts = {slot: pair for pair in reversed(chunk) for slot in [slots[pair.key]]}
    ref_scores = _scored(loaded, [firsts[i].ref for i in range(len(slots))], batch_size)
    alt_scores = _scored(loaded, [pair.alt for pair in chunk], batch_size)
    for pair, (alt_p, alt_l) in zip(chunk, alt_scores):
        ref_p, ref_l = ref_scores[slots[pair.key]]
        attention, rank = variant_attention(ref_l, pair.edit)
        yield VariantEffect(pair=pair, p_ref=ref_p.probs, p_alt=alt_p.probs, attention=attention,
                            attention_rank=rank, ref_landscape=ref_l if keep_tracks else None,
                            alt_landscape=alt_l if keep_tracks else None)


def edit_frame(landscape: Landscape, ref_sequence: str, edit: Variant) -> Landscape:
    """An alt landscape (kept at the ref window's length, see ``VariantWindow``) on the bases of
    ``apply_edit(ref_sequence, edit)``, the frame ``viz.variants.coordinate_map`` aligns: the bases appended after a
    deletion dropped, those cut after an insertion NaN."""
    edited = apply_edit(ref_sequence, edit)
    scores = np.full(len(edited), np.nan)
    n = min(len(edited), len(landscape.scores))
    scores[:n] = landscape.scores[:n]
    return Landscape(landscape.record_id, edited, scores, landscape.source, landscape.delta)


def effect_row(effect: VariantEffect, labels: Sequence[str], target: int) -> dict[str, object]:
    """One output row: the variant's columns, then (for class ``target``) p_ref, p_alt, delta_p, score_change,
    log2_or (both from p clipped to [1e-6, 1 - 1e-6]; ``p_clipped`` says when that changed p), the ref attention at
    the variant and its rank, ``ref_check``; with more than two classes every class's p_ref/p_alt/delta_p too."""
    p_ref, p_alt = float(effect.p_ref[target]), float(effect.p_alt[target])
    clipped = clip_probability(np.array([p_ref, p_alt]))
    row = dict(effect.pair.columns)
    row.update(kind=effect.pair.edit.kind, p_ref=p_ref, p_alt=p_alt, delta_p=float(delta_p(p_ref, p_alt)),
               score_change=float(score_change(p_ref, p_alt)), log2_or=float(log2_odds_ratio(p_ref, p_alt)),
               p_clipped="yes" if not np.array_equal(clipped, [p_ref, p_alt]) else "no",
               attention=effect.attention, attention_rank=effect.attention_rank, ref_check="ok")
    if len(labels) > 2:
        for i, label in enumerate(labels):
            row.update({f"p_ref_{label}": float(effect.p_ref[i]), f"p_alt_{label}": float(effect.p_alt[i]),
                        f"delta_p_{label}": float(effect.p_alt[i] - effect.p_ref[i])})
    return row


def effects_table(effects: Iterable[VariantEffect], labels: Sequence[str], target: int, sort: str = "input",
                  min_abs_delta: float = 0.0) -> pd.DataFrame:
    """The rows of ``effect_row`` as a DataFrame, filtered and sorted by ``sort_effects``."""
    return sort_effects(pd.DataFrame([effect_row(e, labels, target) for e in effects]), sort, min_abs_delta)


def sort_effects(table: pd.DataFrame, sort: str = "input", min_abs_delta: float = 0.0) -> pd.DataFrame:
    """Rows with |delta_p| >= ``min_abs_delta``, in "input" order, by "effect" (largest |delta_p| first),
    "delta_p" (most negative first) or "log2_or" (largest first); stable."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of {SORTS}")
    if table.empty:
        return table
    table = table[table["delta_p"].abs() >= min_abs_delta]
    if sort == "effect":
        table = table.iloc[np.argsort(-table["delta_p"].abs().to_numpy(), kind="stable")]
    elif sort in ("delta_p", "log2_or"):
        table = table.sort_values(sort, ascending=sort == "delta_p", kind="stable")
    return table.reset_index(drop=True)


CLIP_NOTE = (f"score_change and log2_or use p clipped to [{P_CLIP:g}, 1 - {P_CLIP:g}] (SPEC section 7; the original "
             "gives infinities at p = 0 or 1); p_clipped says where that changed p")
