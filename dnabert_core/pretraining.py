"""Masked-LM pre-training with contiguous k-span masking (SPEC section 3) on the ``dnabert_core.train`` machinery:
the loop, the masked-positions-only head, the optional [CLS] composition objective, and the held-out metrics on fixed
masks.

The [CLS] composition objective (``TrainConfig.cls_composition`` > 0): masked-LM alone gives the [CLS] token nothing
to predict, so its queries never learn content and its attention settles on fixed positions (a lock that fine-tuning
inherits, and that every [CLS] attention landscape then shows). With the objective, the [CLS] output, read through
the same masked-LM head, predicts the piece's 3-mer composition (the share of each 3-mer among its tokens' first
bases, before masking): a sequence-level task that needs the whole piece, and no parameter beyond the model's own."""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import torch
from transformers import PreTrainedModel

from dnabert_core.errors import DnabertError
from dnabert_core.masking import IGNORE_INDEX, MaskedBatch, mask_batch
from dnabert_core.tokenizer import N_SPECIAL, PAD_ID, KmerTokenizer
from dnabert_core.train import (Dist, LogFn, Run, TrainConfig, autocast_context, batch_indices, init_distributed,
                                pad_ids, rank_slices, trim)


COMPOSITION_ORDER = 3  # the [CLS] objective predicts 3-mer shares


class MaskedPositionsLM(torch.nn.Module):
    """A ``BertForMaskedLM`` that scores only the masked positions: the vocabulary projection (hidden x 4^k) is the
    costliest single layer, and the loss needs only the ~15% of positions that are masked."""

    def __init__(self, model: PreTrainedModel, with_cls: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_cls = with_cls

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, selected: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (n_selected, vocab) at the positions where ``selected`` (batch, n_tokens) is True, and with
        ``with_cls`` the [CLS] position's logits (batch, vocab), else None."""
        hidden = self.model.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 position_ids=position_ids).last_hidden_state
        return self.model.cls(hidden[selected]), self.model.cls(hidden[:, 0]) if self.with_cls else None


def composition_targets(ids: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's base composition of order ``COMPOSITION_ORDER`` (3-mers; k-mers for k < 3): (batch, 4^order)
    float32, the share of each k-mer token whose first bases are that 3-mer (special tokens and [UNK] count for
    nothing; a row without k-mers is all zeros). Of 6-mers, a 500-token piece holds most once: their shares are
    sampling noise that no summary of the piece predicts, the 64 3-mer shares are not."""
    order = min(COMPOSITION_ORDER, k)
    kmer = ids >= N_SPECIAL
    prefix = torch.where(kmer, ids - N_SPECIAL, 0) // 4 ** (k - order)
    counts = torch.zeros(ids.shape[0], 4**order, dtype=torch.float32, device=ids.device)
    counts.scatter_add_(1, prefix, kmer.float())
    return counts / counts.sum(dim=1, keepdim=True).clamp_min(1.0)


def composition_cross_entropy(cls_logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """Per-row cross-entropy (batch,) of composition ``targets`` (batch, 4^order) under the [CLS] logits (batch,
    vocab): the k-mer probabilities (special tokens left out) summed over the k-mers that share their first bases.
    Minus each target's own entropy it is the KL divergence, 0 for a perfect prediction."""
    order = min(COMPOSITION_ORDER, k)
    log_probs = torch.log_softmax(cls_logits[:, N_SPECIAL:].float(), dim=-1)
    grouped = log_probs.reshape(len(log_probs), 4**order, 4 ** (k - order)).logsumexp(dim=-1)
    return -(targets * grouped).sum(dim=-1)


def entropy(targets: torch.Tensor) -> torch.Tensor:
    """Entropy (batch,) of each row of ``targets`` (nats)."""
    return -(targets * torch.log(targets.clamp_min(1e-12))).sum(dim=-1)


def offset_positions(n_rows: int, n_tokens: int, max_positions: int, generator: torch.Generator) -> torch.Tensor:
    """Position ids (n_rows, n_tokens): row r is o_r, o_r + 1, ..., with o_r uniform in 0 .. max_positions -
    n_tokens. Pieces shorter than the model's positions then train every position embedding (a phase of
    128-token pieces otherwise leaves positions 128-511 as initialised, and a later 512-token phase starts from
    positions the network has never seen)."""
    offsets = torch.randint(0, max_positions - n_tokens + 1, (n_rows, 1), generator=generator)
    return offsets + torch.arange(n_tokens)[None, :]


def held_out_masks(
    tokenizer: KmerTokenizer, pieces: Sequence[str], *, batch_size: int, seed: int, mask_probability: float = 0.025,
) -> Iterator[MaskedBatch]:
    """The fixed masks of held-out evaluation: ``pieces`` in batches of ``batch_size``, masked with one generator
    seeded by ``seed``. The model's metrics and the masked-LM baselines score exactly these masks."""
    generator = torch.Generator().manual_seed(seed)
    for first in range(0, len(pieces), batch_size):
        ids = pad_ids(tokenizer.encode_many(list(pieces[first : first + batch_size])))
        yield mask_batch(ids, tokenizer.k, tokenizer.vocab_size, probability=mask_probability, generator=generator)


def masked_lm_metrics(
    model: PreTrainedModel, tokenizer: KmerTokenizer, pieces: Sequence[str], *, batch_size: int, seed: int,
    mask_probability: float = 0.025,
) -> dict:
    """Masked-LM loss and masked-token accuracy on held-out ``pieces`` with fixed masks (``held_out_masks``).

    Returns {"loss", "accuracy", "n_masked", "cls_composition_kl"} (the last: the mean KL divergence of the [CLS]
    position's prediction from each piece's 3-mer composition, see ``composition_targets``); the baselines
    (``dnabert_core.mlm_baselines``) are computed by the caller on the same masks.
    """
    device = next(model.parameters()).device
    loss_sum = correct = count = kl_sum = 0.0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for masked in held_out_masks(tokenizer, pieces, batch_size=batch_size, seed=seed,
                                     mask_probability=mask_probability):
            inputs, labels = masked.input_ids.to(device), masked.labels.to(device)
            logits = model(input_ids=inputs, attention_mask=(inputs != PAD_ID).long()).logits.float()
            selected = labels != IGNORE_INDEX
            loss_sum += float(torch.nn.functional.cross_entropy(logits[selected], labels[selected], reduction="sum"))
            correct += float((logits[selected].argmax(-1) == labels[selected]).sum())
            count += float(selected.sum())
            targets = composition_targets(torch.where(selected, labels, inputs), tokenizer.k)
            kl_sum += float((composition_cross_entropy(logits[:, 0], targets, tokenizer.k) - entropy(targets)).sum())
    model.train(was_training)
    return {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1), "n_masked": int(count),
            "cls_composition_kl": kl_sum / max(len(pieces), 1)}


