"""``dnabert pretrain``, ``dnabert finetune`` and ``dnabert convert``: model folders in, model folders out."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from dnabert_core.embedding_init import EMBEDDING_INITS
from dnabert_core.errors import OptionError
from dnabert_core.model import SIZES, convert_folder
from dnabert_core.predict import set_threads
from dnabert_core.train import TrainConfig
from viz.cli.common import (
    EXIT_NOTHING,
    EXIT_OK,
    Formatter,
    RecordReader,
    add_input_options,
    non_negative_int,
    positive_int,
    read_labelled,
    say,
)


def register(commands: argparse._SubParsersAction) -> None:
    register_pretrain(commands)
    register_finetune(commands)
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
    p.add_argument("-o", "--output", required=True, help="new (or empty) model folder to write")
    p.set_defaults(handler=run_convert)


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


def train_config(args: argparse.Namespace, output: Path, steps: int, **extra) -> TrainConfig:
    """The TrainConfig of the shared training options (warm-up defaults to 10% of the steps)."""
    return TrainConfig(
        output=output, steps=steps, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
        warmup_steps=args.warmup if args.warmup is not None else steps // 10, seed=args.seed,
        log_every=args.log_every, eval_every=args.eval_every, precision=args.precision, dropout=args.dropout, **extra,
    )


def step_bar(total: int, description: str, quiet: bool) -> tqdm:
    return tqdm(total=total, desc=description, unit="step", file=sys.stderr, disable=quiet, dynamic_ncols=True)


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed, for the model card, with absolute paths made relative to the working directory (a card
    must not carry one machine's paths)."""
    here = Path.cwd()

    def relative(arg: str) -> str:
        return os.path.relpath(arg, here) if os.path.isabs(arg) else arg

    return "dnabert " + shlex.join(relative(arg) for arg in (sys.argv[1:] if argv is None else argv))


