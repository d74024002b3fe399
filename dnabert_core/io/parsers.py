"""Records from lines: FASTA, plain text, CSV/TSV, DNABERT's k-mer table and ENCODE 690 ``.data`` -> SequenceRecord,
with one InputError per bad record; unique ids, the checks of whole files, and reading bounded by ReadLimits."""
from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from dnabert_core.errors import DnabertError, InputError, LimitReached
from dnabert_core.io.lines import Progress, iter_chunks, iter_lines, limit_reached, open_binary
from dnabert_core.io.normalise import Bases, Budget
from dnabert_core.io.sniff import check_format, delimiter_of, detect, directory_error, looks_like_kmers, split_row
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import kmers_to_sequence

logger = logging.getLogger(__name__)

_AMBIGUOUS = "RYSWKMBDHVN"
_DELIMITERS = {"csv": ",", "tsv": "\t", "kmer_tsv": None}


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on one input, applied while it is read (the web app's guard against huge or hostile uploads).

    ``max_records``: records read (good or rejected); ``max_bases``: bases read; ``max_decompressed_bytes``: bytes of
    text (after gunzip). None is no bound. When one is passed, reading stops there: nothing more is decompressed or
    parsed, the records read before are kept, and one LimitReached notice is the last item.
    """

    max_records: int | None = None
    max_bases: int | None = None
    max_decompressed_bytes: int | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and value < 1:
                raise DnabertError(f"ReadLimits.{field.name} must be at least 1 or None, got {value}")


@dataclass(frozen=True)
class ParsedInput:
    """All records of one input: the good ones, one error per bad one, how many good ones hold ambiguous bases, and
    ``truncated``, the LimitReached message when a ReadLimits bound stopped reading (None when all was read)."""

    records: tuple[SequenceRecord, ...]
    errors: tuple[InputError, ...]
    n_ambiguous: int
    truncated: str | None = None


def iter_records(
    path: str | Path,
    *,
    fmt: str | None = None,
    min_length: int = 1,
    label_column: str | None = None,
    limits: ReadLimits | None = None,
    progress: Progress | None = None,
) -> Iterator[SequenceRecord | InputError]:
    """Stream a file's records in file order: a SequenceRecord per good record, an InputError per bad one.

    Never stops at a bad record; a problem with the whole file (a directory, binary data, FASTQ, no ``sequence``
    column, corrupt compressed data, no records at all) is one InputError. ``fmt`` overrides detection;
    ``min_length`` is the shortest sequence kept (k for a k-mer model); ``label_column`` names the label column of a
    table (default ``label``); ``limits`` bounds the reading (a LimitReached notice ends it);
    ``progress(bytes_read, total_bytes)`` gets the bytes of the file on disk read so far (compressed bytes for gzip)
    and its size, after each 1 MiB chunk and at the end. A missing file raises FileNotFoundError at once.
    """
    return _file_items(Path(path), fmt, min_length, label_column, limits, progress, _Tally())


def read_records(
    path: str | Path,
    *,
    fmt: str | None = None,
    min_length: int = 1,
    label_column: str | None = None,
    limits: ReadLimits | None = None,
) -> ParsedInput:
    """All records and errors of a file (:func:`iter_records` collected)."""
    tally = _Tally()
    return _collect(_file_items(Path(path), fmt, min_length, label_column, limits, None, tally), tally)


def parse_text(
    text: str,
    *,
    fmt: str | None = None,
    name: str = "pasted text",
    min_length: int = 1,
    label_column: str | None = None,
    limits: ReadLimits | None = None,
) -> ParsedInput:
    """Parse pasted text exactly as a file: any input format.

    ``name`` stands for the file name in record sources and error messages.
    """
    return parse_bytes(text.encode("utf-8", "replace"), fmt=fmt, name=name, min_length=min_length,
                       label_column=label_column, limits=limits)


def parse_bytes(
    data: bytes,
    *,
    fmt: str | None = None,
    name: str = "upload",
    min_length: int = 1,
    label_column: str | None = None,
    limits: ReadLimits | None = None,
) -> ParsedInput:
    """Parse the bytes of an uploaded file exactly as a file on disk (plain, gzip or bgzip; any input format)."""
    check_format(fmt)
    tally = _Tally()
    return _collect(_iter_source(data, name, fmt, min_length, label_column, limits, None, tally), tally)


@dataclass
class _Tally:
    """What one pass over an input counts for ParsedInput: good records holding ambiguous bases."""

    n_ambiguous: int = 0


@dataclass
class _Raw:
    """One record as read, before normalisation: where it starts, its bases, label, and a problem found on the way."""

    number: int
    name: str | None
    line: int
    bases: Bases
    label: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Columns:
    """Column indices of a table; ``width`` is the header's column count (None for a k-mer table without header)."""

    sequence: int
    id: int | None
    label: int | None
    width: int | None


def _file_items(
    path: Path,
    fmt: str | None,
    min_length: int,
    label_column: str | None,
    limits: ReadLimits | None,
    progress: Progress | None,
    tally: _Tally,
) -> Iterator[SequenceRecord | InputError]:
    """The items of a file; a bad ``fmt`` and a missing file raise now, not at the first next()."""
    check_format(fmt)
    if path.is_dir():
        return iter([directory_error(path)])
    open(path, "rb").close()
    return _iter_source(path, path.name, fmt, min_length, label_column, limits, progress, tally)


def _iter_source(
    source: Path | bytes,
    name: str,
    fmt: str | None,
    min_length: int,
    label_column: str | None,
    limits: ReadLimits | None,
    progress: Progress | None,
    tally: _Tally,
) -> Iterator[SequenceRecord | InputError]:
    try:
        fmt = fmt or detect(source, name)
    except InputError as err:
        yield err
        return
    logger.debug("reading %s as %s", name, fmt)
    limits = limits or ReadLimits()
    budget = None if limits.max_bases is None else Budget(limits.max_bases, name)
    with open_binary(source) as (raw, text):
        lines = iter_lines(iter_chunks(raw, text, name, progress=progress, max_bytes=limits.max_decompressed_bytes),
                           name)
        if fmt == "fasta":
            raws = _parse_fasta(lines, name, budget)
        elif fmt == "text":
            raws = _parse_plain(lines, budget)
        elif fmt == "encode_data":
            raws = _parse_encode(lines, budget)
        else:
            raws = _parse_table(lines, name, _DELIMITERS[fmt], label_column, budget, kmers=fmt == "kmer_tsv")
        yield from _finish(raws, name, min_length, limits.max_records, tally)


def _parse_fasta(lines: Iterable[tuple[int, str]], name: str, budget: Budget | None) -> Iterator[_Raw | InputError]:
    record: _Raw | None = None
    number = 0
    stray = False
    try:
        for line_no, text in lines:
            if text.startswith(">"):
                if record is not None:
                    yield record
                number += 1
                words = text[1:].split(maxsplit=1)
                record = _Raw(number, words[0] if words else None, line_no, Bases(line_no + 1, budget))
            elif record is not None:
                record.bases.add(text, line_no)
            elif not stray and text and not text.isspace():
                stray = True
                yield InputError("text before the first '>' header belongs to no record", line=line_no, source=name)
    except LimitReached as limit:  # the record being read may be incomplete: name it, never pass on a piece of it
        if record is None:
            raise
        cut = f"record {record.name or f'seq{record.number}'!r} (header on line {record.line}) was being read"
        raise limit_reached(f"{limit.what}; {cut} and is left out", name) from None
    text = ""  # the last line may be a whole chromosome: let its record alone hold it
    if record is not None:
        yield record


def _parse_plain(lines: Iterable[tuple[int, str]], budget: Budget | None) -> Iterator[_Raw]:
    number = 0
    for line_no, text in lines:
        if text and not text.isspace():
            number += 1
            record = _Raw(number, None, line_no, Bases(line_no, budget))
            record.bases.add(text)
            yield record


def _parse_encode(lines: Iterable[tuple[int, str]], budget: Budget | None) -> Iterator[_Raw]:
    """ENCODE 690 ``.data``: one record a line, ``>id SEQUENCE LABEL`` separated by whitespace."""
    number = 0
    for line_no, text in lines:
        words = text.split()
        if not words:
            continue
        number += 1
        header = words[0].startswith(">")
        record = _Raw(number, (words[0][1:] or None) if header else None, line_no, Bases(line_no, budget))
        if not header:
            record.problem = "expected '>id SEQUENCE LABEL', but the line does not start with '>'"
        elif len(words) != 3:
            record.problem = f"expected '>id SEQUENCE LABEL' (3 fields separated by whitespace), got {len(words)}"
        else:
            record.label = words[2]
            record.bases.add(words[1])
        yield record


def _parse_table(
    lines: Iterable[tuple[int, str]],
    name: str,
    delimiter: str | None,
    label_column: str | None,
    budget: Budget | None,
    *,
    kmers: bool,
) -> Iterator[_Raw]:
    """Rows of a CSV/TSV (header required) or a k-mer table (header optional). A None ``delimiter`` is the first of
    tab or comma that the header line or the first row holds."""
    columns: _Columns | None = None
    number = 0
    for line_no, text in lines:
        if not text or text.isspace():
            continue
        delimiter = delimiter or delimiter_of(text)
        try:
            fields = split_row(text, delimiter or "\t")
        except csv.Error as err:
            if columns is None:
                raise InputError(f"cannot read the header: {err}", line=line_no, source=name) from err
            number += 1
            yield _Raw(number, None, line_no, Bases(line_no), problem=f"cannot split the row: {err}")
            continue
        if columns is None:
            if kmers and looks_like_kmers(fields[0]):
                if label_column is not None:
                    raise InputError(f"no header line, so no column {label_column!r}", line=line_no, source=name)
                columns = _Columns(sequence=0, id=None, label=1, width=None)
            else:
                # a header separated by spaces instead of the delimiter (DNABERT's prom-core files)
                columns = _find_columns(fields if len(fields) > 1 else text.split(), label_column, line_no, name)
                continue
        number += 1
        yield _table_record(number, fields, columns, line_no, kmers, budget)
    if columns is not None and number == 0:
        raise InputError("no records: the file holds only a header line", source=name)


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


def _table_record(
    number: int, fields: list[str], columns: _Columns, line_no: int, kmers: bool, budget: Budget | None
) -> _Raw:
    def cell(index: int | None) -> str | None:
        if index is None or index >= len(fields):
            return None
        return fields[index].strip() or None

    record = _Raw(number, cell(columns.id), line_no, Bases(line_no, budget), label=cell(columns.label))
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
    record.bases.add(sequence)
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


class _UniqueIds:
    """Ids made unique in file order: a repeated id gets ``_2``, ``_3``, ... (skipping ids already taken)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.last_suffix: dict[str, int] = {}
        self.renamed = 0
        self.example = ""

    def __call__(self, record_id: str) -> str:
        if record_id in self.seen:
            suffix = self.last_suffix.get(record_id, 1) + 1
            while f"{record_id}_{suffix}" in self.seen:
                suffix += 1
            self.last_suffix[record_id] = suffix
            self.renamed += 1
            self.example = self.example or f"{record_id!r} -> '{record_id}_{suffix}'"
            record_id = f"{record_id}_{suffix}"
        self.seen.add(record_id)
        return record_id


def _finish(
    items: Iterable[_Raw | InputError], name: str, min_length: int, max_records: int | None, tally: _Tally
) -> Iterator[SequenceRecord | InputError]:
    """Give each record a unique id, normalise and check it, count ambiguous ones in ``tally``; stop before record
    ``max_records + 1``; one error for an input without any record; log renamed ids and ambiguous records at the end.
    """
    ids = _UniqueIds()
    n_items = n_read = 0
    try:
        for item in items:
            n_items += 1
            if isinstance(item, InputError):
                yield item
                continue
            if n_read == max_records:
                raise limit_reached(f"stopped at the limit of {max_records:,} record{'s' * (max_records > 1)}", name)
            n_read += 1
            try:
                record = _to_record(item, ids(item.name or f"seq{item.number}"), name, min_length)
            except LimitReached:
                raise
            except InputError as err:
                yield err
                continue
            tally.n_ambiguous += any(code in record.sequence for code in _AMBIGUOUS)
            yield record
    except InputError as err:  # a problem with the whole file, or a read limit: nothing follows
        yield err
    else:
        if n_items == 0:
            yield InputError("no records: the file is empty", source=name)
    if ids.renamed:
        logger.warning("%s: %d duplicate record ids were made unique by appending _2, _3, ... (first: %s)", name,
                       ids.renamed, ids.example)
    if tally.n_ambiguous:
        logger.warning("%s: %d records contain ambiguous bases; their k-mers become [UNK]", name, tally.n_ambiguous)


def _to_record(raw: _Raw, record_id: str, name: str, min_length: int) -> SequenceRecord:
    if raw.problem is not None:
        raise InputError(raw.problem, record_id=record_id, line=raw.line, source=name)
    sequence = raw.bases.to_sequence(record_id, raw.line, name)
    if len(sequence) < min_length:
        raise InputError(
            f"sequence of length {len(sequence)} is shorter than the minimum length {min_length} "
            f"(a k-mer model needs at least k bases)",
            record_id=record_id,
            line=raw.line,
            source=name,
        )
    return SequenceRecord(record_id, sequence, raw.label, f"{name} line {raw.line}")


def _collect(items: Iterable[SequenceRecord | InputError], tally: _Tally) -> ParsedInput:
    records: list[SequenceRecord] = []
    errors: list[InputError] = []
    truncated = None
    for item in items:
        if isinstance(item, LimitReached):
            truncated = item.message
        elif isinstance(item, InputError):
            errors.append(item)
        else:
            records.append(item)
    return ParsedInput(tuple(records), tuple(errors), tally.n_ambiguous, truncated)
