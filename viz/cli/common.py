"""What every ``dnabert`` command shares: exit codes, input reading with byte-sized progress, atomic outputs, model
loading, windows, the NA rules and the end-of-run summary.

Exit codes (SPEC section 8): 0 when the output was written (rejected records are listed on stderr and the rest
processed), 1 when nothing could be processed, 2 on a usage error (bad option, missing input file). Outputs are written
to a temporary file beside the target and renamed when complete, so a failed run leaves nothing half-written.
"""
from __future__ import annotations

import argparse
import csv
import io as io_module
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from dnabert_core import io
from dnabert_core.errors import InputError, OptionError
from dnabert_core.model import LoadedModel, load_model
from dnabert_core.predict import set_threads
from dnabert_core.records import SequenceRecord
from dnabert_core.train import Dist, init_distributed

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
NA = "NA"


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default and keep the examples' line breaks."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def fmt_float(value: float) -> str:
    """A number for a TSV cell: 6 significant digits, NA when it was not computed (NaN)."""
    return NA if np.isnan(value) else f"{value:.6g}"


def say(message: str) -> None:
    """One line for the user on stderr."""
    print(message, file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------- options
def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="model folder (or Hugging Face hub id owner/name)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, mps")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="sequences (windows) per forward pass")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_input_options(parser: argparse.ArgumentParser, inputs: bool = False) -> None:
    """--format, and with ``inputs`` the positional sequence files."""
    parser.add_argument("--format", choices=io.FORMATS, default=None,
                        help="input format (default: detected from the content)")
    if inputs:
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help="sequence files")


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """--window and --step for sequences longer than one model window."""
    parser.add_argument("--window", type=positive_int, default=None,
                        help="window in bp (default: the length the model was fine-tuned on, else its longest)")
    parser.add_argument("--step", type=positive_int, default=None,
                        help="step between windows in bp, at most the window (default: half a window)")


def add_target_option(parser: argparse.ArgumentParser,
                      what: str = "class scored (name or 0-based index; default: the positive class of a two-class "
                                  "model)") -> None:
    parser.add_argument("--target", default=None, help=what)


def add_output_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-o", "--output", required=True, help=f"output TSV ({what}); - for stdout")


# ------------------------------------------------------------------------------------------------------------- inputs
VARIANT_FILES = {"vcf": "a VCF: variants are scored with `dnabert variants -m MODEL --vcf {path} --fasta REFERENCE`",
                 "clinvar": "a ClinVar TSV: `dnabert variants -m MODEL --vcf {path} --fasta REFERENCE` scores it",
                 "mutations": "a mutation file (index start end allele): `dnabert variants -m MODEL --sequences "
                              "SEQUENCES --mutations {path}` applies it"}


def check_inputs(paths: list[str]) -> None:
    """Every input is an existing sequence file (usage errors otherwise, before any work): a variant file names the
    command that takes it."""
    from viz.vcf import looks_like_variants

    for path in paths:
        if Path(path).is_dir():
            raise OptionError(f"input {path} is a directory, not a sequence file")
        if not Path(path).is_file():
            raise OptionError(f"input file not found: {path}")
        kind = looks_like_variants(path)
        if kind:
            raise OptionError(f"input {path} is {VARIANT_FILES[kind].format(path=path)}")


class RecordReader:
    """Streams good records from input files; rejected records go to stderr (id, position, reason) and are counted.

    Progress is sized from the bytes read (one pass over the inputs); ``lengths`` counts the records' lengths (for the
    training-length warning).
    """

    def __init__(self, paths: list[str], *, min_length: int, fmt: str | None, label_column: str | None = None,
                 quiet: bool = True, description: str = "read", silent: bool = False):
        check_inputs(paths)
        self.silent = silent  # another rank of a torchrun job reports (every rank reads the same input)
        self.paths = paths
        self.min_length = min_length
        self.fmt = fmt
        self.label_column = label_column
        self.quiet = quiet
        self.description = description
        self.n_rejected = 0
        self.n_read = 0
        self.lengths: Counter[int] = Counter()

    def reject(self, message: str) -> None:
        """List a record that was read but could not be processed, and count it."""
        self.n_rejected += 1
        self.n_read -= 1
        if not self.silent:
            tqdm.write(f"rejected: {message}", file=sys.stderr)

    def __iter__(self) -> Iterator[SequenceRecord]:
        sizes = [Path(p).stat().st_size for p in self.paths]
        with tqdm(total=sum(sizes), desc=self.description, unit="B", unit_scale=True, file=sys.stderr,
                  disable=self.quiet or self.silent, dynamic_ncols=True) as bar:
            for offset, path in zip(np.cumsum([0] + sizes[:-1]), self.paths):

                def progress(done: int, _total: int, offset: int = int(offset)) -> None:
                    bar.update(offset + done - bar.n)

                items = io.iter_records(path, fmt=self.fmt, min_length=self.min_length,
                                        label_column=self.label_column, progress=progress)
                for item in items:
                    if isinstance(item, InputError):
                        self.n_rejected += 1
                        if not self.silent:
                            tqdm.write(f"rejected: {item.message}", file=sys.stderr)
                    else:
                        self.n_read += 1
                        self.lengths[len(item.sequence)] += 1
                        yield item


