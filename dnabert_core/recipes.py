"""End-to-end training recipes behind ``dnabert pretrain`` and ``dnabert finetune``: data in, model folder with its
card, metrics and baseline out."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from transformers import BertForMaskedLM

from dnabert_core.cards import hardware, metrics_table, render_card
from dnabert_core.corpus import corpus_from_sequences, mask_occurrences, piece_length
from dnabert_core.errors import DnabertError
from dnabert_core.evaluation import Peers, compare, comparison_table, fit_peers
from dnabert_core.io import Genome, parse_region
from dnabert_core.folder import CNN, KMER, METRIC_COLUMNS, MODEL, PEER_NAMES
from dnabert_core.embedding_init import initialise_embeddings
from dnabert_core.metrics import classification_curves, classification_metrics
from dnabert_core.mlm_baselines import composition_baseline, flank_baseline, unigram_baseline
from dnabert_core.model import TRAINING_LENGTH_KEY, build_config, load_model, save_model
from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from dnabert_core.tokenizer import KmerTokenizer, reverse_complement
from dnabert_core.pretraining import masked_lm_metrics, pretrain
from dnabert_core.train import Run, TrainConfig, finetune, init_distributed, seed_everything

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenomeSplit:
    """Training and held-out genome text: lists of (name, sequence)."""

    train: list[tuple[str, str]]
    held_out: list[tuple[str, str]]


def split_genome(genome: Genome, regions: list[str] | None, holdout: str | None) -> GenomeSplit:
    """Training text = the regions (default: every chromosome) minus the held-out region; held-out text = that region.

    Region strings are ``chr:start-end`` (1-based inclusive).
    """
    spans = [parse_region(r) for r in regions] if regions else [(c, 0, n) for c, n in genome.chromosomes.items()]
    held = parse_region(holdout) if holdout else None
    train, held_out = [], []
    for chrom, start, end in spans:
        pieces = [(start, end)]
        if held and held[0] == chrom:
            pieces = [(s, e) for s, e in ((start, min(end, held[1])), (max(start, held[2]), end)) if e > s]
        for s, e in pieces:
            train.append((f"{chrom}:{s + 1}-{e}", genome.fetch(chrom, s, e)))
    if held:
        held_out.append((holdout, genome.fetch(*held)))
    return GenomeSplit(train=train, held_out=held_out)


def cls_note(weight: float) -> str:
    """The training paragraph's words for the [CLS] composition objective (empty when it is off)."""
    return f", [CLS] composition loss with weight {weight}" if weight else ""


