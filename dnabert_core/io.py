"""Sequence input: every accepted file format -> SequenceRecord, with one InputError per bad record.

Accepted formats (SPEC section 8), each plain, gzip or bgzip compressed (recognised by the gzip magic bytes 1f 8b,
never by the file name), found by :func:`detect_format` from the content (the extension is only a hint):

- ``fasta`` (``.fa .fasta .fna``): ``>id description`` headers; the id is the first word of the header (as pyfaidx
  and samtools index it), a header without one gets ``seq<N>``; sequences may span lines; blank lines are skipped.
- ``csv`` / ``tsv``: a header row with a ``sequence`` column (any case), optional ``id`` and ``label`` columns (or the
  column named by ``label_column``). Quoted fields are read; a field cannot span lines.
- ``kmer_tsv``: DNABERT's k-merized TSV, ``sequence<TAB>label`` with the sequence written as space-separated
  overlapping k-mers, with or without a header line (DNABERT's prom-core header is separated by spaces). Without a
  header the second column is the label and further columns are ignored. The raw sequence is the first base of each
  k-mer plus the last k-mer (SPEC section 1); consecutive k-mers must overlap by k-1 bases.
- ``text``: one sequence per line; blank lines are skipped.

Common rules: lines end in LF, CRLF or CR; a UTF-8 byte-order mark is dropped; sequences are upper-cased (soft-masked
bases are the same bases), U becomes T, whitespace is dropped, and a character outside the IUPAC codes rejects the
record. Ids missing from the file are ``seq<N>``, N the 1-based record number in the file; repeated ids get ``_2``,
``_3``, ... Files are streamed: memory does not grow with the sequences read, only with the set of ids seen.

:class:`Genome` gives indexed random access to a reference FASTA (plain, bgzip, or plain gzip decompressed once into a
cache) through pyfaidx; :func:`parse_region` reads ``chr:start-end`` strings.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import pyfaidx

from dnabert_core.errors import InputError
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import MAX_K, MIN_K, kmers_to_sequence

logger = logging.getLogger(__name__)

IUPAC_DNA: frozenset[str] = frozenset("ACGTURYSWKMBDHVN")
FORMATS: tuple[str, ...] = ("fasta", "csv", "tsv", "kmer_tsv", "text")

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 20
_SNIFF_BYTES = 1 << 16
_HINTS = {
    **dict.fromkeys((".fa", ".fasta", ".fna", ".ffn", ".fas", ".fsa"), "fasta"),
    ".csv": "csv",
    ".tsv": "tsv",
}
_IUPAC_BYTES = ("".join(sorted(IUPAC_DNA)) + "".join(sorted(IUPAC_DNA)).lower()).encode("ascii")
# one bytes.translate pass upper-cases and turns U into T (a per-character Python loop would be 50x slower)
_NORMALISE = bytes.maketrans(b"acgtuUryswkmbdhvn", b"ACGTTTRYSWKMBDHVN")
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_SPAN = re.compile(r"(\d[\d,]*)\s*-\s*(\d[\d,]*)")
_NOT_UTF8 = "bytes that are not UTF-8 text (binary data or another text encoding)"


def normalise_sequence(raw: str, *, record_id: str, line: int | None = None, source: str | None = None) -> str:
    """Upper-case ``raw``, turn U into T and drop whitespace; InputError at the first non-IUPAC character.

    Soft-masked (lower-case) bases are the same bases (SPEC section 1). ``position`` in the error is 1-based in the
    sequence without its whitespace.
    """
    sequence = "".join(raw.split())
    if not sequence:
        raise InputError("empty sequence", record_id=record_id, line=line, source=source)
    data = sequence.encode("ascii", "replace")  # one byte per character, so positions stay the same
    invalid = data.translate(None, _IUPAC_BYTES)
    if invalid:
        index = data.index(invalid[:1])  # every byte of that value is invalid, so its first one is the first bad one
        char = sequence[index]
        reason = _NOT_UTF8 if char == "\ufffd" else f"invalid character {char!r} (not an IUPAC nucleotide code)"
        raise InputError(reason, record_id=record_id, position=index + 1, line=line, source=source)
    return data.translate(_NORMALISE).decode("ascii")


@dataclass(frozen=True)
class ParsedInput:
    """All records of one input: the good ones, one error per bad one, and how many good ones hold ambiguous bases."""

    records: tuple[SequenceRecord, ...]
    errors: tuple[InputError, ...]
    n_ambiguous: int


def detect_format(path: str | Path) -> str:
    """The format of a file, one of :data:`FORMATS`, sniffed from its first 64 KiB (gunzipped when compressed).

    Raises InputError for binary files and FASTQ, FileNotFoundError for a missing file.
    """
    path = Path(path)
    return _detect(path, path.name)


def iter_records(
    path: str | Path, *, fmt: str | None = None, min_length: int = 1, label_column: str | None = None
) -> Iterator[SequenceRecord | InputError]:
    """Stream a file's records in file order: a SequenceRecord per good record, an InputError per bad one.

    Never stops at a bad record; a problem with the whole file (binary, FASTQ, no ``sequence`` column, corrupt
    compressed data) is one InputError. ``fmt`` overrides detection; ``min_length`` is the shortest sequence kept
    (k for a k-mer model); ``label_column`` names the label column of a table (default ``label``).
    """
    path = Path(path)
    _check_format(fmt)
    open(path, "rb").close()  # FileNotFoundError now, not at the first next()
    return _iter_source(path, path.name, fmt, min_length, label_column)


def read_records(
    path: str | Path, *, fmt: str | None = None, min_length: int = 1, label_column: str | None = None
) -> ParsedInput:
    """All records and errors of a file (:func:`iter_records` collected)."""
    return _collect(iter_records(path, fmt=fmt, min_length=min_length, label_column=label_column))


def parse_text(
    text: str,
    *,
    fmt: str | None = None,
    name: str = "pasted text",
    min_length: int = 1,
    label_column: str | None = None,
) -> ParsedInput:
    """Parse pasted text exactly as a file: FASTA, one sequence per line, CSV/TSV or k-mer TSV.

    ``name`` stands for the file name in record sources and error messages.
    """
    return parse_bytes(text.encode("utf-8", "replace"), fmt=fmt, name=name, min_length=min_length,
                       label_column=label_column)


def parse_bytes(
    data: bytes,
    *,
    fmt: str | None = None,
    name: str = "upload",
    min_length: int = 1,
    label_column: str | None = None,
) -> ParsedInput:
    """Parse the bytes of an uploaded file exactly as a file on disk (plain, gzip or bgzip; any input format)."""
    _check_format(fmt)
    return _collect(_iter_source(data, name, fmt, min_length, label_column))


def parse_region(region: str) -> tuple[str, int, int]:
    """``"chr22:1,000-2,000"`` (1-based, inclusive, commas allowed) -> ``("chr22", 999, 2000)`` (0-based, half-open)."""
    chrom, _, span = region.strip().rpartition(":")
    match = _SPAN.fullmatch(span.strip())
    if not chrom or match is None:
        raise InputError(
            f"invalid region {region!r}: expected chrom:start-end (1-based, inclusive), e.g. 'chr22:1,000-2,000'"
        )
    start, end = (int(group.replace(",", "")) for group in match.groups())
    if start < 1:
        raise InputError(f"invalid region {region!r}: start must be at least 1 (coordinates are 1-based)")
    if start > end:
        raise InputError(f"invalid region {region!r}: start {start:,} is after end {end:,}")
    return chrom, start - 1, end


class Genome:
    """Indexed random access to a reference FASTA through pyfaidx: plain, bgzip, or plain gzip.

    pyfaidx keeps a ``.fai`` index (and a ``.gzi`` for bgzip) next to the file, or in ``cache_dir`` when that folder
    cannot be written. Plain gzip cannot be indexed, so it is decompressed once into ``cache_dir`` (default
    ``$DNABERT_CACHE/fasta`` or ``~/.cache/dnabert/fasta``) under a name keyed by the file's absolute path, size and
    modification time, so a changed file never reuses a stale copy.
    """

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
        with open(self.path, "rb") as handle:
            head = handle.read(18)
        fasta_path = self.path
        # pyfaidx decides bgzip by the suffix, so a bgzip file named otherwise is decompressed like plain gzip
        if head.startswith(_GZIP_MAGIC) and not (_is_bgzf(head) and self.path.suffix.lower() in {".gz", ".bgz"}):
            fasta_path = self._decompressed()
        self._fasta = self._index(fasta_path)
        self.chromosomes: dict[str, int] = {name: len(record) for name, record in self._fasta.records.items()}

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``start:end`` (0-based, half-open) of ``chrom``, upper-case (N and other IUPAC codes kept)."""
        length = self.chromosomes.get(chrom)
        if length is None:
            raise InputError(self._unknown(chrom), source=self.path.name)
        if not 0 <= start <= end <= length:
            raise InputError(
                f"region {chrom}:{start + 1:,}-{end:,} is outside {chrom!r}, which has {length:,} bases",
                source=self.path.name,
            )
        return str(self._fasta[chrom][start:end])

    def region_record(self, region: str) -> SequenceRecord:
        """The record for ``"chr:start-end"`` (1-based, inclusive); its id and source are ``chr:start-end``."""
        chrom, start, end = parse_region(region)
        record_id = f"{chrom}:{start + 1}-{end}"
        return SequenceRecord(record_id, self.fetch(chrom, start, end), source=record_id)

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _decompressed(self) -> Path:
        """Path of the decompressed copy of a plain-gzip FASTA in the cache, written on first use."""
        target = self.cache_dir / f"{_cache_stem(self.path)}.fa"
        if target.exists():
            logger.debug("using the decompressed copy %s of %s", target, self.path)
            return target
        logger.info(
            "%s is gzip- but not bgzip-compressed, so it cannot be indexed in place: decompressing it once into %s "
            "(compress it with bgzip to avoid this)",
            self.path,
            target,
        )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=self.cache_dir, prefix=target.name, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, gzip.open(self.path, "rb") as source:
                shutil.copyfileobj(source, out, _CHUNK_BYTES)
        except (OSError, EOFError, zlib.error) as err:
            os.unlink(partial)
            raise InputError(f"cannot decompress {self.path.name}: {err}", source=str(self.path)) from err
        os.replace(partial, target)  # atomic: a concurrent reader sees the whole copy or none
        return target

    def _index(self, fasta_path: Path) -> pyfaidx.Fasta:
        options = {"as_raw": True, "sequence_always_upper": True}
        try:
            try:
                return pyfaidx.Fasta(str(fasta_path), **options)
            except OSError:
                # no usable index next to the file and the folder cannot be written: keep the index in the cache
                stem = self.cache_dir / _cache_stem(self.path)
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                return pyfaidx.Fasta(str(fasta_path), indexname=f"{stem}.fai", gzi_indexname=f"{stem}.gzi", **options)
        except (OSError, ValueError, pyfaidx.FastaIndexingError) as err:
            raise InputError(f"cannot index {self.path.name} as FASTA: {err}", source=str(self.path)) from err

    def _unknown(self, chrom: str) -> str:
        names = list(self.chromosomes)
        other = chrom.removeprefix("chr") if chrom.startswith("chr") else f"chr{chrom}"
        hint = f"; did you mean {other!r}?" if other in self.chromosomes else ""
        shown = ", ".join(repr(name) for name in names[:5]) + (", ..." if len(names) > 5 else "")
        return f"unknown chromosome {chrom!r}{hint} ({self.path.name} has {len(names)}: {shown})"