def read_labelled(paths: list[str] | None, k: int, fmt: str | None, label_column: str | None) -> list[SequenceRecord]:
    """All good records of some files (rejected ones listed on stderr)."""
    if not paths:
        return []
    return list(RecordReader(paths, min_length=k, fmt=fmt, label_column=label_column))


# ------------------------------------------------------------------------------------------------------------- models
def ranks(args: argparse.Namespace) -> Dist:
    """This process's place in a ``torchrun`` job (joins its process group; one GPU per local rank), or a single
    process: commands shard their input with ``dnabert_core.sharding.sharded`` and rank 0 writes."""
    return init_distributed(args.device)


def load(args: argparse.Namespace, *, classifier: bool = False, where: Dist | None = None) -> LoadedModel:
    """The model of ``-m`` (threads set first) on ``args.device``, or on this rank's device under ``torchrun``;
    ``classifier`` refuses one without a trained head, before any work. The window options are checked against it
    (step > window, window too long) now, not in the middle of a run."""
    set_threads(args.threads)
    loaded = load_model(args.model, device=str(where.device) if where and where.world > 1 else args.device)
    if classifier:
        loaded.require_classifier()
    if hasattr(args, "window"):
        size = loaded.window_size(args.window)
        loaded.tokenizer.windows(size, size, args.step)
    return loaded


def note_unscored(reader: RecordReader, record_id: str, length: int, spans: list[tuple[int, int]]) -> bool:
    """Report what was not scored: the whole record (rejected, returns False) or its uninformative stretches (NA,
    printed 1-based inclusive). ``spans``: 0-based half-open base spans that no informative window covers."""
    if spans == [(0, length)]:
        reader.reject(f"record '{record_id}' ({length} bp): no informative window (more than half of the k-mers of "
                      f"every window hold N or another ambiguous base); nothing was scored")
        return False
    if spans:
        where = ", ".join(f"{a + 1}-{b}" for a, b in spans[:5]) + (", ..." if len(spans) > 5 else "")
        tqdm.write(f"NA: record '{record_id}', bases {where}: windows mostly N, not scored", file=sys.stderr)
    return True


# ------------------------------------------------------------------------------------------------------------ outputs
@contextmanager
def atomic_output(path: str, keep: Callable[[], bool] = lambda: True) -> Iterator[TextIO]:
    """A text handle for ``path`` that appears only when the block ends without error and ``keep()`` is true (a temp
    file beside it is renamed, else removed); ``-`` is stdout. Parent folders are created."""
    if path == "-":
        yield sys.stdout
        return
    target = Path(path)
    if target.is_dir():
        raise OptionError(f"output {path} is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            yield out
        if not keep():
            raise _Discard
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    except _Discard:
        os.unlink(temp)
    except BaseException:
        os.unlink(temp)
        raise


@contextmanager
def rank_output(path: str, where: Dist, keep: Callable[[], bool] = lambda: True) -> Iterator[TextIO]:
    """``atomic_output`` on rank 0; a handle that keeps nothing on the other ranks of a torchrun job."""
    if where.main:
        with atomic_output(path, keep) as out:
            yield out
    else:
        yield io_module.StringIO()


class _Discard(Exception):
    """Raised inside ``atomic_output`` to drop the temp file of a run that processed nothing."""


def tsv_writer(handle: TextIO) -> csv.writer:
    return csv.writer(handle, delimiter="\t", lineterminator="\n")


def finish(reader: RecordReader, output: str, loaded: LoadedModel | None = None, window: int | None = None) -> int:
    """Summarise on stderr (with the training-length warning); exit 1 when no record could be processed."""
    if loaded is not None:
        warning = loaded.length_warning(reader.lengths, window)
        if warning:
            say(f"warning: {warning}")
    if reader.n_read <= 0:
        names = ", ".join(reader.paths)
        say(f"error: no record could be processed from {names} ({reader.n_rejected} rejected)")
        return EXIT_NOTHING
    rejected = f", {reader.n_rejected} rejected (listed above)" if reader.n_rejected else ""
    say(f"wrote {output}: {reader.n_read} records{rejected}")
    return EXIT_OK

