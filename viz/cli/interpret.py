"""``dnabert attention`` and ``dnabert attribute``: per-nucleotide tracks as the long TSV of SPEC section 8."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dnabert_core.errors import OptionError
from dnabert_core.predict import false_runs
from dnabert_core.records import Landscape
from viz.cli.common import (
    Formatter,
    RecordReader,
    add_input_options,
    add_model_options,
    add_output_option,
    add_window_options,
    atomic_output,
    finish,
    fmt_float,
    load,
    note_unscored,
    positive_int,
    say,
    tsv_writer,
)

FIGURE_SUFFIXES = (".html", ".png", ".svg")
TRACK_COLUMNS = "id, position (1-based), base, score (NA where not scored)"


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "attention",
        help="per-nucleotide attention landscapes (DNABERT-viz)",
        formatter_class=Formatter,
        description=(
            "Per-nucleotide attention landscapes (SPEC section 5): attention from [CLS] (or the mean over query rows) "
            "to each k-mer, summed or averaged over the chosen layers and heads, then each base gets the mean over "
            "the k-mers covering it. Only the attention rows needed are computed. Long sequences are scored in "
            "windows and each base averaged over the windows covering it; windows mostly N are NA. Layers and heads "
            "are 1-based, positions 1-based.\n\n"
            "example: dnabert attention -m assets/models/promoter-300 promoters.fa -o landscapes.tsv "
            "--figure landscapes.html"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    add_output_option(p, TRACK_COLUMNS)
    p.add_argument("--layer", default=None, help="layer(s), 1-based: 4, or 3-4 (default: the last layer)")
    p.add_argument("--heads", default=None, help="heads, 1-based: 1,3-4 (default: every head)")
    p.add_argument("--reduce", choices=["sum", "mean"], default="sum", help="how chosen layers and heads combine")
    p.add_argument("--query", choices=["cls", "mean"], default="cls", help="[CLS] row, or the mean over query rows")
    p.add_argument("--norm", action="store_true", help="L2-normalise each landscape")
    add_window_options(p)
    p.add_argument("--figure", default=None, help="also draw a landscape heatmap (.html, .png or .svg)")
    p.add_argument("--figure-max", type=positive_int, default=500, help="sequences drawn in --figure")
    p.add_argument("--figure-sort", choices=["input", "peak", "total"], default="input", help="row order of --figure")
    p.set_defaults(handler=run_attention)

    p = commands.add_parser(
        "attribute",
        help="integrated-gradients attribution per nucleotide",
        formatter_class=Formatter,
        description=(
            "Integrated gradients (captum) of the probability of a class, per nucleotide: attributions on the k-mer "
            "embeddings against a baseline of [PAD] (zero) embeddings, each base the mean over its covering k-mers. "
            "Without --target each record's predicted class is explained (so a multi-class model never explains "
            "'neither' by default). The largest convergence delta is reported on stderr.\n\n"
            "example: dnabert attribute -m assets/models/promoter-300 promoters.fa -o attributions.tsv "
            "--target promoter"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    p.set_defaults(batch_size=8)
    add_output_option(p, TRACK_COLUMNS)
    p.add_argument("--target", default=None,
                   help="class name or 0-based index to explain (default: each record's predicted class)")
    p.add_argument("--ig-steps", type=positive_int, default=50, help="integration steps")
    add_window_options(p)
    p.set_defaults(handler=run_attribute)


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
            raise OptionError(f"{option} {text!r}: give 1-based numbers or ranges, e.g. 4 or 1,3-4") from None
        if low < 1 or high < low:
            raise OptionError(f"{option} {text!r}: numbers start at 1 and ranges go up (3-4, not 4-3)")
        if high > available:
            raise OptionError(f"{option} {text!r}: this model has {available} ({option.lstrip('-')} 1-{available})")
        numbers.update(range(low - 1, high))
    return sorted(numbers)


def write_tracks(reader: RecordReader, tracks: Iterator[Landscape], output: str) -> Iterator[Landscape]:
    """Write per-base tracks (SPEC section 8 long TSV); records with nothing scored are rejected, NA stretches noted.
    Yields the tracks written (for a figure drawn afterwards)."""
    with atomic_output(output, keep=lambda: reader.n_read > 0) as out:
        writer = tsv_writer(out)
        writer.writerow(["id", "position", "base", "score"])
        for track in tracks:
            length = len(track.sequence)
            if not note_unscored(reader, track.record_id, length, false_runs(np.isfinite(track.scores))):
                continue
            writer.writerows(zip([track.record_id] * length, range(1, length + 1), track.sequence,
                                 map(fmt_float, track.scores)))
            yield track


def run_attention(args: argparse.Namespace) -> int:
    from viz.landscape import attention_landscapes

    if args.figure and Path(args.figure).suffix.lower() not in FIGURE_SUFFIXES:
        raise OptionError(f"--figure {args.figure}: the name must end in {', '.join(FIGURE_SUFFIXES)}")
    reader = RecordReader(args.inputs, min_length=1, fmt=args.format, quiet=args.quiet, description="attention")
    loaded = load(args)
    reader.min_length = loaded.k
    config = loaded.model.config
    layers = parse_numbers(args.layer, "--layer", config.num_hidden_layers)
    heads = parse_numbers(args.heads, "--heads", config.num_attention_heads)
    tracks = attention_landscapes(loaded, reader, layers=layers, heads=heads, reduce=args.reduce, query=args.query,
                                  normalise=args.norm, window=args.window, step=args.step, batch_size=args.batch_size)
    kept = []
    for track in write_tracks(reader, tracks, args.output):
        if args.figure and len(kept) < args.figure_max:
            kept.append(track)
    code = finish(reader, args.output, loaded, args.window)
    if kept:
        from viz.figures import landscape_heatmap, save_figure

        save_figure(landscape_heatmap(kept, sort=args.figure_sort), args.figure)
        say(f"wrote {args.figure} ({len(kept)} landscapes)")
    return code


def run_attribute(args: argparse.Namespace) -> int:
    from viz.attribution import integrated_gradients

    reader = RecordReader(args.inputs, min_length=1, fmt=args.format, quiet=args.quiet, description="attribute")
    loaded = load(args, classifier=True)
    target = loaded.class_index(args.target)  # a wrong class is an error before any work
    reader.min_length = loaded.k
    tracks = integrated_gradients(loaded, reader, target=target, n_steps=args.ig_steps, window=args.window,
                                  step=args.step, batch_size=args.batch_size)
    deltas = [track.delta for track in write_tracks(reader, tracks, args.output) if track.delta is not None]
    code = finish(reader, args.output, loaded, args.window)
    if deltas:
        say(f"integrated gradients: largest convergence delta {max(deltas):.3g} (probability units; raise "
            f"--ig-steps if it is not small against the attributions)")
    return code
