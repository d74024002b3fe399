"""What ``dnabert motifs`` and the Motifs page compute: per-base scores of the positives (attention landscape or
integrated gradients), shuffled controls when no negatives are given, discovery (SPEC section 6, ``viz.motifs``),
names from JASPAR (``viz.known_motifs``), and every output file (SPEC section 8)."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dnabert_core.errors import InputError, OptionError
from dnabert_core.model import LoadedModel
from dnabert_core.negatives import dinucleotide_shuffle
from dnabert_core.records import Landscape, SequenceRecord
from viz.known_motifs import MotifMatch, best_match_columns, library_release, match_motifs
from viz.motifs import MotifParams, MotifResult, discover_motifs, instances_table, motifs_table

SCORES = ("attention", "ig")
CONTROL_SEED = 20211  # the seed of generated dinucleotide-shuffled controls, documented in the CLI and the page
Progress = Callable[[int, int], None]
Stage = Callable[[str], None]


@dataclass(frozen=True)
class MotifSettings:
    """How positives are scored and motifs found. ``score``: "attention" (the last layer's [CLS] landscape unless
    ``layers``/``heads``, 0-based, say otherwise) or "ig" (integrated gradients toward ``target``: a class name or
    index; None is the positive class of a two-class model). ``controls``: shuffled controls made per positive when no
    negatives are given, from ``seed``. ``top``: JASPAR matches kept per motif (0: no naming)."""

    score: str = "attention"
    params: MotifParams = field(default_factory=MotifParams)
    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    target: str | int | None = None
    ig_steps: int = 50
    controls: int = 1
    seed: int = CONTROL_SEED
    top: int = 5

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise OptionError(f"score {self.score!r}: choose one of {', '.join(SCORES)}")
        if self.controls < 1:
            raise OptionError(f"controls per positive must be at least 1, got {self.controls}")
        if self.top < 0:
            raise OptionError(f"top matches must be 0 or more, got {self.top}")
        if self.ig_steps < 2:
            raise OptionError(f"integration steps must be at least 2, got {self.ig_steps}")


@dataclass(frozen=True)
class MotifReport:
    """Everything one search found: the discovery result, each motif's JASPAR matches (best first; empty tuples
    when naming was off), the positives' score tracks, and how the negatives and scores came about."""

    result: MotifResult
    matches: tuple[tuple[MotifMatch, ...], ...]
    landscapes: tuple[Landscape, ...] = field(repr=False)
    score_source: str
    negatives_note: str
    release: str | None


def shuffled_controls(records: Sequence[SequenceRecord], per_record: int = 1,
                      seed: int = CONTROL_SEED) -> list[SequenceRecord]:
    """``per_record`` dinucleotide-preserving shuffles of every record (as MEME and HOMER make controls), ids
    ``<id>_shuffle<j>``, from one generator seeded with ``seed``: the same inputs give the same controls."""
    rng = np.random.default_rng(seed)
    return [SequenceRecord(f"{r.id}_shuffle{j + 1}", dinucleotide_shuffle(r.sequence, rng), source="shuffled control")
            for r in records for j in range(per_record)]


def score_positives(loaded: LoadedModel, records: Sequence[SequenceRecord], settings: MotifSettings,
                    progress: Progress | None = None) -> list[Landscape]:
    """One per-base track per positive, in input order: its attention landscape or its IG attribution."""
    if settings.score == "ig":
        from viz.attribution import integrated_gradients

        return list(integrated_gradients(loaded, records, target=loaded.target_class(settings.target),
                                         n_steps=settings.ig_steps, progress=progress))
    from viz.landscape import attention_landscapes

    return list(attention_landscapes(loaded, records, layers=settings.layers, heads=settings.heads,
                                     progress=progress))


