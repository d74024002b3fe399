"""``dnabert variants``, ``dnabert ism`` and ``dnabert scan``: ref/alt effects (SPEC section 7), in-silico saturation
mutagenesis and region scans, as SPEC section 8 says."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from dnabert_core.errors import InputError, OptionError
from dnabert_core.sharding import sharded
from dnabert_core.train import Dist
from viz.cli.common import (
    EXIT_NOTHING,
    EXIT_OK,
    Formatter,
    RecordReader,
    add_input_options,
    add_model_options,
    add_output_option,
    add_target_option,
    atomic_output,
    fmt_float,
    load,
    positive_int,
    rank_output,
    ranks,
    say,
    tsv_writer,
)

VARIANT_COLUMNS = "variant columns, kind, p_ref, p_alt, delta_p, score_change, log2_or, p_clipped, attention, " \
                  "attention_rank, ref_check"


def register(commands: argparse._SubParsersAction) -> None:
    _register_variants(commands)
    _register_ism(commands)
    _register_scan(commands)


def _register_variants(commands: argparse._SubParsersAction) -> None:
    from viz.variant_effects import SORTS

    p = commands.add_parser(
        "variants", help="ref/alt effects of variants (VCF + reference, or sequences + mutation file)",
        formatter_class=Formatter,
        description=(
            "Ref/alt effects (SPEC section 7). With --vcf (a VCF, plain or gzip, or a ClinVar TSV) and --fasta, each "
            "variant is scored in a window of --flank reference bases on each side (default: half the model's "
            "window), REF checked against the reference (a mismatch is a row with ref_check 'mismatch', never "
            "scored); multi-allelic records give one row per ALT; symbolic alleles, unknown contigs and windows "
            "running off a contig are listed on stderr with their line. With --sequences and --mutations, the "
            "original's mutation file (index start end allele, 0-based half-open, no header; index = the 0-based "
            "row of the sequence file) edits whole sequences. p_ref/p_alt are of --target (default: the positive "
            "class of a two-class model); score_change = (p_alt - p_ref) * max(p_ref, p_alt) and log2_or = "
            "log2 odds(ref) - log2 odds(alt), from p clipped to [1e-6, 1 - 1e-6]; attention is the ref window's "
            "last-layer landscape at the variant and attention_rank its rank in the window (1 = top).\n\n"
            "example: dnabert variants -m assets/models/promoter-300 --vcf calls.vcf.gz --fasta hg19.fa -o effects.tsv"
        ),
    )
    add_model_options(p)
    add_input_options(p)
    p.add_argument("--vcf", default=None, help="VCF (plain, gzip or bgzip) or ClinVar TSV")
    p.add_argument("--fasta", default=None, help="reference FASTA (plain, gzip or bgzip) for --vcf")
    p.add_argument("--sequences", default=None, help="sequence file that --mutations edits")
    p.add_argument("--mutations", default=None, help="the original's mutation file: index start end allele")
    add_output_option(p, VARIANT_COLUMNS)
    p.add_argument("--flank", type=int, default=None, help="reference bases each side of the variant (--vcf)")
    add_target_option(p)
    p.add_argument("--sort", choices=SORTS, default="input",
                   help="row order: input, effect (largest |delta_p| first), delta_p (most negative first), log2_or")
    p.add_argument("--min-abs-delta", type=float, default=0.0, help="keep rows with |delta_p| at least this")
    p.add_argument("--ig", action="store_true",
                   help="also the ref's integrated-gradients attribution at the variant and its rank by magnitude")
    p.add_argument("--ig-steps", type=positive_int, default=50, help="integration steps of --ig")
    p.set_defaults(handler=run_variants)


def _register_ism(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "ism", help="in-silico saturation mutagenesis", formatter_class=Formatter,
        description=(
            "Every base changed to each of the other three, scored (batched): delta = p_alt - p_ref of --target "
            "(default: the positive class of a two-class model). Sequences longer than the model's window are "
            "refused (give a slice). --ig adds, per record on stderr, the Pearson correlation of the ISM importance "
            "(p_ref minus the mean p over a base's alternatives) with the integrated-gradients track.\n\n"
            "example: dnabert ism -m assets/models/promoter-300 promoter.fa -o ism.tsv"
        ),
    )
    add_model_options(p)
    add_input_options(p, inputs=True)
    add_output_option(p, "id, position (1-based), ref, alt, p_alt, delta")
    add_target_option(p)
    p.add_argument("--ig", action="store_true", help="report each record's ISM/IG correlation on stderr")
    p.set_defaults(handler=run_ism)


def _register_scan(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "scan", help="sliding-window scan of a genome region -> bedGraph (and peaks)", formatter_class=Formatter,
        description=(
            "Windows of --window bp every --step bp over --region of an indexed FASTA (first window at the region "
            "start, last one ending at its end: no base skipped), each scored for --target. The bedGraph holds, "
            "per base, the mean probability of the windows covering it, in runs (0-based, half-open, never "
            "overlapping); windows mostly N are left out. --peaks writes BED6 of windows above --threshold merged "
            "when at most --merge-gap bp apart.\n\n"
            "example: dnabert scan -m assets/models/promoter-300 --fasta hg19.fa --region chr22:19,000,000-19,100,000 "
            "-o scan.bedgraph --peaks peaks.bed"
        ),
    )
    add_model_options(p)
    p.add_argument("--fasta", required=True, help="reference FASTA (plain, gzip or bgzip)")
    p.add_argument("--region", required=True, help="chrom:start-end, 1-based inclusive (commas allowed)")
    p.add_argument("-o", "--output", required=True, help="output bedGraph")
    p.add_argument("--window", type=positive_int, default=None, help="window in bp (default: the model's)")
    p.add_argument("--step", type=positive_int, default=None, help="step in bp (default: half a window)")
    add_target_option(p)
    p.add_argument("--peaks", default=None, help="also write peaks as BED")
    p.add_argument("--threshold", type=float, default=0.5, help="peak threshold on the window probability")
    p.add_argument("--merge-gap", type=int, default=0, help="merge peaks at most this many bp apart")
    p.add_argument("--figure", default=None, help="also draw the track (.html, .png or .svg)")
    p.set_defaults(handler=run_scan)


def bar(args: argparse.Namespace, total: int, unit: str, desc: str, where: Dist) -> tqdm:
    """A progress bar on stderr, on rank 0 only (it counts the whole job)."""
    return tqdm(total=total, unit=unit, desc=desc, disable=args.quiet or not where.main, file=sys.stderr,
                dynamic_ncols=True)


# ------------------------------------------------------------------------------------------------------------ variants
def variant_pairs(args: argparse.Namespace, loaded, where: Dist) -> tuple[list, list[InputError]]:
    """The allele pairs of the run's inputs and the errors met reading them (listed by the caller)."""
    from viz.variant_effects import pairs_from_mutations, pairs_from_windows

    if bool(args.vcf) == bool(args.sequences) or bool(args.vcf) != bool(args.fasta) or \
            bool(args.sequences) != bool(args.mutations):
        raise OptionError("give either --vcf with --fasta, or --sequences with --mutations")
    if args.vcf:
        from dnabert_core.io import Genome
        from viz.vcf import variant_windows

        flank = args.flank if args.flank is not None else (loaded.window_size() - 1) // 2
        if flank < 0:
            raise OptionError(f"--flank must be 0 or more, got {flank}")
        for path in (args.vcf, args.fasta):
            if not Path(path).is_file():
                raise OptionError(f"file not found: {path}")
        parsed = variant_windows(args.vcf, Genome(args.fasta), flank)
        return list(pairs_from_windows(parsed.windows)), list(parsed.errors)
    from viz.variants import read_mutations

    reader = RecordReader([args.sequences], min_length=loaded.k, fmt=args.format, quiet=True,
                          silent=not where.main)
    records = list(reader)
    if reader.n_rejected:
        raise InputError(f"{reader.n_rejected} record(s) of {args.sequences} were rejected (listed above): the "
                         "mutation file's index counts rows of the sequence file, so it would point at the wrong "
                         "sequences; fix or remove those records first")
    if not Path(args.mutations).is_file():
        raise OptionError(f"file not found: {args.mutations}")
    variants, errors = read_mutations(args.mutations, records)
    return list(pairs_from_mutations({r.id: r for r in records}, variants)), errors


