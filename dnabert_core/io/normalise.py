"""Sequence text -> checked, normalised bases: whitespace dropped, upper case, U -> T, the first non-IUPAC character
an InputError at its 1-based position and file line; one byte per base while a record is read."""
from __future__ import annotations

import bisect
from array import array
from itertools import accumulate

from dnabert_core.errors import InputError
from dnabert_core.io.lines import limit_reached

IUPAC_DNA: frozenset[str] = frozenset("ACGTURYSWKMBDHVN")
_NOT_UTF8 = "bytes that are not UTF-8 text (binary data or another text encoding)"


def _check_map() -> bytes:
    """A bytes.translate table that checks and maps in one pass: an IUPAC code (either case) -> upper case, U -> T;
    any other byte -> 0 (a per-character Python loop would be 50x slower)."""
    table = bytearray(256)
    for code in IUPAC_DNA:
        table[ord(code)] = table[ord(code.lower())] = ord("T" if code == "U" else code)
    return bytes(table)


_CHECK_MAP = _check_map()
_FLUSH_LINES = 256
_LONG_LINE = 1 << 14
_CHUNK = 1 << 20


def normalise_sequence(raw: str, *, record_id: str, line: int | None = None, source: str | None = None) -> str:
    """Upper-case ``raw``, turn U into T and drop whitespace; InputError at the first non-IUPAC character.

    Soft-masked (lower-case) bases are the same bases (SPEC section 1). ``position`` in the error is 1-based in the
    sequence without its whitespace.
    """
    bases = Bases(line)
    bases.add(raw)
    return bases.to_sequence(record_id, line, source)


class Budget:
    """Bases read so far from one input, against ReadLimits.max_bases."""

    def __init__(self, max_bases: int, name: str) -> None:
        self.max_bases = max_bases
        self.left = max_bases
        self.name = name

    def take(self, n_bases: int) -> None:
        self.left -= n_bases
        if self.left < 0:
            plural = "s" * (self.max_bases > 1)
            raise limit_reached(f"stopped at the limit of {self.max_bases:,} base{plural}", self.name)


class Bases:
    """A record's sequence as it is read, held as its normalised bytes (one byte a base, never a list of lines).

    Lines wait in ``pending`` (at most 256 lines, or one long line), then lose their whitespace and go through one
    bytes.translate that both checks and maps them onto ``data``; the first invalid character is kept in ``bad`` as
    (index, char). ``ends[i]``: bases up to the end of part ``i``, ``lines[i]`` its file line (parts are consecutive
    lines from ``first_line`` unless ``add`` says otherwise: empty lines are never passed), so an error's position
    gives its line.
    """

    __slots__ = ("data", "pending", "ends", "lines", "next_line", "first_line", "bad", "budget")

    def __init__(self, first_line: int | None, budget: Budget | None = None) -> None:
        self.data: bytes | bytearray = b""
        self.pending: list[str] = []
        self.ends = array("q")
        self.lines = array("q")
        self.first_line = first_line
        self.next_line = first_line or 0
        self.bad: tuple[int, str] | None = None
        self.budget = budget

    def add(self, text: str, line: int | None = None) -> None:
        """One more part of the sequence: the text of file line ``line`` (default: the line after the last part)."""
        line = self.next_line if line is None else line
        self.pending.append(text)
        self.lines.append(line)
        self.next_line = line + 1
        if len(self.pending) >= _FLUSH_LINES or len(text) >= _LONG_LINE:
            self._flush()

    def to_sequence(self, record_id: str, line: int | None, source: str | None) -> str:
        """The normalised sequence; InputError at the first non-IUPAC character (with the line holding it), or for
        no bases at all (at ``line``)."""
        self._flush()
        if not self.data:
            raise InputError("empty sequence", record_id=record_id, line=line, source=source)
        if self.bad is not None:
            index, char = self.bad
            reason = _NOT_UTF8 if char == "\ufffd" else f"invalid character {char!r} (not an IUPAC nucleotide code)"
            part = bisect.bisect_left(self.ends, index + 1)
            at = None if self.first_line is None else self.lines[part]
            raise InputError(reason, record_id=record_id, position=index + 1, line=at, source=source)
        data, self.data = self.data, b""  # the bytes go before the str is made
        return data.decode("ascii")

    def _flush(self) -> None:
        """Check and map the pending lines onto ``data``, 1 MiB at a time, so a long line is never copied whole."""
        text = "".join(self.pending)
        if not text.isalpha():  # bases are letters, so only then can a line hold whitespace
            self.pending = ["".join(line.split()) for line in self.pending]
            text = "".join(self.pending)
        ends = accumulate(map(len, self.pending), initial=len(self.data))
        next(ends)  # where the pending lines start, not a line's end
        self.ends.extend(ends)
        self.pending.clear()
        if self.budget is not None:
            self.budget.take(len(text))
        for start in range(0, len(text), _CHUNK):
            piece = text[start : start + _CHUNK]
            mapped = piece.encode("ascii", "replace").translate(_CHECK_MAP)  # one byte a character: same positions
            if self.bad is None and 0 in mapped:
                index = mapped.index(0)
                self.bad = (len(self.data) + index, piece[index])
            if not self.data:
                self.data = mapped
            else:
                if isinstance(self.data, bytes):
                    self.data = bytearray(self.data)
                self.data += mapped
