"""Bytes in, lines out: open a file or bytes (plain, gzip or bgzip, by the magic bytes), read it in 1 MiB chunks
(with progress and a bound on the text read), split the chunks into lines (LF, CRLF, CR; BOM dropped; bad UTF-8 as
U+FFFD)."""
from __future__ import annotations

import codecs
import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dnabert_core.errors import InputError, LimitReached

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 1 << 16
_CHUNK_BYTES = 1 << 20
_READ_ERRORS = (OSError, EOFError, zlib.error)
_REST = "the rest was not read (for big inputs use the `dnabert` command line)"

Progress = Callable[[int, int], None]


def limit_reached(what: str, name: str) -> LimitReached:
    """The notice for a read limit: ``what`` says which (``"stopped at the limit of 1,000 records"``; kept as the
    notice's ``what``, for a parser to add the record it cut)."""
    notice = LimitReached(f"{what}: {_REST}", source=name)
    notice.what = what
    return notice


def is_bgzf(head: bytes) -> bool:
    """True for a BGZF block header: gzip with the FEXTRA flag and a 'BC' extra subfield."""
    return len(head) >= 14 and head.startswith(GZIP_MAGIC) and bool(head[3] & 4) and head[12:14] == b"BC"


@contextmanager
def open_binary(source: Path | bytes) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """``(raw, text)``: the file (or bytes) as stored, and its text bytes, gunzipped when they start with the gzip
    magic (gzip and bgzip alike)."""
    with open(source, "rb") if isinstance(source, Path) else io.BytesIO(source) as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield raw, unzipped
        else:
            yield raw, raw


def read_head(source: Path | bytes, name: str) -> bytes:
    """The first 64 KiB of text (decompressed), for sniffing the format; InputError when it cannot be decompressed."""
    with open_binary(source) as (_, text):
        try:
            return text.read(SNIFF_BYTES)
        except _READ_ERRORS as err:
            raise InputError(f"cannot decompress: {err}", source=name) from err


def iter_chunks(
    raw: BinaryIO, text: BinaryIO, name: str, *, progress: Progress | None = None, max_bytes: int | None = None
) -> Iterator[bytes]:
    """The text bytes of an open input, 1 MiB at a time (never empty).

    ``progress(bytes_read, total_bytes)`` gets the bytes of ``raw`` consumed (compressed bytes for gzip) and its
    size, after each chunk and at the end. Past ``max_bytes`` of text nothing more is decompressed: the text up to the
    limit is yielded, then LimitReached is raised. Read errors (truncated gzip) propagate as they are.
    """
    total = os.fstat(raw.fileno()).st_size if progress is not None else 0
    done = 0
    while True:
        before = done
        chunk = text.read(_CHUNK_BYTES if max_bytes is None else min(_CHUNK_BYTES, max_bytes - before + 1))
        done += len(chunk)
        if progress is not None:
            progress(raw.tell() if chunk else total, total)
        if max_bytes is not None and done > max_bytes:
            if before < max_bytes:
                yield chunk[: max_bytes - before]
            raise limit_reached(f"stopped at the limit of {max_bytes:,} bytes of text", name)
        if not chunk:
            return
        yield chunk


def iter_lines(chunks: Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for the lines of the text in ``chunks``; LF, CRLF and CR end a line; a leading BOM is
    dropped; bad UTF-8 becomes U+FFFD. Empty lines inside a chunk are skipped (their numbers still count).

    Memory stays flat however long the file or its lines are: one chunk and the unfinished line are held.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    chunks = iter(chunks)
    pending: list[str] = []  # the unfinished line, in pieces: one line may span many chunks
    carry = ""
    line_no = 0
    first = True
    while True:
        try:
            chunk = next(chunks, b"")
        except _READ_ERRORS as err:
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
            yield line_no, _take(pending)
            for number, piece in enumerate(pieces[1:-1], start=line_no + 1):
                if piece:  # empty lines mean nothing in any format: skipped (64 MB of them took 60 s one by one)
                    yield number, piece
            line_no += len(pieces) - 2
            pending.append(pieces[-1])
        if not chunk:
            break
    if any(pending):
        yield line_no + 1, _take(pending)


def _take(pending: list[str]) -> str:
    """The pieces joined, and the list emptied: a long line is then held once, by the reader of the line."""
    line = "".join(pending)
    pending.clear()
    return line
