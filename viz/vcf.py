"""Genomic variants -> ref/alt windows: a VCF (read through pysam) or varfish's ClinVar TSV, checked against a
reference :class:`~dnabert_core.io.Genome` (pyfaidx), with one InputError for every variant that cannot be scored.

Rules (SPEC section 7, issue 16): a multi-allelic record gives one :class:`~dnabert_core.records.GenomicVariant` per
ALT; symbolic alleles (``<DEL>``, ``<CN0>``, ``*``, breakends such as ``N]chr1:123]``), N and IUPAC codes in ALT are
unsupported and reported; REF is compared with the reference case-insensitively and a mismatch is a
:class:`RefMismatch` (reported, never scored); a contig is found as written, else with ``chr`` added or removed
(``22`` <-> ``chr22``; ``MT`` <-> ``chrM`` is not matched); a position past the contig end, an unknown contig and a
window that runs off the contig are reported, never clipped; malformed lines are reported with their line number
and the rest is read. Errors carry the variant's ID (or ``chrom:pos:REF>ALT``), line and file name.
"""
from __future__ import annotations

import gzip
import logging
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pysam

from dnabert_core.errors import InputError, OptionError
from dnabert_core.io.genome import Genome
from dnabert_core.io.lines import GZIP_MAGIC, SNIFF_BYTES, is_bgzf, iter_chunks, iter_lines, open_binary, read_head
from dnabert_core.records import GenomicVariant, Variant, VariantWindow
from viz.variants import apply_edit, shared_ends

logger = logging.getLogger(__name__)

_VCF_FIELDS = "CHROM POS ID REF ALT QUAL FILTER INFO"
_CLINVAR_REQUIRED = ("chromosome", "start", "reference", "alternative")
# ClinVar columns kept as annotations: (column, annotation name)
_CLINVAR_KEPT = (("summary_clinvar_pathogenicity_label", "clinvar_significance"), ("symbols", "genes"),
                 ("variation_type", "variation_type"))
_MUTATION_LINE = re.compile(r"\d+\t\d+\t\d+(\t[ACGTacgt]*)?\s*")
_SNIFF_LINES = 20


class RefMismatch(InputError):
    """REF differs from the reference at the variant's position: reported (``ref_check`` "mismatch"), never scored.

    ``variant``: the variant as read; ``contig``: the reference's name for its chromosome; ``reference``: the bases
    the reference holds where REF should be.
    """

    def __init__(self, variant: GenomicVariant, contig: str, reference: str) -> None:
        self.variant = variant
        self.contig = contig
        self.reference = reference
        super().__init__(
            f"REF {variant.ref!r} does not match the reference, which has {reference!r} at {contig}:{variant.pos:,} "
            f"(another genome build?): not scored",
            record_id=variant.label,
            line=variant.line,
            source=variant.source,
        )


@dataclass(frozen=True)
class ParsedWindows:
    """All windows of one variant file and its errors (RefMismatch among them), each in file order."""

    windows: tuple[VariantWindow, ...]
    errors: tuple[InputError, ...]