# ------------------------------------------------------------------------------------------------------- pretrain
def register_pretrain(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "pretrain",
        help="masked-LM pre-training on genome text (contiguous k-span masking)",
        formatter_class=Formatter,
        description=(
            "Pre-train a DNABERT-style masked-LM on genome text: non-overlapping pieces of --max-tokens tokens (half "
            "cut shorter), contiguous k-span masking, AdamW with linear warm-up and decay. Resumes from "
            "OUTPUT/checkpoint when one exists (refused when the settings changed). Runs unchanged under torchrun "
            "for several processes or GPUs. BERT's recipe: most steps at 128 tokens, then continue at 512 with "
            "--init.\n\n"
            "example: dnabert pretrain --fasta hg19.fa.gz --region chr22:16050001-21000000 "
            "--holdout chr22:21000001-22000000 -o runs/small-6-128 --size small --max-tokens 128 --steps 2600\n"
            "then:    dnabert pretrain ... -o runs/small-6 --init runs/small-6-128 --max-tokens 512 --steps 300\n"
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
    p.add_argument("--size", choices=sorted(SIZES), default="small",
                   help="model size: " + ", ".join(f"{name} {v[0]}x{v[1]}" for name, v in sorted(SIZES.items())))
    p.add_argument("--steps", type=positive_int, default=10000, help="optimiser steps")
    p.add_argument("--max-tokens", type=int, choices=range(16, 513), metavar="16..512", default=512,
                   help="piece length in tokens (BERT trains most steps at 128, the rest at 512)")
    p.add_argument("--position-offsets", action="store_true",
                   help="put each piece at a random offset of the model's positions, so that short pieces "
                        "(--max-tokens 128) train every position embedding before a 512-token phase")
    p.add_argument("--cls-composition", type=float, default=0.0, metavar="WEIGHT",
                   help="also train the [CLS] token to predict each piece's 3-mer composition, with this weight "
                        "beside the masked-LM loss (default 0: off). Masked-LM alone gives [CLS] nothing to predict "
                        "and its attention locks onto fixed positions, which fine-tuned landscapes inherit")
    p.add_argument("--init", default=None,
                   help="start from this masked-LM folder's weights (e.g. a 128-token phase) instead of a new model")
    p.add_argument("--embedding-init", choices=EMBEDDING_INITS, default="compositional",
                   help="a new model's k-mer and position embeddings: compositional (each k-mer the sum of its bases' "
                   "position-specific vectors, sinusoidal positions; dnabert_core/embedding_init.py) or BERT's random "
                   "ones (ignored with --init)")
    add_training_options(p, lr=4e-4, eval_every=500)
    p.add_argument("--mask-probability", type=float, default=0.025, help="probability of a span centre")
    p.add_argument("--save-every", type=positive_int, default=200, help="checkpoint every N steps")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    from dnabert_core.recipes import pretrain_genome
    from viz.training_plots import plot_loss_curve

    set_threads(args.threads)
    if not Path(args.fasta).is_file():
        raise OptionError(f"genome FASTA not found: {args.fasta}")
    extra = [r.sequence for r in RecordReader(args.text, min_length=args.k, fmt=None)] if args.text else []
    exclude = [r.sequence for r in RecordReader(args.exclude, min_length=args.k, fmt=None)] if args.exclude else []
    output = Path(args.output)
    config = train_config(args, output, args.steps, save_every=args.save_every,
                          mask_probability=args.mask_probability, position_offsets=args.position_offsets,
                          cls_composition=args.cls_composition)
    bar = step_bar(args.steps, "pretrain", args.quiet)

    def on_log(record: dict) -> None:
        bar.update(record["step"] - bar.n)
        if "loss" in record:
            bar.set_postfix(loss=f"{record['loss']:.3f}", tok_s=f"{record['tokens_per_s']:.0f}",
                            **({"cls_kl": f"{record['cls_composition_kl']:.3f}"} if "cls_composition_kl" in record
                               else {}))

    try:
        run = pretrain_genome(
            args.fasta, output, regions=args.region, holdout=args.holdout, k=args.k, size=args.size, config=config,
            max_tokens=args.max_tokens, init=args.init, embedding_init=args.embedding_init, extra_text=extra, exclude=exclude,
            resume=not args.no_resume, on_log=on_log, command=command_line(),
        )
    finally:
        bar.close()
    if run.dist.main:
        plot_loss_curve(output / "metrics.jsonl", output / "loss_curve.png", title=f"pre-training {output.name}")
        say(f"wrote {output} after {run.step} steps")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------- finetune
def named_file(text: str) -> tuple[str, str]:
    """``NAME=FILE`` -> (name, file)."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=FILE (e.g. genomic=heldout/genomic.csv), got {text!r}")
    return name.strip(), path.strip()


def register_finetune(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "finetune",
        help="fine-tune a classifier (binary or multi-class) with dev early stopping",
        formatter_class=Formatter,
        description=(
            "Fine-tune a model (a pre-trained masked-LM folder gets a new classification head) on labelled sequences "
            "in any input format with labels (CSV/TSV 'label' column or --label-column, DNABERT's k-merized TSV, "
            "ENCODE .data). At least two classes. Early stopping on dev MCC; the test set and each --heldout set "
            "are evaluated once at the end, beside two peers trained on the same split: a k-mer logistic "
            "regression and a small CNN on one-hot bases (--cnn-minutes). Writes a model folder with metrics.json, "
            "ROC/PR curves and a model card; the training input length is saved in config.json and becomes the "
            "model's default window.\n\n"
            "example: dnabert finetune -m assets/models/dnabert-small-6 --train train.csv --dev dev.csv "
            "--test test.csv --heldout genomic=genomic.csv -o models/my-task"
        ),
    )
    p.add_argument("-m", "--model", required=True, help="starting model folder (or hub id)")
    p.add_argument("--train", nargs="+", required=True, help="training files")
    p.add_argument("--dev", nargs="*", default=None, help="dev files (default: --dev-fraction of the training set)")
    p.add_argument("--test", nargs="*", default=None, help="test files, evaluated once after training")
    p.add_argument("--heldout", action="append", default=[], metavar="NAME=FILE", type=named_file,
                   help="another held-out set, evaluated once like --test and reported by NAME in the card's "
                        "table (repeat for each, e.g. one set per kind of negative)")
    p.add_argument("--cnn-minutes", type=float, default=10.0,
                   help="CPU budget of the CNN peer trained on the same split for the card (0: no CNN)")
    p.add_argument("-o", "--output", required=True, help="output model folder")
    add_input_options(p)
    p.add_argument("--label-column", default=None, help="label column of CSV/TSV inputs (default: 'label')")
    p.add_argument("--class-names", type=lambda text: text.split(","), default=None,
                   help="comma-separated names for the sorted label values, e.g. non_promoter,promoter")
    p.add_argument("--data-note", default=None, help="text for the card's Data section (source, licence, split)")
    p.add_argument("--add-reverse-complements", action="store_true",
                   help="train on each training sequence and its reverse complement (for strand-free labels such as "
                        "TF binding; not promoters or splice sites); the CNN and k-mer peers get the same set")
    p.add_argument("--random-crop", type=non_negative_int, default=0, metavar="BASES",
                   help="cut up to BASES bases at random from the ends of each training input at each step, so that "
                        "content does not sit at fixed positions (default 0: inputs as given)")
    p.add_argument("--dev-fraction", type=float, default=0.1, help="dev share of the training set without --dev")
    p.add_argument("--epochs", type=positive_int, default=3, help="passes over the training set (unless --steps)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimiser steps (overrides --epochs)")
    add_training_options(p, lr=5e-5, eval_every=200)
    p.add_argument("--patience", type=positive_int, default=5, help="stop after N evaluations without dev improvement")
    p.set_defaults(handler=run_finetune)


def run_finetune(args: argparse.Namespace) -> int:
    import numpy as np

    from dnabert_core.model import read_config, resolve_folder
    from dnabert_core.recipes import finetune_records
    from viz.training_plots import plot_curves, plot_loss_curve

    set_threads(args.threads)
    _, tokenizer = read_config(resolve_folder(args.model))
    train = read_labelled(args.train, tokenizer.k, args.format, args.label_column)
    dev = read_labelled(args.dev, tokenizer.k, args.format, args.label_column)
    test = read_labelled(args.test, tokenizer.k, args.format, args.label_column)
    heldout = {name: read_labelled([path], tokenizer.k, args.format, args.label_column) for name, path in args.heldout}
    empty = [name for name, records in heldout.items() if not records]
    if empty:
        say(f"error: no record could be read from the held-out set {empty[0]} ({dict(args.heldout)[empty[0]]})")
        return EXIT_NOTHING
    if not train:
        say(f"error: no training record could be read from {', '.join(args.train)}")
        return EXIT_NOTHING
    if not dev:  # hold a seeded random part of the training records out for early stopping
        order = np.random.default_rng(args.seed).permutation(len(train))
        n_dev = max(1, int(len(train) * args.dev_fraction))
        dev = [train[i] for i in order[:n_dev]]
        train = [train[i] for i in order[n_dev:]]
        say(f"no --dev given: held out {n_dev} random training records for early stopping")
    steps = args.steps or max(1, args.epochs * len(train) // args.batch_size)
    output = Path(args.output)
    config = train_config(args, output, steps, save_every=args.eval_every, random_crop=args.random_crop)
    bar = step_bar(steps, "finetune", args.quiet)

    def on_log(record: dict) -> None:
        bar.update(record["step"] - bar.n)
        if "loss" in record:
            bar.set_postfix(loss=f"{record['loss']:.3f}")
        if "dev_mcc" in record:
            bar.write(f"step {record['step']}: dev MCC {record['dev_mcc']:.4f}, AUROC {record['dev_auroc']:.4f}")

    try:
        result = finetune_records(
            args.model, train, dev, test, output, config, heldout=heldout, cnn_seconds=args.cnn_minutes * 60,
            class_names=args.class_names, patience=args.patience,
            on_log=on_log, command=command_line(), data_note=args.data_note or "",
            reverse_complements=args.add_reverse_complements,
        )
    finally:
        bar.close()
    if result:
        plot_loss_curve(output / "metrics.jsonl", output / "loss_curve.png", title=f"fine-tuning {output.name}")
        if "curves" in result:
            plot_curves(result["curves"], output)
            test_metrics = result["test"]
            cnn = f", CNN MCC {result['cnn']['mcc']:.4f}" if "cnn" in result else ""
            say(f"test: MCC {test_metrics['mcc']:.4f}, AUROC {test_metrics['auroc']:.4f} "
                f"(k-mer baseline MCC {result['baseline']['mcc']:.4f}{cnn})")
        say(f"wrote {output}")
    return EXIT_OK


def run_convert(args: argparse.Namespace) -> int:
    folder = convert_folder(args.source, args.output)
    say(f"wrote {folder} (model.safetensors, config.json, vocab.txt, README.md)")
    return EXIT_OK