def pretrain(
    model: PreTrainedModel,
    tokenizer: KmerTokenizer,
    pieces: Sequence[str],
    config: TrainConfig,
    *,
    eval_pieces: Sequence[str] = (),
    dist_info: Dist | None = None,
    resume: bool = True,
    on_log: LogFn | None = None,
) -> Run:
    """Masked-LM pre-training with contiguous k-span masking on genome ``pieces`` (see ``corpus.cut_pieces``), plus
    ``config.cls_composition`` times the [CLS] composition loss (mean over the batch's pieces) when it is above 0."""
    if not pieces:
        raise DnabertError("no pre-training text: the corpus is empty")
    dist_info = dist_info or init_distributed()
    run = Run(model, tokenizer, config, dist_info, resume=resume, on_log=on_log,
              train_module=lambda lm: MaskedPositionsLM(lm, with_cls=config.cls_composition > 0))
    run.model.train()
    seen_tokens = 0
    window_start = time.perf_counter()
    while run.step < config.steps:
        step = run.step
        indices = batch_indices(step, config.batch_size, len(pieces), config.seed)
        ids = pad_ids(tokenizer.encode_many([pieces[i] for i in indices]))
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        masked = mask_batch(ids, tokenizer.k, tokenizer.vocab_size, probability=config.mask_probability,
                            generator=generator)
        n_masked_global = int((masked.labels != IGNORE_INDEX).sum())
        positions = (offset_positions(len(indices), ids.shape[1], run.model.config.max_position_embeddings,
                                      generator) if config.position_offsets else None)
        loss_value = cls_kl = 0.0
        slices = rank_slices(len(indices), dist_info, config.grad_accum)
        for index, rows in enumerate(slices):
            inputs, labels, originals = trim(masked.input_ids[rows], masked.labels[rows], ids[rows])
            inputs, labels = inputs.to(dist_info.device), labels.to(dist_info.device)
            selected = labels != IGNORE_INDEX
            position_ids = None if positions is None else positions[rows, : inputs.shape[1]].to(dist_info.device)
            with run.sync_context(index == len(slices) - 1), autocast_context(config.precision, dist_info.device):
                logits, cls_logits = run.wrapped(inputs, (inputs != PAD_ID).long(), selected, position_ids)
                loss_sum = torch.nn.functional.cross_entropy(logits.float(), labels[selected], reduction="sum")
                # DDP averages gradients over ranks; scaling by world makes the update the global-batch mean
                loss = loss_sum / n_masked_global * dist_info.world
                if config.cls_composition:
                    targets = composition_targets(originals, tokenizer.k).to(dist_info.device)
                    cls_loss = composition_cross_entropy(cls_logits, targets, tokenizer.k)
                    loss = loss + config.cls_composition * cls_loss.sum() / len(indices) * dist_info.world
                    cls_kl += float((cls_loss.detach() - entropy(targets)).sum()) / len(indices)
                loss.backward()
            loss_value += float(loss_sum.detach()) / n_masked_global
            seen_tokens += int((inputs != PAD_ID).sum())
        norm = run.optimizer_step()
        loss_value = run.reduce_sum(loss_value)
        cls_kl = run.reduce_sum(cls_kl)
        if run.step % config.log_every == 0 or run.step == config.steps:
            elapsed = time.perf_counter() - window_start
            tokens = run.reduce_sum(seen_tokens)
            run.log({"loss": loss_value, "lr": run.scheduler.get_last_lr()[0], "grad_norm": norm,
                     "tokens_per_s": tokens / max(elapsed, 1e-9),
                     **({"cls_composition_kl": cls_kl} if config.cls_composition else {})})
            seen_tokens, window_start = 0, time.perf_counter()
        if eval_pieces and (run.step % config.eval_every == 0 or run.step == config.steps) and dist_info.main:
            metrics = masked_lm_metrics(run.model, tokenizer, eval_pieces, batch_size=config.batch_size,
                                        seed=config.seed, mask_probability=config.mask_probability)
            run.log({f"eval_{key}": value for key, value in metrics.items()})
        if run.step % config.save_every == 0 or run.step == config.steps:
            run.save_checkpoint()
    return run
