"""``dnabert motifs``: motif discovery from attention landscapes or attributions (SPEC section 6), named against JASPAR,
written as the files of SPEC section 8."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from dnabert_core.errors import InputError, OptionError
from viz.cli.common import (
    EXIT_NOTHING,
    EXIT_OK,
    Formatter,
    RecordReader,
    add_input_options,
    add_model_options,
    load,
    positive_int,
    say,
)
from viz.cli.interpret import parse_numbers
from viz.motif_search import CONTROL_SEED, SCORES, MotifSettings, find_motifs, write_report
from viz.motifs import MotifParams

DEFAULTS = MotifParams()


def probability(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "motifs",
        help="motif discovery from attention or attributions, named against JASPAR",
        formatter_class=Formatter,
        description=(
            "Motif discovery as in DNABERT-viz (SPEC section 6). Each positive is scored per base (its attention "
            "landscape, or integrated gradients with --score ig); runs of at least --min-len high-score bases "
            "(score > mean and score > 10 x min, or score > --threshold) are candidates; a candidate (or its reverse "
            "complement) found in more positives than chance is enriched (hypergeometric test, Benjamini-Hochberg, "
            "adjusted p < --alpha); similar candidates merge, shortest first; instances are re-centred to --window "
            "bp and motifs with at least --min-instances are kept and compared with JASPAR CORE vertebrates "
            "(Tomtom, memelite; the first call compiles it, about 40 s). Without --negatives, dinucleotide-shuffled "
            f"controls of the positives are the negatives (--controls per positive, seed {CONTROL_SEED} unless "
            "--seed).\n\n"
            "writes: DIR/motifs.tsv (motif, consensus, instances, x, n, p, p_adj, members, match_*), "
            "DIR/instances.tsv (motif, id, start, end 0-based half-open, strand, sequence), DIR/motifs.meme (MEME "
            "minimal format), DIR/logos/<motif>.png/.svg and <motif>_vs_<JASPAR id>.png/.svg\n\n"
            "example: dnabert motifs -m assets/models/tfbs-ctcf --positives peaks.fa --negatives background.fa "
            "-o ctcf_motifs"
        ),
    )
    add_model_options(p)
    add_input_options(p)
    p.add_argument("--positives", nargs="+", required=True, metavar="FILE", help="sequences to find motifs in")
    p.add_argument("--negatives", nargs="+", default=None, metavar="FILE",
                   help="background sequences (default: dinucleotide-shuffled controls of the positives)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--score", choices=SCORES, default="attention",
                   help="per-base score: attention landscape or integrated gradients")
    p.add_argument("--layer", default=None, help="attention layer(s), 1-based (default: the last layer)")
    p.add_argument("--heads", default=None, help="attention heads, 1-based: 1,3-4 (default: every head)")
    p.add_argument("--target", default=None,
                   help="class explained by --score ig (default: the positive class of a two-class model)")
    p.add_argument("--ig-steps", type=positive_int, default=50, help="integration steps of --score ig")
    p.add_argument("--min-len", type=positive_int, default=DEFAULTS.min_len, help="shortest high-score run")
    p.add_argument("--window", dest="motif_window", type=positive_int, default=DEFAULTS.window, help="bp each instance is re-centred to")
    p.add_argument("--min-instances", type=positive_int, default=DEFAULTS.min_instances,
                   help="fewest instances a motif keeps")
    p.add_argument("--alpha", type=probability, default=DEFAULTS.alpha, help="adjusted p-value cut-off")
    p.add_argument("--min-ratio", type=float, default=DEFAULTS.min_ratio,
                   help="a high position's score exceeds this multiple of the sequence's smallest score")
    p.add_argument("--threshold", type=float, default=None,
                   help="custom condition: a high position's score exceeds this value (replaces the two defaults)")
    p.add_argument("--controls", type=positive_int, default=1, help="shuffled controls per positive")
    p.add_argument("--seed", type=int, default=CONTROL_SEED, help="seed of the shuffled controls")
    p.add_argument("--top-matches", type=int, default=5, help="JASPAR matches kept per motif (0: no naming)")
    p.set_defaults(handler=run)


def read_all(paths: list[str], what: str, k: int, args: argparse.Namespace) -> list:
    """Every good record of ``paths``; rejected ones are listed on stderr. Nothing readable is an InputError."""
    reader = RecordReader(paths, min_length=k, fmt=args.format, quiet=args.quiet, description=what)
    records = list(reader)
    if not records:
        raise InputError(f"no {what} sequence could be read from {', '.join(paths)} ({reader.n_rejected} rejected)")
    return records


def settings_from(args: argparse.Namespace, n_layers: int, n_heads: int) -> MotifSettings:
    layers = parse_numbers(args.layer, "--layer", n_layers)
    heads = parse_numbers(args.heads, "--heads", n_heads)
    if args.top_matches < 0:
        raise OptionError(f"--top-matches must be 0 or more, got {args.top_matches}")
    params = MotifParams(min_len=args.min_len, window=args.motif_window, min_instances=args.min_instances, alpha=args.alpha,
                         min_ratio=args.min_ratio, threshold=args.threshold)
    return MotifSettings(score=args.score, params=params, layers=tuple(layers) if layers else None,
                         heads=tuple(heads) if heads else None, target=args.target, ig_steps=args.ig_steps,
                         controls=args.controls, seed=args.seed, top=args.top_matches)


def run(args: argparse.Namespace) -> int:
    if Path(args.output).is_file():
        raise OptionError(f"output {args.output} is a file; give a folder name")
    loaded = load(args, classifier=args.score == "ig")
    config = loaded.model.config
    settings = settings_from(args, config.num_hidden_layers, config.num_attention_heads)
    positives = read_all(args.positives, "positive", loaded.k, args)
    negatives = read_all(args.negatives, "negative", loaded.k, args) if args.negatives else None
    with tqdm(total=len(positives), desc=f"scoring ({args.score})", unit="seq", disable=args.quiet,
              dynamic_ncols=True) as bar:
        report = find_motifs(loaded, positives, negatives, settings,
                             progress=lambda done, _total: bar.update(done - bar.n),
                             stage=lambda text: tqdm.write(text, file=sys.stderr) if not args.quiet else None)
    written = write_report(report, args.output)
    result = report.result
    say(f"{len(result.motifs)} motifs from {result.n_significant} enriched of {result.n_candidates} candidates; "
        f"negatives: {report.negatives_note}" + (f"; named against {report.release}" if report.release else ""))
    if result.note:
        say(f"note: {result.note}")
    say(f"wrote {len(written)} files to {args.output}")
    return EXIT_OK if written else EXIT_NOTHING
