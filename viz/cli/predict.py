"""``dnabert predict``: class probabilities per record, long records in windows, per-window probabilities too."""
from __future__ import annotations

import argparse
from contextlib import ExitStack

from dnabert_core.predict import (
    AGGREGATES,
    PRECISIONS,
    aggregate_target,
    informative_rows,
    predict,
    unscored_spans,
    with_precision,
)
from dnabert_core.sharding import sharded
from viz.cli.common import (
    EXIT_OK,
    Formatter,
    RecordReader,
    add_input_options,
    add_model_options,
    add_output_option,
    add_window_options,
    finish,
    fmt_float,
    load,
    note_unscored,
    positive_int,
    rank_output,
    ranks,
    tsv_writer,
)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "predict",
        help="class probabilities for every sequence",
        formatter_class=Formatter,
        description=(
            "Class probabilities for every sequence. Inputs: FASTA (plain, gzip, bgzip), CSV/TSV with a 'sequence' "
            "column, DNABERT's k-merized TSV, ENCODE 690 .data files, or one sequence per line. Sequences longer than "
            "the window (default: the length the model was fine-tuned on) are scored in overlapping windows and "
            "aggregated. Windows in which more than half of the k-mers hold N (or another ambiguous base) are not "
            "scored (NA); a record with no other window is rejected. Window coordinates in --windows-output are "
            "1-based and inclusive, like the positions of `dnabert attention`.\n\n"
            "example: dnabert predict -m assets/models/promoter-300 promoters.fa -o predictions.tsv"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    add_output_option(p, "id, length, prob_<label>..., pred")
    add_window_options(p)
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean",
                   help="how window probabilities combine: mean, or the window most likely to be --target")
    p.add_argument("--target", default=None,
                   help="class (name or 0-based index) whose best window --aggregate max picks (default: the "
                   "positive class of a binary model; required with more classes)")
    p.add_argument("--windows-output", default=None, help="also write per-window probabilities to this TSV")
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="opt-in faster, approximate inference")
    p.add_argument("--chunk-size", type=positive_int, default=1024, help="records held in memory at once")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    where = ranks(args)
    reader = RecordReader(args.inputs, min_length=1, fmt=args.format, quiet=args.quiet, description="predict",
                          silent=not where.main)
    loaded = load(args, classifier=True, where=where)
    target = aggregate_target(loaded, args.aggregate, loaded.class_index(args.target))
    loaded = with_precision(loaded, args.precision)
    reader.min_length = loaded.k
    size = loaded.window_size(args.window)
    columns = [f"prob_{label}" for label in loaded.labels]
    processed = lambda: reader.n_read > 0  # noqa: E731
    with ExitStack() as stack:
        writer = tsv_writer(stack.enter_context(rank_output(args.output, where, keep=processed)))
        writer.writerow(["id", "length", *columns, "pred"])
        window_writer = None
        if args.windows_output:
            window_writer = tsv_writer(stack.enter_context(rank_output(args.windows_output, where, keep=processed)))
            window_writer.writerow(["id", "window", "start", "end", *columns])
        def work(records: list) -> list:
            return list(predict(loaded, records, aggregate=args.aggregate, target=target, window=args.window,
                                step=args.step, batch_size=args.batch_size, chunk_size=args.chunk_size))

        for _record, prediction in sharded(reader, work, where, block=args.chunk_size):
            record_id, length = prediction.record_id, prediction.length
            informative = informative_rows(prediction.window_probs)
            if not note_unscored(reader, record_id, length,
                                 unscored_spans(prediction.window_starts, informative, size, length)):
                continue
            best = loaded.labels[int(prediction.probs.argmax())]
            writer.writerow([record_id, length, *map(fmt_float, prediction.probs), best])
            if window_writer:
                for index, (start, probs) in enumerate(zip(prediction.window_starts, prediction.window_probs)):
                    end = min(int(start) + size, length)
                    window_writer.writerow([record_id, index + 1, int(start) + 1, end, *map(fmt_float, probs)])
    return finish(reader, args.output, loaded, args.window) if where.main else EXIT_OK