def run_variants(args: argparse.Namespace) -> int:
    import pandas as pd

    from viz.variant_effects import CLIP_NOTE, effects_table, score_pairs, sort_effects
    from viz.vcf import RefMismatch

    where = ranks(args)
    loaded = load(args, classifier=True, where=where)
    target = loaded.target_class(args.target)
    pairs, errors = variant_pairs(args, loaded, where)
    mismatches = [e for e in errors if isinstance(e, RefMismatch)]
    for error in errors if where.main else ():
        tqdm.write(f"{'REF mismatch' if isinstance(error, RefMismatch) else 'rejected'}: {error.message}",
                   file=sys.stderr)
    if not pairs and not mismatches:
        if where.main:
            say("error: no variant could be scored")
        return EXIT_NOTHING
    effects = []
    with bar(args, len(pairs), "variant", "variants", where) as progress:
        work = lambda block: list(score_pairs(loaded, block, batch_size=args.batch_size))  # noqa: E731
        for _pair, effect in sharded(pairs, work, where, block=256):
            effects.append(effect)
            progress.update()
    if not where.main:
        return EXIT_OK
    table = effects_table(effects, loaded.labels, target, sort="input")
    if args.ig:
        from viz.variant_effects import with_attributions

        extra = pd.DataFrame(with_attributions(loaded, effects, target, n_steps=args.ig_steps))
        table = pd.concat([table.drop(columns="ref_check"), extra, table[["ref_check"]]], axis=1)
    table = sort_effects(table, args.sort, args.min_abs_delta)
    rows = table.to_dict("records") + [mismatch_row(e) for e in mismatches]
    columns = list(table.columns) if len(table.columns) else list(mismatch_row(mismatches[0]))
    with atomic_output(args.output) as out:
        writer = tsv_writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(c)) for c in columns])
    say(f"wrote {args.output}: {len(table)} variants scored toward '{loaded.labels[target]}'"
        + (f", {len(mismatches)} REF mismatches (not scored)" if mismatches else "")
        + (f", {len(errors) - len(mismatches)} rejected (listed above)" if len(errors) > len(mismatches) else ""))
    say(f"note: {CLIP_NOTE}")
    return EXIT_OK


