"""The ``dnabert`` command line (SPEC section 8): argparse sub-commands, tqdm progress on stderr, exit codes.

Exit codes: 0 when the output was written (rejected records are listed on stderr and the rest processed), 1 when
nothing could be processed, 2 on a usage error (bad option, missing input file).
"""
from __future__ import annotations

import argparse
import csv
import logging
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from dnabert_core import io
from dnabert_core.errors import DnabertError, InputError
from dnabert_core.model import SIZES, LoadedModel, convert_folder, load_model
from dnabert_core.predict import AGGREGATES, PRECISIONS, predict, set_threads, with_precision
from dnabert_core.records import SequenceRecord
from dnabert_core.train import TrainConfig

logger = logging.getLogger("dnabert")

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
INPUT_FORMATS = io.FORMATS


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every option's default and keep the examples' line breaks."""


@contextmanager
def progress_bar(description: str, reader: RecordReader, disable: bool) -> Iterator[None]:
    """A tqdm bar on stderr over the bytes of the input files on disk (compressed bytes for gzip), advanced as
    ``reader`` reads them: one pass over the inputs, no counting pass first."""
    total = sum(Path(path).stat().st_size for path in reader.paths)
    bar = tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
               disable=disable, dynamic_ncols=True)
    reader.on_bytes = lambda done: bar.update(done - bar.n)
    try:
        yield
    finally:
        reader.on_bytes = None
        bar.close()


class RecordReader:
    """Streams good records from input files; rejected records go to stderr (id, position, reason) and are counted."""

    def __init__(self, paths: list[str], *, min_length: int, fmt: str | None, label_column: str | None = None):
        for path in paths:
            if not Path(path).exists():
                raise UsageError(f"input file not found: {path}")
        self.paths = paths
        self.min_length = min_length
        self.fmt = fmt
        self.label_column = label_column
        self.n_rejected = 0
        self.n_read = 0
        self.on_bytes: Callable[[int], None] | None = None  # bytes of all inputs read so far, for a progress bar

    def _items(self) -> Iterator[SequenceRecord | InputError]:
        offset = 0  # bytes of the inputs before this one
        for path in self.paths:
            yield from io.iter_records(path, fmt=self.fmt, min_length=self.min_length, label_column=self.label_column,
                                       progress=self._progress(offset))
            offset += Path(path).stat().st_size

    def _progress(self, offset: int) -> Callable[[int, int], None] | None:
        on_bytes = self.on_bytes
        return None if on_bytes is None else lambda done, _total: on_bytes(offset + done)

    def __iter__(self) -> Iterator[SequenceRecord]:
        for item in self._items():
            if isinstance(item, InputError):
                self.n_rejected += 1
                print(f"rejected: {item.message}", file=sys.stderr)
            else:
                self.n_read += 1
                yield item


def open_output(path: str) -> TextIO:
    """The output file (parent folders created), or stdout for ``-``."""
    if path == "-":
        return sys.stdout
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.open("w", newline="", encoding="utf-8")


def load(args: argparse.Namespace) -> LoadedModel:
    set_threads(args.threads)
    return load_model(args.model, device=args.device)


def check_window(loaded: LoadedModel, window: int | None, step: int | None) -> None:
    """--window must fit the model (k .. max bases); both are usage errors otherwise."""
    tokenizer = loaded.tokenizer
    if window is not None and not tokenizer.k <= window <= tokenizer.max_bases:
        raise UsageError(f"--window {window}: this model (k={tokenizer.k}) takes windows of {tokenizer.k} to "
                         f"{tokenizer.max_bases} bp")
    if step is not None and window is not None and step > window:
        raise UsageError(f"--step {step} is larger than --window {window}: bases between windows would be skipped")


def fmt_float(value: float) -> str:
    return f"{value:.6g}"


# ----------------------------------------------------------------------------------------------------- sub-commands
def cmd_predict(args: argparse.Namespace) -> int:
    reader = RecordReader(args.inputs, min_length=1, fmt=args.format)
    loaded = with_precision(load(args), args.precision)
    check_window(loaded, args.window, args.step)
    reader.min_length = loaded.k
    columns = ["id", "length"] + [f"prob_{label}" for label in loaded.labels] + ["pred"]
    out = open_output(args.output)
    window_out = open_output(args.windows_output) if args.windows_output else None
    try:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        window_writer = csv.writer(window_out, delimiter="\t", lineterminator="\n") if window_out else None
        if window_writer:
            window_writer.writerow(["id", "window", "start", "end"] + columns[2:-1])
        size = loaded.tokenizer.window_size(args.window)
        with progress_bar("predict", reader, args.quiet):
            for prediction in predict(
                loaded,
                reader,
                aggregate=args.aggregate,
                window=args.window,
                step=args.step,
                batch_size=args.batch_size,
                chunk_size=args.chunk_size,
            ):
                best = loaded.labels[int(prediction.probs.argmax())]
                writer.writerow([prediction.record_id, prediction.length, *map(fmt_float, prediction.probs), best])
                if window_writer:
                    for index, (start, probs) in enumerate(zip(prediction.window_starts, prediction.window_probs)):
                        end = min(int(start) + size, prediction.length)
                        window_writer.writerow([prediction.record_id, index + 1, int(start), end, *map(fmt_float, probs)])
    finally:
        for handle in (out, window_out):
            if handle is not None and handle is not sys.stdout:
                handle.close()
    return finish(reader, args.output)


def parse_numbers(text: str | None, option: str, available: int) -> list[int] | None:
    """1-based numbers and ranges ("2", "1,3-4"), each at most ``available`` -> sorted 0-based indices; None stays
    None (the default)."""
    if text is None:
        return None
    numbers: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise UsageError(f"{option} {text!r}: give 1-based numbers or ranges, e.g. 4 or 1,3-4") from None
        if low < 1 or high < low:
            raise UsageError(f"{option} {text!r}: numbers start at 1 and ranges go up (3-4, not 4-3)")
        if high > available:
            raise UsageError(f"{option} {text!r}: this model has {available} ({option.lstrip('-')} 1-{available})")
        numbers.update(range(low - 1, high))
    return sorted(numbers)


def write_tracks(reader: RecordReader, tracks: Iterator, output: str) -> int:
    """Write per-base tracks as the long TSV of SPEC section 8: id, position (1-based), base, score."""
    out = open_output(output)
    try:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "position", "base", "score"])
        for track in tracks:
            for position, (base, score) in enumerate(zip(track.sequence, track.scores), start=1):
                writer.writerow([track.record_id, position, base, fmt_float(score)])
    finally:
        if out is not sys.stdout:
            out.close()
    return finish(reader, output)


def cmd_attention(args: argparse.Namespace) -> int:
    from viz.landscape import attention_landscapes

    reader = RecordReader(args.inputs, min_length=1, fmt=args.format)
    loaded = load(args)
    check_window(loaded, args.window, args.step)
    reader.min_length = loaded.k
    config = loaded.model.config
    layers = parse_numbers(args.layer, "--layer", config.num_hidden_layers)
    heads = parse_numbers(args.heads, "--heads", config.num_attention_heads)
    kept = []
    with progress_bar("attention", reader, args.quiet):
        tracks = attention_landscapes(loaded, reader, layers=layers, heads=heads, reduce=args.reduce,
                                      query=args.query, normalise=args.norm, window=args.window, step=args.step,
                                      batch_size=args.batch_size)
        code = write_tracks(reader, keep_first(tracks, kept, args.figure_max if args.figure else 0), args.output)
    if args.figure and kept:
        from viz.figures import landscape_heatmap, save_figure

        save_figure(landscape_heatmap(kept, sort=args.figure_sort), args.figure)
        print(f"wrote {args.figure} ({len(kept)} landscapes)", file=sys.stderr)
    return code


def keep_first(items: Iterator, kept: list, n: int) -> Iterator:
    """Pass items through, keeping the first ``n`` in ``kept`` (for a figure drawn after the table is written)."""
    for item in items:
        if len(kept) < n:
            kept.append(item)
        yield item


def cmd_attribute(args: argparse.Namespace) -> int:
    from viz.attribution import integrated_gradients, target_index

    reader = RecordReader(args.inputs, min_length=1, fmt=args.format)
    loaded = load(args)
    check_window(loaded, args.window, args.step)
    target_index(loaded, args.target)  # a wrong class is an error before any work
    reader.min_length = loaded.k
    largest = []

    def noting_delta(tracks: Iterator) -> Iterator:
        for track in tracks:
            largest[:] = [max(largest + [track.delta])]
            yield track

    with progress_bar("attribute", reader, args.quiet):
        tracks = integrated_gradients(loaded, reader, target=args.target, n_steps=args.ig_steps, window=args.window,
                                      step=args.step, batch_size=args.batch_size)
        code = write_tracks(reader, noting_delta(tracks), args.output)
    if largest:
        print(f"integrated gradients: largest convergence delta {largest[0]:.3g} (probability units; raise "
              f"--ig-steps if it is not small against the attributions)", file=sys.stderr)
    return code


def cmd_convert(args: argparse.Namespace) -> int:
    folder = convert_folder(args.source, args.output)
    print(f"wrote {folder} (model.safetensors, config.json, vocab.txt, README.md)", file=sys.stderr)
    return EXIT_OK


def train_config(args: argparse.Namespace, output: Path, steps: int, **extra) -> TrainConfig:
    """The TrainConfig of the shared training options (warm-up defaults to 10% of the steps)."""
    return TrainConfig(
        output=output, steps=steps, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
        warmup_steps=args.warmup if args.warmup is not None else steps // 10, seed=args.seed,
        log_every=args.log_every, eval_every=args.eval_every, precision=args.precision, dropout=args.dropout, **extra,
    )


def cmd_pretrain(args: argparse.Namespace) -> int:
    from dnabert_core.recipes import pretrain_genome
    from viz.training_plots import plot_loss_curve

    set_threads(args.threads)
    if not Path(args.fasta).is_file():
        raise UsageError(f"genome FASTA not found: {args.fasta}")
    extra = []
    if args.text:
        reader = RecordReader(args.text, min_length=args.k, fmt=None)
        extra = [record.sequence for record in reader]
    exclude = []
    if args.exclude:
        exclude = [record.sequence for record in RecordReader(args.exclude, min_length=args.k, fmt=None)]
    output = Path(args.output)
    config = train_config(args, output, args.steps, save_every=args.save_every,
                          mask_probability=args.mask_probability)
    bar = tqdm(total=args.steps, desc="pretrain", unit="step", file=sys.stderr, disable=args.quiet, dynamic_ncols=True)

    def on_log(record: dict) -> None:
        bar.update(record["step"] - bar.n)
        if "loss" in record:
            bar.set_postfix(loss=f"{record['loss']:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")

    try:
        run = pretrain_genome(
            args.fasta, output, regions=args.region, holdout=args.holdout, k=args.k, size=args.size, config=config,
            max_tokens=args.max_tokens, init=args.init, extra_text=extra, exclude=exclude, resume=not args.no_resume, on_log=on_log, command="dnabert " + shlex.join(sys.argv[1:]),
        )
    finally:
        bar.close()
    if run.dist.main:
        plot_loss_curve(output / "metrics.jsonl", output / "loss_curve.png", title=f"pre-training {output.name}")
        print(f"wrote {output} after {run.step} steps", file=sys.stderr)
    return EXIT_OK


def read_labelled(paths: list[str] | None, k: int, fmt: str | None, label_column: str | None) -> list[SequenceRecord]:
    """All good records of some files (rejected ones listed on stderr)."""
    if not paths:
        return []
    return list(RecordReader(paths, min_length=k, fmt=fmt, label_column=label_column))


def cmd_finetune(args: argparse.Namespace) -> int:
    import numpy as np

    from dnabert_core.model import read_config, resolve_folder
    from dnabert_core.recipes import finetune_records
    from viz.training_plots import plot_curves, plot_loss_curve

    set_threads(args.threads)
    _, tokenizer = read_config(resolve_folder(args.model))
    train = read_labelled(args.train, tokenizer.k, args.format, args.label_column)
    dev = read_labelled(args.dev, tokenizer.k, args.format, args.label_column)
    test = read_labelled(args.test, tokenizer.k, args.format, args.label_column)
    if not train:
        print("error: no training record could be read", file=sys.stderr)
        return EXIT_NOTHING
    if not dev:  # hold a seeded random part of the training records out for early stopping
        order = np.random.default_rng(args.seed).permutation(len(train))
        n_dev = max(1, int(len(train) * args.dev_fraction))
        dev = [train[i] for i in order[:n_dev]]
        train = [train[i] for i in order[n_dev:]]
        print(f"no --dev given: held out {n_dev} random training records for early stopping", file=sys.stderr)
    steps = args.steps or max(1, args.epochs * len(train) // args.batch_size)
    output = Path(args.output)
    config = train_config(args, output, steps, save_every=args.eval_every)
    bar = tqdm(total=steps, desc="finetune", unit="step", file=sys.stderr, disable=args.quiet, dynamic_ncols=True)

    def on_log(record: dict) -> None:
        bar.update(record["step"] - bar.n)
        if "loss" in record:
            bar.set_postfix(loss=f"{record['loss']:.3f}")
        if "dev_mcc" in record:
            bar.write(f"step {record['step']}: dev MCC {record['dev_mcc']:.4f}, AUROC {record['dev_auroc']:.4f}")

    try:
        result = finetune_records(
            args.model, train, dev, test, output, config, class_names=args.class_names, patience=args.patience,
            on_log=on_log, command="dnabert " + shlex.join(sys.argv[1:]), data_note=args.data_note or "",
        )
    finally:
        bar.close()
    if result:
        plot_loss_curve(output / "metrics.jsonl", output / "loss_curve.png", title=f"fine-tuning {output.name}")
        if "curves" in result:
            plot_curves(result["curves"], output)
            test_metrics = result["test"]
            print(f"test: MCC {test_metrics['mcc']:.4f}, AUROC {test_metrics['auroc']:.4f} "
                  f"(k-mer baseline MCC {result['baseline']['mcc']:.4f})", file=sys.stderr)
        print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def finish(reader: RecordReader, output: str) -> int:
    """Summarise on stderr; exit 1 when no record could be processed."""
    if reader.n_read == 0:
        print(f"error: no record could be processed ({reader.n_rejected} rejected)", file=sys.stderr)
        return EXIT_NOTHING
    rejected = f", {reader.n_rejected} rejected (listed above)" if reader.n_rejected else ""
    print(f"wrote {output}: {reader.n_read} records{rejected}", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ parser
def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="model folder (or Hugging Face hub id owner/name)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, mps")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="sequences (windows) per forward pass")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_input_options(parser: argparse.ArgumentParser, inputs: bool = False) -> None:
    """--format, and with ``inputs`` the positional sequence files."""
    parser.add_argument(
        "--format", choices=INPUT_FORMATS, default=None, help="input format (default: detected from the content)"
    )
    if inputs:
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help="sequence files")


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """--window and --step for sequences longer than one model window."""
    parser.add_argument("--window", type=positive_int, default=None, help="window in bp (default: the model's longest)")
    parser.add_argument("--step", type=positive_int, default=None,
                        help="step between windows in bp (default: half a window)")


def add_training_options(parser: argparse.ArgumentParser, *, lr: float, eval_every: int) -> None:
    """Options shared by pretrain and finetune."""
    parser.add_argument("--batch-size", type=positive_int, default=32, help="global batch (sequences per step)")
    parser.add_argument("--grad-accum", type=positive_int, default=1, help="micro-batches per step (per process)")
    parser.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 10%% of the steps)")
    parser.add_argument("--eval-every", type=positive_int, default=eval_every, help="evaluate every N steps")
    parser.add_argument("--log-every", type=positive_int, default=10, help="log every N steps")
    parser.add_argument("--seed", type=int, default=42, help="random seed (data order, masks, initial weights)")
    parser.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                        help="auto: bfloat16 autocast on GPUs that support it")
    parser.add_argument("--dropout", type=float, default=None,
                        help="dropout probability for every dropout layer (default: the model's own, 0.1); 0 trains "
                        "about 2x faster on CPU and suits short runs that underfit")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnabert",
        description="DNABERT models and their interpretation (DNABERT-viz) from the command line.",
        formatter_class=Formatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log informational messages too")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "predict",
        help="class probabilities for every sequence",
        formatter_class=Formatter,
        description=(
            "Class probabilities for every sequence. Inputs: FASTA (plain, gzip, bgzip), CSV/TSV with a 'sequence' "
            "column, DNABERT's k-merized TSV, or one sequence per line. Sequences longer than the model window are "
            "scored in overlapping windows and aggregated.\n\n"
            "example: dnabert predict -m assets/models/promoter-300 promoters.fa -o predictions.tsv"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    p.add_argument("-o", "--output", required=True, help="output TSV (id, length, prob_<label>..., pred); - for stdout")
    add_window_options(p)
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean", help="how window probabilities combine")
    p.add_argument("--windows-output", default=None, help="also write per-window probabilities to this TSV")
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="opt-in faster, approximate inference")
    p.add_argument("--chunk-size", type=positive_int, default=1024, help="records held in memory at once")
    p.set_defaults(handler=cmd_predict)

    p = commands.add_parser(
        "attention",
        help="per-nucleotide attention landscapes (DNABERT-viz)",
        formatter_class=Formatter,
        description=(
            "Per-nucleotide attention landscapes (SPEC section 5): attention from [CLS] (or the mean over query rows) "
            "to each k-mer, summed or averaged over the chosen layers and heads, then each base gets the mean over "
            "the k-mers covering it. Only the attention rows needed are computed. Long sequences are scored in "
            "windows and each base averaged over the windows covering it. Layers and heads are 1-based.\n\n"
            "example: dnabert attention -m assets/models/promoter-300 promoters.fa -o landscapes.tsv "
            "--figure landscapes.html"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    p.add_argument("-o", "--output", required=True, help="output long TSV (id, position, base, score); - for stdout")
    p.add_argument("--layer", default=None, help="layer(s), 1-based: 4, or 3-4 (default: the last layer)")
    p.add_argument("--heads", default=None, help="heads, 1-based: 1,3-4 (default: every head)")
    p.add_argument("--reduce", choices=["sum", "mean"], default="sum", help="how chosen layers and heads combine")
    p.add_argument("--query", choices=["cls", "mean"], default="cls", help="[CLS] row, or the mean over query rows")
    p.add_argument("--norm", action="store_true", help="L2-normalise each landscape")
    add_window_options(p)
    p.add_argument("--figure", default=None, help="also draw a landscape heatmap (.html, .png or .svg)")
    p.add_argument("--figure-max", type=positive_int, default=500, help="sequences drawn in --figure")
    p.add_argument("--figure-sort", choices=["input", "peak", "total"], default="input", help="row order of --figure")
    p.set_defaults(handler=cmd_attention)

    p = commands.add_parser(
        "attribute",
        help="integrated-gradients attribution per nucleotide",
        formatter_class=Formatter,
        description=(
            "Integrated gradients (captum) of the probability of a class, per nucleotide: attributions on the k-mer "
            "embeddings against a baseline of [PAD] (zero) embeddings, each base the mean over its covering k-mers. "
            "The largest convergence delta is reported on stderr.\n\n"
            "example: dnabert attribute -m assets/models/promoter-300 promoters.fa -o attributions.tsv "
            "--target promoter"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    p.set_defaults(batch_size=8)
    p.add_argument("-o", "--output", required=True, help="output long TSV (id, position, base, score); - for stdout")
    p.add_argument("--target", default=None, help="class name or index to explain (default: the last class)")
    p.add_argument("--ig-steps", type=positive_int, default=50, help="integration steps")
    add_window_options(p)
    p.set_defaults(handler=cmd_attribute)

    p = commands.add_parser(
        "pretrain",
        help="masked-LM pre-training on genome text (contiguous k-span masking)",
        formatter_class=Formatter,
        description=(
            "Pre-train a DNABERT-style masked-LM on genome text: non-overlapping pieces of 509+k bp (half cut shorter), "
            "contiguous k-span masking, AdamW with linear warm-up and decay. Resumes from OUTPUT/checkpoint when one "
            "exists. Runs unchanged under torchrun for several processes or GPUs.\n\n"
            "example: dnabert pretrain --fasta hg19.fa.gz --region chr22:16050001-21000000 "
            "--holdout chr22:21000001-22000000 -o runs/mini-6 --steps 20000\n"
            "several GPUs: torchrun --nproc_per_node=4 -m viz.cli pretrain ..."
        ),
    )
    p.add_argument("--fasta", required=True, help="genome FASTA (plain, bgzip or gzip)")
    p.add_argument("--region", action="append", default=None,
                   help="training region chr:start-end (repeatable; default: every chromosome)")
    p.add_argument("--holdout", default=None, help="held-out region chr:start-end, never trained on, for evaluation")
    p.add_argument("--text", nargs="*", default=None, help="extra training sequence files (any input format)")
    p.add_argument("--exclude", nargs="*", default=None,
                   help="sequence files whose occurrences in the genome text (either strand) are masked to N "
                   "(held-out task data)")
    p.add_argument("-o", "--output", required=True, help="output model folder (checkpoints and logs inside)")
    p.add_argument("--k", type=int, choices=[3, 4, 5, 6], default=6, help="k-mer size")
    p.add_argument("--size", choices=sorted(SIZES), default="mini",
                   help="model size: " + ", ".join(f"{name} {v[0]}x{v[1]}" for name, v in sorted(SIZES.items())))
    p.add_argument("--steps", type=positive_int, default=10000, help="optimiser steps")
    p.add_argument("--max-tokens", type=int, choices=range(16, 513), metavar="16..512", default=512,
                   help="piece length in tokens (BERT trains most steps at 128, the rest at 512)")
    p.add_argument("--init", default=None,
                   help="start from this masked-LM folder's weights (e.g. a 128-token phase) instead of a new model")
    add_training_options(p, lr=4e-4, eval_every=500)
    p.add_argument("--mask-probability", type=float, default=0.025, help="probability of a span centre")
    p.add_argument("--save-every", type=positive_int, default=200, help="checkpoint every N steps")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    p.set_defaults(handler=cmd_pretrain)

    p = commands.add_parser(
        "finetune",
        help="fine-tune a classifier (binary or multi-class) with dev early stopping",
        formatter_class=Formatter,
        description=(
            "Fine-tune a model (a pre-trained masked-LM folder gets a new classification head) on labelled sequences "
            "in any input format with labels (CSV/TSV 'label' column or --label-column, DNABERT's k-merized TSV). "
            "Early stopping on dev MCC; the test set is evaluated once at the end, beside a k-mer logistic-regression "
            "baseline on the same split. Writes a model folder with metrics.json, ROC/PR curves and a model card.\n\n"
            "example: dnabert finetune -m assets/models/dnabert-mini-6 --train train.csv --dev dev.csv "
            "--test test.csv -o models/my-task"
        ),
    )
    p.add_argument("-m", "--model", required=True, help="starting model folder (or hub id)")
    p.add_argument("--train", nargs="+", required=True, help="training files")
    p.add_argument("--dev", nargs="*", default=None, help="dev files (default: --dev-fraction of the training set)")
    p.add_argument("--test", nargs="*", default=None, help="test files, evaluated once after training")
    p.add_argument("-o", "--output", required=True, help="output model folder")
    add_input_options(p)
    p.add_argument("--label-column", default=None, help="label column of CSV/TSV inputs (default: 'label')")
    p.add_argument("--class-names", type=lambda text: text.split(","), default=None,
                   help="comma-separated names for the sorted label values, e.g. non_promoter,promoter")
    p.add_argument("--data-note", default=None, help="text for the card's Data section (source, licence, split)")
    p.add_argument("--dev-fraction", type=float, default=0.1, help="dev share of the training set without --dev")
    p.add_argument("--epochs", type=positive_int, default=3, help="passes over the training set (unless --steps)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimiser steps (overrides --epochs)")
    add_training_options(p, lr=5e-5, eval_every=200)
    p.add_argument("--patience", type=positive_int, default=5, help="stop after N evaluations without dev improvement")
    p.set_defaults(handler=cmd_finetune)

    p = commands.add_parser(
        "convert",
        help="turn a public-format model folder (pytorch_model.bin) into safetensors",
        formatter_class=Formatter,
        description=(
            "Convert a DNABERT model folder with pytorch_model.bin (read with weights_only=True: tensors only) into a "
            "folder with model.safetensors, same architecture and weights.\n\n"
            "example: dnabert convert DNA_bert_6/ -o models/dnabert-6"
        ),
    )
    p.add_argument("source", help="model folder (or hub id) to convert")
    p.add_argument("-o", "--output", required=True, help="new model folder to write")
    p.set_defaults(handler=cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    try:
        return args.handler(args)
    except UsageError as error:
        parser.error(str(error))  # exits 2 with the usage line
    except DnabertError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOTHING
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
