"""Frozen dataclasses that carry data one way: parse -> tokenize -> model -> scores."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dnabert_core.errors import InputError


@dataclass(frozen=True)
class SequenceRecord:
    """One input sequence, normalised (upper-case, U -> T).

    ``label`` is the raw label text from the input (``None`` when absent); ``source`` says where the record came from
    (``"file.fa line 12"``, ``"22:1000-2000"``) so later errors can point back to it.
    """

    id: str
    sequence: str
    label: str | None = None
    source: str | None = None

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one record.

    ``probs``: (n_classes,), the aggregate over windows; ``window_probs``: (n_windows, n_classes), NaN rows for
    windows too ambiguous to score (mostly N); ``window_starts``: (n_windows,), 0-based start of each window in
    bases. One window for short sequences.
    """

    record_id: str
    length: int
    probs: np.ndarray
    window_probs: np.ndarray = field(repr=False)
    window_starts: np.ndarray = field(repr=False)

    @property
    def scored(self) -> bool:
        """False when no window was informative: ``probs`` is NaN and the record should be reported, not shown."""
        return bool(np.isfinite(self.probs).all())


@dataclass(frozen=True)
class Embedding:
    """A sequence embedding: ``vector`` (hidden,), pooled as ``pooling`` ("cls" or "mean"), averaged over windows."""

    record_id: str
    vector: np.ndarray
    pooling: str


@dataclass(frozen=True)
class Landscape:
    """A per-base score track of one sequence: attention landscape (SPEC section 5) or attribution.

    ``scores``: (len(sequence),), one per base, averaged over the windows covering each base for long sequences;
    ``source`` says how it was computed ("attention, layer 4, sum of heads 1-4, [CLS] query"); ``delta``: for
    integrated gradients, the largest absolute convergence delta over the record's windows (None for attention).
    """

    record_id: str
    sequence: str
    scores: np.ndarray = field(repr=False)
    source: str
    delta: float | None = None


@dataclass(frozen=True)
class MotifInstance:
    """One occurrence of a motif (SPEC section 6.5): ``start``/``end`` 0-based half-open in the positive sequence
    ``record_id``; ``strand`` '+' when the occurrence reads in motif orientation on the given strand, '-' when it is the
    reverse complement; ``sequence`` is the window's text in motif orientation (reverse-complemented for '-')."""

    record_id: str
    start: int
    end: int
    strand: str
    sequence: str


@dataclass(frozen=True)
class Motif:
    """A discovered motif (SPEC section 6): its instances, position frequency matrix and enrichment.

    ``pfm``: DataFrame (window, 4), index ``position`` 0..window-1, columns A, C, G, T, instance counts.
    ``members``: the merged candidate substrings, the first one being the motif's reference. ``x``, ``n``, ``p``,
    ``p_adj``: the hypergeometric enrichment of the motif's most significant member (see ``viz.motifs``).
    """

    name: str
    consensus: str
    members: tuple[str, ...]
    instances: tuple[MotifInstance, ...]
    pfm: pd.DataFrame = field(repr=False, compare=False)
    x: int
    n: int
    p: float
    p_adj: float