def find_motifs(loaded: LoadedModel, positives: Sequence[SequenceRecord],
                negatives: Sequence[SequenceRecord] | None, settings: MotifSettings = MotifSettings(), *,
                progress: Progress | None = None, stage: Stage | None = None) -> MotifReport:
    """Score the positives, find motifs against ``negatives`` (None: shuffled controls of the positives) and name
    them. ``stage`` is told each step's name as it starts; ``progress`` follows the scoring, the long step."""
    if not positives:
        raise InputError("no positive sequences to search for motifs")
    if negatives is None:
        negatives = shuffled_controls(positives, settings.controls, settings.seed)
        negatives_note = (f"{len(negatives)} dinucleotide-shuffled controls of the positives "
                          f"({settings.controls} each, seed {settings.seed})")
    elif not negatives:
        raise InputError("no negative sequences: give some, or leave them out to use shuffled controls")
    else:
        negatives_note = f"{len(negatives)} given negatives"
    tell = stage or (lambda _name: None)
    tell(f"scoring {len(positives)} positives ({settings.score})")
    landscapes = score_positives(loaded, positives, settings, progress)
    tell(f"finding motifs against {negatives_note}")
    result = discover_motifs(landscapes, [r.sequence for r in negatives], settings.params)
    matches: tuple[tuple[MotifMatch, ...], ...] = tuple(() for _ in result.motifs)
    release = None
    if settings.top and result.motifs:
        tell(f"naming {len(result.motifs)} motifs against JASPAR (the first call compiles Tomtom, about 40 s)")
        matches = tuple(match_motifs([m.pfm for m in result.motifs], top=settings.top))
        release = library_release()
    source = landscapes[0].source if landscapes else settings.score
    return MotifReport(result=result, matches=matches, landscapes=tuple(landscapes), score_source=source,
                       negatives_note=negatives_note, release=release)


def report_motifs_table(report: MotifReport) -> pd.DataFrame:
    """motifs.tsv (SPEC section 8): motif, consensus, instances, x, n, p, p_adj, members, then the best JASPAR
    match's columns (empty when naming was off or nothing matched)."""
    table = motifs_table(report.result)
    extra = pd.DataFrame([best_match_columns(m) for m in report.matches], index=table.index,
                         columns=list(best_match_columns(())))
    return pd.concat([table, extra], axis=1)


def display_table(table: pd.DataFrame, members: int = 6) -> pd.DataFrame:
    """``report_motifs_table`` for reading on a page: each motif's member list cut to its first ``members`` (merging
    shortest first gathers hundreds), with the count of the rest; the files keep every member."""
    def shorten(text: str) -> str:
        names = text.split(",") if text else []
        return ",".join(names[:members]) + (f" … (+{len(names) - members})" if len(names) > members else "")

    return table.assign(members=table["members"].map(shorten))


def report_files(report: MotifReport, logo_formats: Sequence[str] = ("png", "svg")) -> dict[str, bytes]:
    """Every output file by relative name: motifs.tsv, instances.tsv, motifs.meme, logos/<motif>.<fmt> (information
    content) and, for a named motif, logos/<motif>_vs_<match>.<fmt> (our logo above its best JASPAR match)."""
    from viz.figures import figure_bytes
    from viz.known_motifs import jaspar_matrix
    from viz.logos import aligned_logos, motif_logo
    from viz.meme import write_meme

    files = {"motifs.tsv": report_motifs_table(report).to_csv(sep="\t", index=False).encode(),
             "instances.tsv": instances_table(report.result).to_csv(sep="\t", index=False).encode()}
    meme = io.StringIO()
    write_meme({m.name: m.pfm for m in report.result.motifs}, meme)
    files["motifs.meme"] = meme.getvalue().encode()
    for motif, matches in zip(report.result.motifs, report.matches):
        figures = {motif.name: motif_logo(motif.pfm, title=f"{motif.name} {motif.consensus}")}
        if matches:
            best = matches[0]
            figures[f"{motif.name}_vs_{best.target_id}"] = aligned_logos(motif.pfm, best, jaspar_matrix(best.target_id),
                                                                        title=f"{motif.name} {motif.consensus}")
        for name, figure in figures.items():
            for fmt in logo_formats:
                files[f"logos/{name}.{fmt}"] = figure_bytes(figure, fmt)
    return files


def write_report(report: MotifReport, folder: str | Path) -> list[Path]:
    """Write ``report_files`` under ``folder`` (created); returns the paths written."""
    folder = Path(folder)
    written = []
    for name, data in report_files(report).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def zip_files(files: dict[str, bytes]) -> bytes:
    """One zip archive of ``report_files`` (for a single download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