def pretrain_genome(
    fasta: str,
    output: Path,
    *,
    regions: list[str] | None,
    holdout: str | None,
    k: int,
    size: str,
    config: TrainConfig,
    max_tokens: int = 512,
    init: str | Path | None = None,
    embedding_init: str = "compositional",
    extra_text: list[str] | None = None,
    exclude: list[str] | None = None,
    eval_limit: int = 256,
    resume: bool = True,
    on_log=None,
    command: str = "",
) -> Run:
    """Pre-train a masked-LM on genome text (plus optional extra sequences) and write the model folder with its card,
    the held-out masked-k-mer accuracy and loss against the unigram baseline.

    ``max_tokens`` sets the piece length (128 for BERT's short first phase, 512 for the full window); ``init`` starts
    from the weights of an earlier masked-LM folder (the second phase) instead of a fresh model of ``size``, whose
    embeddings ``embedding_init`` sets (see ``dnabert_core.embedding_init``).
    ``exclude``: sequences whose occurrences in the genome text (either strand) are masked to N before cutting.
    """
    dist_info = init_distributed()
    rng = np.random.default_rng(config.seed)
    with Genome(fasta) as genome:
        split = split_genome(genome, regions, holdout)
    n_excluded = 0
    if exclude:
        masked = [(name, *mask_occurrences(text, exclude)) for name, text in split.train]
        split = replace(split, train=[(name, text) for name, text, _ in masked])
        n_excluded = sum(n for _, _, n in masked)
        logger.info("masked %d bp of the training genome text that hold excluded sequences", n_excluded)
    pieces = corpus_from_sequences([s for _, s in split.train] + list(extra_text or []), k, rng, max_tokens=max_tokens)
    eval_pieces = corpus_from_sequences([s for _, s in split.held_out], k, np.random.default_rng(0),
                                        max_tokens=max_tokens, short_fraction=0.0)[:eval_limit]
    seed_everything(config.seed)
    if init is not None:
        start = load_model(init, task="mlm")
        if start.tokenizer.k != k:
            raise DnabertError(f"{init}: a k={start.tokenizer.k} model cannot continue as k={k}")
        model = start.model
    else:
        model = BertForMaskedLM(build_config(k, size=size))
        initialise_embeddings(model, k, embedding_init, seed=config.seed)
    tokenizer = KmerTokenizer(k)
    started = time.perf_counter()
    run = pretrain(model, tokenizer, pieces, config, eval_pieces=eval_pieces, dist_info=dist_info, resume=resume,
                   on_log=on_log)
    if not dist_info.main:
        return run
    held = masked_lm_metrics(run.model, tokenizer, eval_pieces, batch_size=32, seed=config.seed)
    baseline = unigram_baseline(pieces, eval_pieces, k)
    flank = flank_baseline(pieces, eval_pieces, k, batch_size=32, seed=config.seed)
    n_params = sum(p.numel() for p in run.model.parameters())
    card = render_card(
        f"{output.name}: DNABERT-style masked-LM encoder (k={k})",
        {
            "Task": "Masked-language-model pre-training with contiguous k-span masking (SPEC section 3). Use it as "
            "the starting point of fine-tuning: `dnabert finetune -m THIS_FOLDER ...`.",
            "Model": f"BERT, {run.model.config.num_hidden_layers} layers, hidden {run.model.config.hidden_size}, "
            f"{run.model.config.num_attention_heads} heads, {n_params / 1e6:.1f}M parameters, {k}-mer tokens, "
            f"{run.model.config.max_position_embeddings} positions.",
            "Data": f"Genome text from `{Path(fasta).name}`; training regions: "
            f"{', '.join(name for name, _ in split.train)} ({sum(len(s) for _, s in split.train):,} bp"
            f"{', plus ' + str(len(extra_text)) + ' extra training sequences' if extra_text else ''}); "
            f"{len(pieces):,} pieces of up to {piece_length(k, max_tokens)} bp ({max_tokens} tokens), half cut "
            f"shorter, mostly-N pieces skipped"
            + (f"; {n_excluded:,} bp holding one of {len(exclude):,} excluded (task) sequences masked to N first."
               if exclude else ".")
            + (f" Continued from `{Path(init).name}`." if init else f" Embeddings initialised {embedding_init}."),
            "Held-out evaluation": f"Region never trained on: {holdout} ({len(eval_pieces)} pieces). Masked k-mer "
            f"accuracy and cross-entropy on masked positions, against the trivial baselines (always the most "
            f"frequent training k-mer; training k-mer frequencies) and the flank baseline: the most frequent "
            f"training k-mer that agrees with the bases the unmasked neighbouring k-mers show (with k-span masking "
            f"they show most of a masked k-mer), scored on the same masks as the model "
            f"(add-one smoothed over the agreeing k-mers):\n\n"
            + metrics_table({"this model": held, "unigram baseline": baseline, "flank baseline": flank},
                            ["accuracy", "loss"])
            + f"\n\n[CLS] composition: the [CLS] position's masked-LM output read as each held-out piece's 3-mer "
            f"composition, KL divergence {held['cls_composition_kl']:.3f} nats (0 would be exact; the pooled "
            f"training composition, which ignores the piece, {composition_baseline(pieces, eval_pieces, k):.3f}; "
            f"{'trained with' if config.cls_composition else 'not trained with'} the [CLS] composition objective).",
            "Training": f"{run.step} steps, global batch {config.batch_size}, AdamW (0.9, 0.98, eps 1e-6, weight "
            f"decay {config.weight_decay}), peak lr {config.lr}, {config.warmup_steps} warm-up steps then linear "
            f"decay, mask probability {config.mask_probability}"
            f"{', each piece at a random offset of the positions' if config.position_offsets else ''}"
            f"{cls_note(config.cls_composition)}, dropout "
            f"{run.model.config.hidden_dropout_prob}, seed "
            f"{config.seed}. Wall time of this invocation "
            f"{(time.perf_counter() - started) / 60:.1f} min on {hardware()}.\n\n"
            f"Command: `{command}`",
            "Limitations": "Small model trained briefly on a small part of one human chromosome: it knows local "
            "sequence statistics, not the whole genome. Fine-tune before predicting anything.",
        },
    )
    save_model(run.model, tokenizer, output, card=card)
    return run


