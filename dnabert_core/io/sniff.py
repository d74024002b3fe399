"""Which format a file is, from its first 64 KiB of text (the extension decides only for empty files); binary data
and FASTQ are refused here with one clear error."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from dnabert_core.errors import InputError
from dnabert_core.io.lines import SNIFF_BYTES, read_head
from dnabert_core.tokenizer import MAX_K, MIN_K

FORMATS: tuple[str, ...] = ("fasta", "csv", "tsv", "kmer_tsv", "encode_data", "text")

_HINTS = {
    **dict.fromkeys((".fa", ".fasta", ".fna", ".ffn", ".fas", ".fsa"), "fasta"),
    ".csv": "csv",
    ".tsv": "tsv",
    ".data": "encode_data",
}
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_DNA = re.compile(r"[ACGTURYSWKMBDHVN]+", re.IGNORECASE)
_FIRST_CELL = re.compile(r"[\t,]")


def detect_format(path: str | Path) -> str:
    """The format of a file, one of :data:`FORMATS`, sniffed from its first 64 KiB (gunzipped when compressed).

    Raises InputError for a directory, binary data and FASTQ, FileNotFoundError for a missing file.
    """
    path = Path(path)
    return detect(path, path.name)


def detect(source: Path | bytes, name: str) -> str:
    """:func:`detect_format` of a file or of bytes; ``name`` stands for the file in errors and gives the hint."""
    if isinstance(source, Path) and source.is_dir():
        raise directory_error(source)
    hint = _HINTS.get(Path(name.lower().removesuffix(".gz").removesuffix(".bgz")).suffix)
    return sniff(read_head(source, name), name, hint)


def directory_error(path: Path) -> InputError:
    return InputError(f"{path} is a directory, not a sequence file")


def check_format(fmt: str | None) -> None:
    """InputError unless ``fmt`` is None (detect) or one of :data:`FORMATS`."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def sniff(block: bytes, name: str, hint: str | None) -> str:
    """The format of a file from its first bytes; ``hint`` (from the extension) decides only for empty files."""
    _check_text(block, name)
    text = block.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(block) == SNIFF_BYTES and len(lines) > 1:
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
    if _looks_like_encode(lines):
        return "encode_data"
    if any(line.startswith(">") for line in lines):
        return "fasta"
    if looks_like_kmers(_FIRST_CELL.split(first, maxsplit=1)[0]):
        return "kmer_tsv"
    delimiter = delimiter_of(first)
    header = [cell.strip().lower() for cell in (split_row(first, delimiter) if delimiter else first.split())]
    if "sequence" not in header:
        return {"\t": "tsv", ",": "csv", None: "text"}[delimiter]
    column = header.index("sequence")
    rows = (split_row(line, delimiter or delimiter_of(line) or "\t") for line in lines[1:])
    if any(column < len(row) and looks_like_kmers(row[column]) for row in rows):
        return "kmer_tsv"
    return "csv" if delimiter == "," else "tsv"


def _check_text(block: bytes, name: str) -> None:
    """InputError for binary data (a control byte other than whitespace) in the first bytes."""
    binary = _BINARY.search(block)
    if binary is not None:
        raise InputError(
            f"binary data (byte 0x{block[binary.start()]:02x}), not text; expected FASTA, CSV/TSV, DNABERT's k-mer "
            f"TSV or one sequence per line",
            line=block.count(b"\n", 0, binary.start()) + 1,
            source=name,
        )


def _looks_like_encode(lines: list[str]) -> bool:
    """True for ENCODE 690 ``.data``: most lines are ``>id SEQUENCE LABEL``, three whitespace-separated fields, the
    second a DNA string (so, unlike FASTA, no sequence lines between the headers; a few bad lines do not matter)."""
    shaped = 0
    for line in lines:
        fields = line.split()
        shaped += len(fields) == 3 and fields[0].startswith(">") and _DNA.fullmatch(fields[1]) is not None
    return 2 * shaped > len(lines)


def looks_like_kmers(text: str) -> bool:
    """True for DNABERT's k-merized text: two or more space-separated words of k letters, 3 <= k <= 6."""
    words = text.split(maxsplit=8)[:8]
    return (
        len(words) > 1
        and MIN_K <= len(words[0]) <= MAX_K
        and all(len(word) == len(words[0]) and word.isalpha() for word in words)
    )


def delimiter_of(line: str) -> str | None:
    """The delimiter of a table line: tab if it holds one, else comma if it holds one, else None."""
    return "\t" if "\t" in line else "," if "," in line else None


def split_row(text: str, delimiter: str) -> list[str]:
    """Fields of one table line; quoted fields (csv rules) only when the line holds a quote."""
    if '"' in text:
        return next(csv.reader([text], delimiter=delimiter))
    return text.split(delimiter)