@dataclass
class _Raw:
    """One record as read, before normalisation: its text parts and the line of each (for error positions)."""

    number: int
    name: str | None
    line: int
    parts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    label: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Columns:
    """Column indices of a table; ``width`` is the header's column count (None for a k-mer TSV without header)."""

    sequence: int
    id: int | None
    label: int | None
    width: int | None


def _check_format(fmt: str | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _default_cache_dir() -> Path:
    root = os.environ.get("DNABERT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "dnabert") / "fasta"


def _cache_stem(path: Path) -> str:
    """A cache file stem unique to the file's absolute path, size and modification time."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    base = Path(path.name.removesuffix(".gz").removesuffix(".bgz")).stem
    return f"{base}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _is_bgzf(head: bytes) -> bool:
    """True for a BGZF block header: gzip with the FEXTRA flag and a 'BC' extra subfield."""
    return len(head) >= 14 and head.startswith(_GZIP_MAGIC) and bool(head[3] & 4) and head[12:14] == b"BC"


@contextmanager
def _open_binary(source: Path | bytes) -> Iterator[BinaryIO]:
    """The bytes of a file or of encoded text, gunzipped when they start with the gzip magic (gzip and bgzip)."""
    with open(source, "rb") if isinstance(source, Path) else io.BytesIO(source) as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped
        else:
            yield raw


def _iter_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for every line; LF, CRLF and CR end a line; bad UTF-8 becomes U+FFFD.

    Reads 1 MiB at a time, so memory stays flat however long the file or its lines are.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending: list[str] = []  # the unfinished line, in pieces: one line may span many chunks
    carry = ""
    line_no = 0
    first = True
    while True:
        try:
            chunk = stream.read(_CHUNK_BYTES)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(
                f"cannot read beyond line {line_no} (truncated or corrupt file?): {err}", source=name
            ) from err
        text = carry + decoder.decode(chunk, final=not chunk)
        if first and text:  # the decoder holds back an incomplete character, so wait for the first one
            text = text.removeprefix("\ufeff")
            first = False
        carry = ""
        if chunk and text.endswith("\r"):  # a CR LF pair may straddle two chunks
            text, carry = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        pieces = text.split("\n")
        pending.append(pieces[0])
        if len(pieces) > 1:
            line_no += 1
            yield line_no, "".join(pending)
            for piece in pieces[1:-1]:
                line_no += 1
                yield line_no, piece
            pending = [pieces[-1]]
        if not chunk:
            break
    last = "".join(pending)
    if last:
        yield line_no + 1, last


def _detect(source: Path | bytes, name: str) -> str:
    with _open_binary(source) as stream:
        try:
            block = stream.read(_SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(f"cannot decompress: {err}", source=name) from err
    return _sniff(block, name, _HINTS.get(Path(name.lower().removesuffix(".gz").removesuffix(".bgz")).suffix))


def _sniff(block: bytes, name: str, hint: str | None) -> str:
    """The format of a file from its first bytes; ``hint`` (from the extension) decides only for empty files."""
    binary = _BINARY.search(block)
    if binary is not None:
        raise InputError(
            f"binary data (byte 0x{block[binary.start()]:02x}), not text; expected FASTA, CSV/TSV, DNABERT's k-mer "
            f"TSV or one sequence per line",
            line=block.count(b"\n", 0, binary.start()) + 1,
            source=name,
        )
    text = block.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(block) == _SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # cut short by the sniff size
    lines = [line for line in lines if line.strip()]
    if not lines:
        return hint or "text"
    first = lines[0]
    if first.startswith("@"):
        raise InputError(
            "FASTQ is not supported (qualities are not used): convert it to FASTA first, e.g. "
            "`seqtk seq -a reads.fq > reads.fa`",
            source=name,
        )
    if any(line.startswith(">") for line in lines):
        return "fasta"
    if _looks_like_kmers(first.split("\t", 1)[0]):
        return "kmer_tsv"
    delimiter = "\t" if "\t" in first else "," if "," in first else None
    header = [cell.strip().lower() for cell in (_split_row(first, delimiter) if delimiter else first.split())]
    if "sequence" not in header:
        return {"\t": "tsv", ",": "csv", None: "text"}[delimiter]
    column = header.index("sequence")
    rows = (_split_row(line, delimiter or "\t") for line in lines[1:])
    if any(column < len(row) and _looks_like_kmers(row[column]) for row in rows):
        return "kmer_tsv"
    return "csv" if delimiter == "," else "tsv"


def _looks_like_kmers(text: str) -> bool:
    """True for DNABERT's k-merized text: two or more space-separated words of k letters, 3 <= k <= 6."""
    words = text.split(maxsplit=8)[:8]
    return (
        len(words) > 1
        and MIN_K <= len(words[0]) <= MAX_K
        and all(len(word) == len(words[0]) and word.isalpha() for word in words)
    )


def _split_row(text: str, delimiter: str) -> list[str]:
    """Fields of one table line; quoted fields (csv rules) only when the line holds a quote."""
    if '"' in text:
        return next(csv.reader([text], delimiter=delimiter))
    return text.split(delimiter)


def _iter_source(
    source: Path | bytes, name: str, fmt: str | None, min_length: int, label_column: str | None
) -> Iterator[SequenceRecord | InputError]:
    try:
        fmt = fmt or _detect(source, name)
    except InputError as err:
        yield err
        return
    logger.debug("reading %s as %s", name, fmt)
    with _open_binary(source) as stream:
        lines = _iter_lines(stream, name)
        if fmt == "fasta":
            raws = _parse_fasta(lines, name)
        elif fmt == "text":
            raws = _parse_plain(lines)
        else:
            delimiter = "," if fmt == "csv" else "\t"
            raws = _parse_table(lines, name, delimiter, label_column, kmers=fmt == "kmer_tsv")
        yield from _finish(raws, name, min_length)


def _parse_fasta(lines: Iterable[tuple[int, str]], name: str) -> Iterator[_Raw | InputError]:
    record: _Raw | None = None
    number = 0
    stray = False
    for line_no, text in lines:
        if text.startswith(">"):
            if record is not None:
                yield record
            number += 1
            words = text[1:].split(maxsplit=1)
            record = _Raw(number, words[0] if words else None, line_no)
        elif record is not None:
            record.parts.append(text)
            record.lines.append(line_no)
        elif text.strip() and not stray:
            stray = True
            yield InputError("text before the first '>' header belongs to no record", line=line_no, source=name)
    if record is not None:
        yield record


def _parse_plain(lines: Iterable[tuple[int, str]]) -> Iterator[_Raw]:
    number = 0
    for line_no, text in lines:
        if text.strip():
            number += 1
            yield _Raw(number, None, line_no, [text], [line_no])


def _parse_table(
    lines: Iterable[tuple[int, str]], name: str, delimiter: str, label_column: str | None, *, kmers: bool
) -> Iterator[_Raw]:
    """Rows of a CSV/TSV (header required) or a k-mer TSV (header optional)."""
    columns: _Columns | None = None
    number = 0
    for line_no, text in lines:
        if not text.strip():
            continue
        try:
            fields = _split_row(text, delimiter)
        except csv.Error as err:
            if columns is None:
                raise InputError(f"cannot read the header: {err}", line=line_no, source=name) from err
            number += 1
            yield _Raw(number, None, line_no, problem=f"cannot split the row: {err}")
            continue
        if columns is None:
            if kmers and _looks_like_kmers(fields[0]):
                if label_column is not None:
                    raise InputError(f"no header line, so no column {label_column!r}", line=line_no, source=name)
                columns = _Columns(sequence=0, id=None, label=1, width=None)
            else:
                # a header separated by spaces instead of the delimiter (DNABERT's prom-core files)
                columns = _find_columns(fields if len(fields) > 1 else text.split(), label_column, line_no, name)
                continue
        number += 1
        yield _table_record(number, fields, columns, line_no, kmers)


def _find_columns(header: list[str], label_column: str | None, line_no: int, name: str) -> _Columns:
    names = [cell.strip() for cell in header]
    lowered = [cell.lower() for cell in names]
    found = ", ".join(repr(cell) for cell in names)
    if "sequence" not in lowered:
        raise InputError(f"no 'sequence' column; columns found: {found}", line=line_no, source=name)
    label = (label_column or "label").lower()
    if label_column is not None and label not in lowered:
        raise InputError(f"no label column {label_column!r}; columns found: {found}", line=line_no, source=name)
    return _Columns(
        sequence=lowered.index("sequence"),
        id=lowered.index("id") if "id" in lowered else None,
        label=lowered.index(label) if label in lowered else None,
        width=len(names),
    )


def _table_record(number: int, fields: list[str], columns: _Columns, line_no: int, kmers: bool) -> _Raw:
    def cell(index: int | None) -> str | None:
        if index is None or index >= len(fields):
            return None
        return fields[index].strip() or None

    record = _Raw(number, cell(columns.id), line_no, label=cell(columns.label))
    if columns.width is not None and len(fields) != columns.width:
        record.problem = f"row has {len(fields)} fields, but the header has {columns.width}"
        return record
    sequence = fields[columns.sequence]
    if kmers:
        try:
            sequence = _kmers_to_raw(sequence)
        except InputError as err:
            record.problem = err.reason
            return record
    record.parts.append(sequence)
    record.lines.append(line_no)
    return record


def _kmers_to_raw(text: str) -> str:
    """The raw sequence of space-separated k-mers, after checking that neighbours overlap by k-1 bases."""
    kmers = text.split()
    k = len(kmers[0]) if kmers else 0
    for index, (left, right) in enumerate(zip(kmers, kmers[1:]), start=1):
        if len(right) != k:
            raise InputError(f"k-mer {index + 1} ({right!r}) has {len(right)} bases, but k-mer 1 has {k}")
        if left[1:] != right[:-1]:
            raise InputError(
                f"k-mer {index + 1} ({right!r}) does not overlap k-mer {index} ({left!r}) by k-1 = {k - 1} bases"
            )
    return kmers_to_sequence(kmers)


def _finish(items: Iterable[_Raw | InputError], name: str, min_length: int) -> Iterator[SequenceRecord | InputError]:
    """Give each record a unique id, normalise and check it; log renamed ids and ambiguous records at the end."""
    seen: set[str] = set()
    last_suffix: dict[str, int] = {}
    renamed = 0
    example = ""
    n_ambiguous = 0
    try:
        for item in items:
            if isinstance(item, InputError):
                yield item
                continue
            record_id = item.name or f"seq{item.number}"
            if record_id in seen:
                suffix = last_suffix.get(record_id, 1) + 1
                while f"{record_id}_{suffix}" in seen:
                    suffix += 1
                last_suffix[record_id] = suffix
                renamed += 1
                example = example or f"{record_id!r} -> '{record_id}_{suffix}'"
                record_id = f"{record_id}_{suffix}"
            seen.add(record_id)
            try:
                record = _to_record(item, record_id, name, min_length)
            except InputError as err:
                yield err
                continue
            n_ambiguous += _is_ambiguous(record.sequence)
            yield record
    except InputError as err:  # a problem with the whole file (no sequence column, corrupt data): nothing follows
        yield err
    if renamed:
        logger.warning(
            "%s: %d duplicate record ids were made unique by appending _2, _3, ... (first: %s)", name, renamed, example
        )
    if n_ambiguous:
        logger.warning("%s: %d records contain ambiguous bases; their k-mers become [UNK]", name, n_ambiguous)


def _to_record(raw: _Raw, record_id: str, name: str, min_length: int) -> SequenceRecord:
    if raw.problem is not None:
        raise InputError(raw.problem, record_id=record_id, line=raw.line, source=name)
    try:
        sequence = normalise_sequence("".join(raw.parts), record_id=record_id, line=raw.line, source=name)
    except InputError as err:
        if err.position is None:
            raise
        line = _line_of(raw, err.position)
        raise InputError(err.reason, record_id=record_id, position=err.position, line=line, source=name) from None
    if len(sequence) < min_length:
        raise InputError(
            f"sequence of length {len(sequence)} is shorter than the minimum length {min_length} "
            f"(a k-mer model needs at least k bases)",
            record_id=record_id,
            line=raw.line,
            source=name,
        )
    return SequenceRecord(record_id, sequence, raw.label, f"{name} line {raw.line}")


def _line_of(raw: _Raw, position: int) -> int:
    """The file line holding 1-based ``position`` of a record's whitespace-free sequence."""
    bases = 0
    for part, line_no in zip(raw.parts, raw.lines):
        bases += len("".join(part.split()))
        if bases >= position:
            return line_no
    return raw.line


def _is_ambiguous(sequence: str) -> bool:
    """True when a normalised sequence holds a base other than A, C, G, T (N, R, Y, ...)."""
    return bool(sequence.encode("ascii").translate(None, b"ACGT"))


def _collect(items: Iterable[SequenceRecord | InputError]) -> ParsedInput:
    records: list[SequenceRecord] = []
    errors: list[InputError] = []
    for item in items:
        if isinstance(item, InputError):
            errors.append(item)
        else:
            records.append(item)
    n_ambiguous = sum(_is_ambiguous(record.sequence) for record in records)
    return ParsedInput(tuple(records), tuple(errors), n_ambiguous)