def class_labels(records: list[SequenceRecord]) -> list[str]:
    """Sorted distinct labels (numerically when they all are numbers), the class order of a fine-tuned model."""
    labels = {r.label for r in records}
    if None in labels:
        missing = next(r for r in records if r.label is None)
        raise DnabertError(f"record '{missing.id}' has no label; fine-tuning needs a label for every record")
    if len(labels) < 2:
        raise DnabertError(
            f"every training record has the label {next(iter(labels))!r}: a classifier needs at least two classes "
            f"(add negatives, e.g. shuffled or genomic background sequences)"
        )
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def with_reverse_complements(records: list[SequenceRecord]) -> list[SequenceRecord]:
    """The records followed by their reverse complements (ids suffixed ``:rc``, labels kept)."""
    return records + [replace(r, id=f"{r.id}:rc", sequence=reverse_complement(r.sequence)) for r in records]


def finetune_records(
    model_path: str | Path,
    train: list[SequenceRecord],
    dev: list[SequenceRecord],
    test: list[SequenceRecord],
    output: Path,
    config: TrainConfig,
    *,
    heldout: Mapping[str, list[SequenceRecord]] | None = None,
    cnn_seconds: float = 600.0,
    class_names: list[str] | None = None,
    patience: int = 5,
    on_log=None,
    command: str = "",
    data_note: str = "",
    reverse_complements: bool = False,
) -> dict:
    """Fine-tune a classifier with dev early stopping, evaluate once on ``test`` and on each ``heldout`` set
    (name -> records) beside the k-mer logistic regression and the CNN peer (``cnn_seconds`` of training; 0: none),
    and write the model folder with ``metrics.json`` and its card. Returns the metrics written.

    ``reverse_complements`` adds each training record's reverse complement to the training set (for tasks whose
    label does not depend on the strand, e.g. a TF binding site); the peers train on the same doubled set, and dev
    and held-out sets stay as given."""
    if reverse_complements:
        train = with_reverse_complements(train)
    raw_labels = class_labels(train)
    names = class_names or raw_labels
    if len(names) != len(raw_labels):
        raise DnabertError(f"{len(names)} class names given for {len(raw_labels)} classes ({raw_labels})")
    index = {label: i for i, label in enumerate(raw_labels)}
    sets = {"test": test, **(heldout or {})}
    for split, records in (("dev", dev), *sets.items()):
        unknown = {r.label for r in records} - set(index)
        if unknown:
            raise DnabertError(f"{split} labels {sorted(unknown)} do not occur in the training set {raw_labels}")
    dist_info = init_distributed()
    seed_everything(config.seed)
    loaded = load_model(model_path, task="finetune", num_labels=len(names), device=dist_info.device)
    setattr(loaded.model.config, TRAINING_LENGTH_KEY, max(len(r.sequence) for r in train))
    loaded.model.config.id2label = dict(enumerate(names))
    loaded.model.config.label2id = {name: i for i, name in enumerate(names)}
    loaded = replace(loaded, labels=tuple(names))

    def probabilities(model, records: list[SequenceRecord]) -> np.ndarray:
        current = replace(loaded, model=model)
        return np.stack([p.probs for p in predict(current, records, batch_size=64)])

    def evaluate(model) -> dict:
        return classification_metrics(np.array([index[r.label] for r in dev]), probabilities(model, dev))

    started = time.perf_counter()
    run, best_dev = finetune(
        loaded.model, loaded.tokenizer, [(r.sequence, index[r.label]) for r in train],
        [(r.sequence, index[r.label]) for r in dev], config, evaluate=evaluate, patience=patience,
        dist_info=dist_info, on_log=on_log,
    )
    wall = time.perf_counter() - started
    if not dist_info.main:
        return {}
    run.model.eval()
    result: dict = {"labels": names, "n_train": len(train), "n_dev": len(dev), "n_test": len(test),
                    "reverse_complements": reverse_complements,
                    "dev_best": best_dev, "wall_time_s": round(wall, 1), "hardware": hardware()}
    peers = None
    if any(sets.values()):
        peers = fit_peers(train, dev, index, seed=config.seed, cnn_seconds=cnn_seconds,
                          threads=torch.get_num_threads())
        scored: dict[str, np.ndarray] = {}  # sequence -> the model's probabilities, for the test curves below

        def model_probs(records: list[SequenceRecord]) -> np.ndarray:
            probs = probabilities(run.model, records)
            scored.update(zip((r.sequence for r in records), probs))
            return probs

        tables = compare(model_probs, peers, sets, index)
        result["heldout"] = tables
        if "test" in tables:
            result["test"], result["baseline"] = tables["test"][MODEL], {**tables["test"][KMER], "C": peers.kmer.C}
            if CNN in tables["test"]:
                result["cnn"] = tables["test"][CNN]
            result["curves"] = classification_curves(np.array([index[r.label] for r in test]),
                                                     np.stack([scored[r.sequence] for r in test]), names)
    save_model(run.model, loaded.tokenizer, output)
    (output / "metrics.json").write_text(json.dumps(result, indent=2))
    card = _finetune_card(output, model_path, loaded.k, names, result, peers, run, config, best_dev, wall, command,
                          data_note)
    (output / "README.md").write_text(card, encoding="utf-8")
    return result