def looks_like_variants(path: str | Path) -> str | None:
    """``"vcf"``, ``"clinvar"`` (varfish's ClinVar TSV) or ``"mutations"`` (the original's ``index start end allele``
    file) when a file (plain or gzip) is a variant file, else None: lets ``dnabert predict`` name the command that
    takes it. Sniffed from the first 20 lines."""
    path = Path(path)
    if path.is_dir():
        return None
    try:
        head = read_head(path, path.name)
    except InputError:
        return None
    lines = [line for line in head.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(head) == SNIFF_BYTES:
        lines = lines[:-1]  # cut short by the sniff size
    lines = lines[:_SNIFF_LINES]
    if not lines:
        return None
    if lines[0].startswith("##fileformat=VCF") or any(line.startswith("#CHROM\t") for line in lines):
        return "vcf"
    if set(_CLINVAR_REQUIRED) <= set(lines[0].split("\t")):
        return "clinvar"
    if all(_MUTATION_LINE.fullmatch(line) for line in lines):
        return "mutations"
    return None


def read_variants(path: str | Path) -> Iterator[GenomicVariant | InputError]:
    """:func:`read_vcf` or :func:`read_clinvar`, whichever the file's content is; one InputError for anything else."""
    kind = looks_like_variants(path)
    if kind == "vcf":
        return read_vcf(path)
    if kind == "clinvar":
        return read_clinvar(path)
    reason = (f"not a VCF or ClinVar table (found {kind!r}: give it with the sequences it edits)" if kind
              else "not a VCF (no '##fileformat=VCF' or '#CHROM' line) or ClinVar table")
    return iter([InputError(reason, source=Path(path).name)])


def read_vcf(path: str | Path) -> Iterator[GenomicVariant | InputError]:
    """The variants of a VCF (plain, bgzip or plain gzip), one per ALT, and one InputError per bad line or ALT.

    Records are parsed by pysam (htslib); line numbers come from reading the file's lines alongside, since htslib
    gives one record or one error per line after ``#CHROM``. pysam cannot open a gzip file that is not BGZF (it needs
    to seek), so such a file is decompressed into a temporary folder (``$TMPDIR``) that is removed when reading
    ends (bgzip it to avoid the copy). htslib's own messages are silenced while the file is read (pysam verbosity
    0, restored when the iterator ends or is closed); each problem is one InputError instead. A file that is not a
    VCF is one InputError.
    """
    path = Path(path)
    try:
        with _pysam_readable(path) as readable, _quiet_htslib():
            yield from _vcf_items(readable, path.name)
    except InputError as err:
        yield err


def read_clinvar(path: str | Path) -> Iterator[GenomicVariant | InputError]:
    """The variants of varfish's ClinVar TSV (plain or gzip), one InputError per bad row.

    The header names the columns; ``chromosome``, ``start`` (1-based, VCF-style anchored alleles: ``start`` is the
    first REF base), ``reference`` and ``alternative`` are read; ``vcv`` becomes the ID; the clinical significance
    (``summary_clinvar_pathogenicity_label``), gene ``symbols`` and ``variation_type`` are kept as the annotations
    ``clinvar_significance``, ``genes`` and ``variation_type``. Fields are split on tabs only (the ``details``
    column holds quoted JSON).
    """
    path = Path(path)
    name = path.name
    try:
        with open_binary(path) as (raw, text):
            lines = iter_lines(iter_chunks(raw, text, name), name)
            columns: dict[str, int] | None = None
            for line_no, line in lines:
                fields = line.split("\t")
                if columns is None:
                    columns = _clinvar_columns(fields, line_no, name)
                    continue
                try:
                    yield _clinvar_row(fields, columns, line_no, name)
                except InputError as err:
                    yield err
    except InputError as err:
        yield err


def iter_windows(
    variants: Iterable[GenomicVariant | InputError], genome: Genome, flank: int
) -> Iterator[VariantWindow | InputError]:
    """A :class:`VariantWindow` per variant that can be scored, an InputError (or RefMismatch) per one that cannot;
    errors in ``variants`` are passed on, all in input order.

    The ref window is ``flank`` reference bases, REF, ``flank`` bases; the alt window the same flanks around ALT, so
    both are centred on the variant. ``genome`` builds its ``.fai`` when missing (in its cache folder when the
    FASTA's folder is read-only) and decompresses a plain-gzip FASTA once (see :class:`Genome`). Raises
    OptionError for a negative ``flank``.
    """
    if flank < 0:
        raise OptionError(f"flank must be 0 or more bases, got {flank}")
    return _windows(variants, genome, flank)


def iter_variant_windows(path: str | Path, genome: Genome, flank: int) -> Iterator[VariantWindow | InputError]:
    """:func:`iter_windows` of :func:`read_variants`: a VCF or ClinVar TSV against ``genome``, streamed."""
    return iter_windows(read_variants(path), genome, flank)


def variant_windows(path: str | Path, genome: Genome, flank: int) -> ParsedWindows:
    """All of :func:`iter_variant_windows` collected: windows and errors."""
    windows: list[VariantWindow] = []
    errors: list[InputError] = []
    for item in iter_variant_windows(path, genome, flank):
        (errors if isinstance(item, InputError) else windows).append(item)
    logger.info("%s: %d variant windows, %d not scored", Path(path).name, len(windows), len(errors))
    return ParsedWindows(tuple(windows), tuple(errors))


@contextmanager
def _pysam_readable(path: Path) -> Iterator[Path]:
    """``path`` itself when pysam can open it (plain text or BGZF), else a decompressed temporary copy."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if not head.startswith(GZIP_MAGIC) or is_bgzf(head):
        yield path
        return
    logger.info("%s is gzip- but not bgzip-compressed, which pysam cannot read: reading a decompressed temporary "
                "copy (compress it with bgzip to avoid this)", path)
    with tempfile.TemporaryDirectory(prefix="dnabert-vcf-") as folder:
        copy = Path(folder) / path.name.removesuffix(".gz")
        try:
            with gzip.open(path, "rb") as source, open(copy, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(f"cannot decompress: {err}", source=path.name) from err
        yield copy


@contextmanager
def _quiet_htslib() -> Iterator[None]:
    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


def _vcf_items(path: Path, name: str) -> Iterator[GenomicVariant | InputError]:
    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read as VCF ({err}): a VCF starts with '##fileformat=VCFv4.x' and has a "
                         f"'#CHROM' header line", source=name) from err
    with vcf, _data_lines(path) as lines:
        records = iter(vcf)
        for line_no, line in lines:
            try:
                record = next(records)
            except StopIteration:
                raise InputError("htslib stopped reading here: the rest of the file was not read", line=line_no,
                                 source=name) from None
            except (OSError, ValueError) as err:
                if line.strip():  # htslib gives an error for a blank line too: nothing to report
                    yield InputError(_malformed(line, err), line=line_no, source=name)
                continue
            yield from _split(record, line_no, name)


@contextmanager
def _data_lines(path: Path) -> Iterator[Iterator[tuple[int, str]]]:
    """``(line number, text)`` of each line after the ``#CHROM`` line, split on LF only, as htslib splits them."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        with gzip.GzipFile(fileobj=raw) if compressed else raw as handle:
            yield _after_header(handle, path.name)


def _after_header(handle: Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    in_header = True
    line_no = 0
    try:
        for line_no, raw in enumerate(handle, start=1):
            if in_header:
                in_header = not raw.startswith(b"#CHROM")
                continue
            yield line_no, raw.decode("utf-8", "replace").rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"cannot read beyond line {line_no} (truncated or corrupt file?): {err}", source=name) from err


def _malformed(line: str, err: Exception) -> str:
    """Why htslib refused a data line, in words."""
    fields = line.split("\t")
    if line.startswith("#"):
        return "a header line after the '#CHROM' line"
    if len(fields) < 8:
        return f"expected 8 or more tab-separated fields ({_VCF_FIELDS}), got {len(fields)}"
    if not fields[1].strip().isdigit():
        return f"POS {fields[1]!r} is not a positive integer"
    return f"htslib cannot parse the line ({err})"


def _split(record: pysam.VariantRecord, line_no: int, name: str) -> Iterator[GenomicVariant | InputError]:
    """One GenomicVariant per ALT of a pysam record, or an InputError per ALT (or for the record) refused."""
    label = record.id or f"{record.chrom}:{record.pos}"
    if not record.alts:
        yield InputError("no ALT allele ('.'): nothing to score", record_id=label, line=line_no, source=name)
        return
    for alt in record.alts:
        problem = _allele_problem(record.ref or "", alt)
        if problem is not None:
            yield InputError(problem, record_id=label, line=line_no, source=name)
        else:
            yield GenomicVariant(record.chrom, record.pos, record.ref.upper(), alt.upper(), record.id, line_no, name)


def _allele_problem(ref: str, alt: str) -> str | None:
    """Why a REF/ALT pair cannot be scored, or None."""
    upper_ref, upper_alt = ref.upper(), alt.upper()
    if not upper_ref or upper_ref.strip("ACGTN"):
        return f"REF {ref!r} is not a DNA sequence"
    if alt.startswith("<") or alt == "*" or "[" in alt or "]" in alt or (len(alt) > 1 and "." in (alt[0], alt[-1])):
        return f"ALT {alt!r} is a symbolic allele (structural variant, breakend or '*'): not supported"
    if not upper_alt or upper_alt == ".":
        return "missing ALT allele ('.'): nothing to score"
    if upper_alt.strip("ACGT"):
        bad = next(base for base in upper_alt if base not in "ACGT")
        return f"ALT {alt!r} holds {bad!r}: only alleles of A, C, G and T are scored (not N or IUPAC codes)"
    if upper_alt == upper_ref:
        return f"ALT {alt!r} equals REF: nothing changes"
    return None


def _clinvar_columns(header: list[str], line_no: int, name: str) -> dict[str, int]:
    columns = {cell.strip().lower(): index for index, cell in enumerate(header)}
    missing = [column for column in _CLINVAR_REQUIRED if column not in columns]
    if missing:
        raise InputError(f"not a ClinVar table: no column {', '.join(map(repr, missing))} in the header",
                         line=line_no, source=name)
    return columns


def _clinvar_row(fields: list[str], columns: dict[str, int], line_no: int, name: str) -> GenomicVariant:
    if len(fields) != len(columns):
        raise InputError(f"row has {len(fields)} fields, but the header has {len(columns)}", line=line_no,
                         source=name)
    chrom, start, ref, alt = (fields[columns[column]].strip() for column in _CLINVAR_REQUIRED)
    variant_id = (fields[columns["vcv"]].strip() if "vcv" in columns else "") or None
    label = variant_id or f"{chrom}:{start}"
    if not start.isdigit() or int(start) < 1:
        raise InputError(f"start {start!r} is not a positive integer", record_id=label, line=line_no, source=name)
    problem = _allele_problem(ref, alt)
    if problem is not None:
        raise InputError(problem, record_id=label, line=line_no, source=name)
    annotations = tuple((kept, fields[columns[column]].strip().strip("{}").replace('"', ""))
                        for column, kept in _CLINVAR_KEPT if column in columns)
    return GenomicVariant(chrom, int(start), ref.upper(), alt.upper(), variant_id, line_no, name, annotations)


def _windows(
    variants: Iterable[GenomicVariant | InputError], genome: Genome, flank: int
) -> Iterator[VariantWindow | InputError]:
    for item in variants:
        if isinstance(item, InputError):
            yield item
            continue
        try:
            yield _window(item, genome, flank)
        except InputError as err:
            yield err


def _window(variant: GenomicVariant, genome: Genome, flank: int) -> VariantWindow:
    """The ref/alt windows of one variant; InputError when it cannot be scored (RefMismatch for a wrong REF)."""
    where = {"record_id": variant.label, "line": variant.line, "source": variant.source}
    contig = _contig(variant.chrom, genome, where)
    length = genome.chromosomes[contig]
    start = variant.pos - 1
    end = start + len(variant.ref)
    if start < 0 or end > length:
        raise InputError(f"REF at {contig}:{variant.pos:,}-{end:,} is outside {contig!r}, which has bases 1 to "
                         f"{length:,}", **where)
    found = genome.fetch(contig, start, end)
    if found != variant.ref:
        raise RefMismatch(variant, contig, found)
    window_start, window_end = start - flank, end + flank
    if window_start < 0 or window_end > length:
        raise InputError(f"the window of {flank} bases on each side ({contig}:{window_start + 1:,}-{window_end:,}) "
                         f"runs off {contig!r}, which has {length:,} bases: not scored (try a smaller flank)", **where)
    ref_sequence = genome.fetch(contig, window_start, window_end)
    edit = _minimal_edit(variant, f"{contig}:{window_start + 1}-{window_end}", flank)
    alt_sequence = apply_edit(ref_sequence, edit)
    change = len(alt_sequence) - len(ref_sequence)
    if change > flank:
        raise InputError(f"an insertion of {change} bases is longer than the flank ({flank}): the alt window could "
                         "not keep the ref window's length; not scored (try a larger flank)", **where)
    if change < 0 and window_end - change > length:
        raise InputError(f"the alt window needs {-change} bases after {contig}:{window_end:,} to keep the ref "
                         f"window's length, past the end of {contig!r}: not scored", **where)
    if change < 0:
        alt_sequence += genome.fetch(contig, window_end, window_end - change)
    return VariantWindow(variant, contig, window_start, ref_sequence, alt_sequence[: len(ref_sequence)], edit)


def _contig(chrom: str, genome: Genome, where: dict[str, object]) -> str:
    """The reference's name for ``chrom``: as written, else with ``chr`` added or removed."""
    other = chrom.removeprefix("chr") if chrom.startswith("chr") else f"chr{chrom}"
    for name in (chrom, other):
        if name in genome.chromosomes:
            return name
    names = list(genome.chromosomes)
    shown = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
    raise InputError(f"unknown contig {chrom!r} (nor {other!r}) in {genome.path.name}, which has {shown}", **where)


def _minimal_edit(variant: GenomicVariant, window_id: str, flank: int) -> Variant:
    """The variant as an edit of its ref window, without the bases REF and ALT share at the start, then the end."""
    ref, alt = variant.ref, variant.alt
    prefix, suffix = shared_ends(ref, alt)
    return Variant(
        window_id,
        flank + prefix,
        flank + len(ref) - suffix,
        alt[prefix : len(alt) - suffix],
        id=variant.id,
        ref=ref[prefix : len(ref) - suffix],
        source=f"{variant.source} line {variant.line}" if variant.line is not None else variant.source,
    )