@dataclass(frozen=True)
class Variant:
    """An edit of one sequence (SPEC section 7): bases ``start:end`` (0-based, half-open) of record ``record_id``
    replaced by ``allele``.

    An empty allele is a deletion, ``start == end`` an insertion (before base ``start``), an allele as long as the span
    a substitution (one base or several), anything else a deletion-insertion ("delins"). ``allele`` is upper-cased
    and must hold A, C, G, T only (no N or other IUPAC code: an alternative allele has to be one sequence). ``ref``,
    when known, is the text expected at ``start:end`` (checked by :func:`viz.variants.apply_edit`); ``id`` names the
    variant (a VCF ID, a mutation file's index); ``source`` says where it was read (``"mut.txt line 3"``).
    Raises InputError for a negative or reversed span, a non-ACGT allele, or an empty edit.
    """

    record_id: str
    start: int
    end: int
    allele: str
    id: str | None = None
    ref: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        allele = self.allele.upper()
        object.__setattr__(self, "allele", allele)
        where = {"record_id": self.record_id, "source": self.source}
        name = f"variant {self.id!r}" if self.id is not None else "variant"
        if not 0 <= self.start <= self.end:
            raise InputError(f"{name}: invalid span start {self.start}, end {self.end} (need 0 <= start <= end)",
                             **where)
        if allele.strip("ACGT"):
            bad = next(base for base in allele if base not in "ACGT")
            raise InputError(f"{name}: allele {allele!r} holds {bad!r}; an allele must be A, C, G and T only", **where)
        if self.start == self.end and not allele:
            raise InputError(f"{name}: empty edit (start == end and an empty allele change nothing)", **where)

    @property
    def kind(self) -> str:
        """One of "substitution", "insertion", "deletion", "delins" (see the class docstring)."""
        if not self.allele:
            return "deletion"
        if self.start == self.end:
            return "insertion"
        return "substitution" if len(self.allele) == self.end - self.start else "delins"

    @property
    def length_change(self) -> int:
        """``len(alt) - len(ref)`` of the edited sequence: 0 for substitutions."""
        return len(self.allele) - (self.end - self.start)


@dataclass(frozen=True)
class GenomicVariant:
    """One ALT allele of a variant on a reference genome, as read from a VCF or ClinVar table (multi-allelic VCF
    records give one each).

    ``pos``: 1-based position of the first REF base (VCF POS); ``ref``/``alt``: upper-case alleles as written
    (VCF-style, usually anchored on a shared first base for indels); ``line``: 1-based line in ``source``;
    ``annotations``: extra ``(name, value)`` fields kept from the input (ClinVar's significance, ...).
    """

    chrom: str
    pos: int
    ref: str
    alt: str
    id: str | None = None
    line: int | None = None
    source: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """The ID when there is one, else ``chrom:pos:REF>ALT``: how errors name the variant."""
        return self.id if self.id is not None else f"{self.chrom}:{self.pos}:{self.ref}>{self.alt}"


@dataclass(frozen=True)
class VariantWindow:
    """The ref and alt windows of one genomic variant: ``flank`` reference bases on each side of REF and of ALT.

    ``start``: 0-based start of the ref window on ``contig`` (the reference's name for ``variant.chrom``, which may
    differ by a ``chr`` prefix); ``ref_sequence`` is ``contig[start:end]``; ``alt_sequence`` is
    ``apply_edit(ref_sequence, edit)`` kept at the ref window's length (a model fine-tuned on one length reads
    shorter or longer inputs differently): after a deletion the reference bases that follow the window are appended,
    after an insertion as many bases are cut from its right end (``alt_tail``). ``edit``: the variant relative to the
    ref window, trimmed to its minimal form (the bases REF and ALT share at either end removed, so an anchored VCF
    deletion is a "deletion").
    Windows with the same :attr:`ref_key` hold the same ``ref_sequence`` (the same bases of the same reference): a
    scorer scores each ref key once.
    """

    variant: GenomicVariant
    contig: str
    start: int
    ref_sequence: str
    alt_sequence: str
    edit: Variant

    @property
    def end(self) -> int:
        """0-based, exclusive end of the ref window on ``contig``."""
        return self.start + len(self.ref_sequence)

    @property
    def alt_tail(self) -> int:
        """Bases appended to (> 0, after a deletion) or cut from (< 0, after an insertion) the right end of the edited
        ref window to make ``alt_sequence``: ``-edit.length_change``."""
        return -self.edit.length_change

    @property
    def ref_key(self) -> tuple[str, int, int]:
        """``(contig, start, end)`` of the ref window: equal keys, equal ref sequences."""
        return self.contig, self.start, self.end