def _finetune_card(
    output: Path, model_path, k: int, names: list[str], result: dict, peers: Peers | None, run: Run,
    config: TrainConfig, best_dev: dict, wall: float, command: str, data_note: str,
) -> str:
    """The fine-tuned model's card: task, data, every held-out table beside the peers, training, limitations."""
    if "test" in result:
        rows = {PEER_NAMES[MODEL]: result["test"], PEER_NAMES[CNN]: result.get("cnn"),
                PEER_NAMES[KMER]: result["baseline"]}
        table = metrics_table({name: row for name, row in rows.items() if row}, list(METRIC_COLUMNS))
        table += (f"\n\nConfusion matrix (rows: true {names}, columns: predicted): "
                  f"{result['test']['confusion_matrix']}")
    else:
        table = "No test set was given."
    if result.get("heldout"):
        table += ("\n\nEvery held-out set (the test set first), AUROC and MCC of this model, the CNN and the k-mer "
                  "logistic regression:\n\n" + comparison_table(result["heldout"]))
    if peers is not None:
        table += ("\n\nThe peers are trained and tested on exactly the same split, their choices made on the dev "
                  f"set. {peers.description}")
    n_train, n_dev, n_test = result["n_train"], result["n_dev"], result["n_test"]
    doubled = (f" ({n_train // 2:,} and their reverse complements; the peers train on the same set)"
               if result.get("reverse_complements") else "")
    return render_card(
        f"{output.name}: DNABERT-style classifier (k={k})",
        {
            "Task": f"Sequence classification into {len(names)} classes: {', '.join(names)}. "
            f"Started from `{Path(str(model_path)).name}`.",
            "Data": (data_note or "") + f"\n\nTraining {n_train:,}{doubled}, dev {n_dev:,} (early stopping), test "
            f"{n_test:,} sequences (evaluated once, after training).",
            "Held-out test metrics": table,
            "Training": f"{run.step} steps (best dev {best_dev.get('mcc', float('nan')):.4f} MCC at step "
            f"{best_dev.get('step')}), global batch {config.batch_size}, AdamW (0.9, 0.98, eps 1e-6, weight decay "
            f"{config.weight_decay}), peak lr {config.lr}, {config.warmup_steps} warm-up steps, linear decay, dropout "
            f"{run.model.config.hidden_dropout_prob}, "
            + (f"random crops of up to {config.random_crop} bases from the ends of each training input, "
               if config.random_crop else "") + "seed "
            f"{config.seed}. Wall time {wall / 60:.1f} min on {hardware()}.\n\nCommand: `{command}`",
            "Limitations": "A small model trained on one data set; its probabilities are calibrated to that set's "
            "class balance. Check its behaviour on your own data before you rely on it."
            + (f" Dev MCC was still at its best at the last evaluation (step {run.step}): the model is under-trained "
               "and more steps would likely improve it." if best_dev.get("step") == run.step else ""),
        },
    )