def mismatch_row(error) -> dict[str, object]:
    """The row of a variant whose REF does not match the reference: its columns, ref_check 'mismatch', no scores."""
    v = error.variant
    return {"chrom": v.chrom, "pos": v.pos, "id": v.id or ".", "ref": v.ref, "alt": v.alt, **dict(v.annotations),
            "ref_check": f"mismatch (reference has {error.reference})"}


def cell(value: object) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        return fmt_float(value)
    return str(value)


# ------------------------------------------------------------------------------------------------------------- ism
def run_ism(args: argparse.Namespace) -> int:
    from viz.ism import TABLE_COLUMNS, check_fits, ism_ig_correlation, ism_table, saturation_mutagenesis, variant_cells

    where = ranks(args)
    reader = RecordReader(args.inputs, min_length=1, fmt=args.format, quiet=True, description="ism",
                          silent=not where.main)
    loaded = load(args, classifier=True, where=where)
    target = loaded.target_class(args.target)
    reader.min_length = loaded.k
    records = []
    for record in reader:
        try:
            check_fits(loaded, record)
            records.append(record)
        except InputError as error:
            reader.reject(error.message)
    if not records:
        if where.main:
            say(f"error: no record could be processed ({reader.n_rejected} rejected)")
        return EXIT_NOTHING

    def work(block: list) -> list:
        results = [saturation_mutagenesis(loaded, r, target=target, batch_size=args.batch_size) for r in block]
        if not args.ig:
            return [(result, None) for result in results]
        from viz.attribution import integrated_gradients

        tracks = integrated_gradients(loaded, block, target=target)
        return [(result, ism_ig_correlation(result, track)) for result, track in zip(results, tracks)]

    n_variants = sum(len(variant_cells(r.sequence)[0]) for r in records)
    with rank_output(args.output, where) as out, bar(args, n_variants, "variant", "ism", where) as progress:
        writer = tsv_writer(out)
        writer.writerow(TABLE_COLUMNS)
        for record, (result, r) in sharded(records, work, where, block=1):
            for row in ism_table([result]).itertuples(index=False):
                writer.writerow([cell(v) for v in row])
            progress.update(len(variant_cells(record.sequence)[0]))
            if r is not None:
                tqdm.write(f"{record.id}: ISM importance vs integrated gradients, Pearson r = {r:.3f}",
                           file=sys.stderr)
    if where.main:
        rejected = f", {reader.n_rejected} rejected (listed above)" if reader.n_rejected else ""
        say(f"wrote {args.output}: {len(records)} records toward '{loaded.labels[target]}'{rejected}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ scan
def run_scan(args: argparse.Namespace) -> int:
    from dnabert_core.io import Genome
    from viz.scan import bed_lines, call_peaks, scan_region, write_bedgraph

    if not Path(args.fasta).is_file():
        raise OptionError(f"file not found: {args.fasta}")
    if not 0 <= args.threshold <= 1:
        raise OptionError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    if args.merge_gap < 0:
        raise OptionError(f"--merge-gap must be 0 or more, got {args.merge_gap}")
    where = ranks(args)
    loaded = load(args, classifier=True, where=where)
    loaded.target_class(args.target)
    with Genome(args.fasta) as genome, bar(args, 0, "window", "scan", where) as progress:
        def update(done: int, total: int) -> None:
            progress.total = total
            progress.update(done - progress.n)

        result = scan_region(loaded, genome, args.region, target=args.target, window=args.window, step=args.step,
                             batch_size=args.batch_size, progress=update, where=where)
    if not where.main:
        return EXIT_OK
    write_bedgraph(result, args.output)
    n_scored = int(result.scored.sum())
    say(f"wrote {args.output}: {n_scored} of {len(result.probs)} windows scored toward '{result.target}'")
    peaks = call_peaks(result, threshold=args.threshold, merge_gap=args.merge_gap)
    if args.peaks:
        Path(args.peaks).write_text("".join(f"{line}\n" for line in bed_lines(peaks)))
        say(f"wrote {args.peaks}: {len(peaks)} peaks above {args.threshold:g}")
    if args.figure:
        from viz.figures import save_figure
        from viz.variant_figures import scan_track

        save_figure(scan_track(result, peaks), args.figure)
        say(f"wrote {args.figure}")
    return EXIT_OK if n_scored else EXIT_NOTHING
