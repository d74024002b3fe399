"""Error hierarchy: every error names what is wrong and where (record, position, line)."""
from __future__ import annotations


class DnabertError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(DnabertError):
    """A bad input record or file: carries the record id, 1-based position and 1-based line when known.

    Rendered as ``record 'seq7', position 57: invalid base 'X'``; parsers collect these per record and go on.
    """

    def __init__(
        self,
        reason: str,
        *,
        record_id: str | None = None,
        position: int | None = None,
        line: int | None = None,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.record_id = record_id
        self.position = position
        self.line = line
        self.source = source
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = []
        if self.source is not None:
            where.append(f"{self.source}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record_id is not None:
            where.append(f"record '{self.record_id}'")
        if self.position is not None:
            where.append(f"position {self.position}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class LimitReached(InputError):
    """Reading stopped at a read limit (``dnabert_core.io.ReadLimits``): the records before it were kept, the rest of
    the input was not read. Yielded once, as the last item."""


class VocabularyError(DnabertError):
    """A vocabulary that is not DNABERT's (wrong size, order or special tokens)."""


class ModelLoadError(DnabertError):
    """A model folder or hub id that cannot be loaded as a DNABERT model; says which file and field."""


class OptionError(DnabertError):
    """A setting that cannot work as given (a window the model cannot take, a step that would skip bases, an unknown
    class): the command line reports it as a usage error (exit 2)."""
