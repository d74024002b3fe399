"""Reference genomes: indexed random access to a FASTA (plain, bgzip, or plain gzip decompressed once into a cache)
through pyfaidx, and ``chr:start-end`` region strings."""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import tempfile
import zlib
from pathlib import Path
from types import TracebackType

import pyfaidx

from dnabert_core.errors import InputError
from dnabert_core.io.lines import GZIP_MAGIC, is_bgzf
from dnabert_core.records import SequenceRecord

logger = logging.getLogger(__name__)

_COPY_BYTES = 1 << 20
_SPAN = re.compile(r"(\d[\d,]*)\s*-\s*(\d[\d,]*)")


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
        if head.startswith(GZIP_MAGIC) and not (is_bgzf(head) and self.path.suffix.lower() in {".gz", ".bgz"}):
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
                shutil.copyfileobj(source, out, _COPY_BYTES)
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


def _default_cache_dir() -> Path:
    root = os.environ.get("DNABERT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "dnabert") / "fasta"


def _cache_stem(path: Path) -> str:
    """A cache file stem unique to the file's absolute path, size and modification time."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    base = Path(path.name.removesuffix(".gz").removesuffix(".bgz")).stem
    return f"{base}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
