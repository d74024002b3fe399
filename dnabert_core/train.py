"""Training machinery (``Run``: model, optimiser, checkpoints, ranks) and the fine-tuning loop: one process or many
(``torchrun``), resumable, deterministic. The masked-LM loop is ``dnabert_core.pretraining``.

Data order and masks depend only on (seed, step): step s takes the global batch at positions s*B .. (s+1)*B of a
stream of per-epoch permutations, masks it with a generator seeded by (seed, step), and each rank takes its slice of
rows. So a run that resumes from a checkpoint continues bit for bit, and N ranks compute the same update as one process
on the same global batch (the loss is normalised by the global number of masked tokens).

Optimiser as published (SPEC section 3): AdamW (0.9, 0.98), eps 1e-6, weight decay 0.01, linear warm-up then decay.
Checkpoints: ``checkpoint/`` holds the model folder (safetensors) and ``state.pt`` (optimizer, scheduler, RNG; read
back with ``weights_only=True``). Only rank 0 writes. Metrics go to ``metrics.jsonl`` (one JSON object a line).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from dnabert_core.errors import DnabertError
from dnabert_core.model import save_model, tied_parameter_names
from dnabert_core.tokenizer import PAD_ID, KmerTokenizer

logger = logging.getLogger(__name__)

LogFn = Callable[[dict], None]
CHECKPOINT = "checkpoint"
BEST = "best"
CROP_STREAM = 7  # the random stream of crop_rows, apart from the data order's


@dataclass(frozen=True)
class TrainConfig:
    """Settings shared by pre-training and fine-tuning. ``batch_size`` is the global batch per optimiser step
    (summed over ranks and accumulation steps)."""

    output: Path
    steps: int
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 4e-4
    warmup_steps: int = 0
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 42
    save_every: int = 500
    log_every: int = 10
    eval_every: int = 500
    precision: str = "auto"  # "auto": bfloat16 autocast on a GPU that supports it, float32 elsewhere
    mask_probability: float = 0.025
    position_offsets: bool = False  # masked-LM: each piece at a random offset of the model's positions
    dropout: float | None = None  # None keeps the model's own dropout; 0 trains about 2x faster on CPU
    random_crop: int = 0  # fine-tuning: each training input loses up to this many bases from its ends (crop_rows)
    cls_composition: float = 0.0  # masked-LM: weight of the [CLS] 3-mer composition loss (pretraining module)

    def to_json(self) -> dict:
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Dist:
    """Where this process sits: rank, world size and device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> Dist:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1), else a single process.

    GPUs use NCCL with one device per local rank; CPUs use gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device != "cpu"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        chosen = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
        return Dist(rank=dist.get_rank(), world=world, device=chosen)
    chosen = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return Dist(rank=0, world=1, device=chosen)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (dropout draws from torch's)."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batch_indices(step: int, batch_size: int, n_examples: int, seed: int) -> np.ndarray:
    """Example indices of the global batch of ``step``: positions step*B .. (step+1)*B of the concatenated per-epoch
    permutations (epoch e shuffled by seed + e). (batch_size,) int64."""
    first = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(first + len(out), n_examples)
        permutation = np.random.default_rng([seed, epoch]).permutation(n_examples)
        out.extend(permutation[offset : offset + batch_size - len(out)].tolist())
    return np.asarray(out, dtype=np.int64)


def pad_ids(rows: Sequence[np.ndarray]) -> torch.Tensor:
    """Right-pad token id rows with ``[PAD]``: (batch, longest) int64."""
    width = max(row.size for row in rows)
    out = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, : row.size] = row
    return torch.from_numpy(out)


def crop_rows(rows: Sequence[np.ndarray], max_crop: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random crops of ``[CLS] k-mers [SEP]`` id rows: c ~ U{0..max_crop} bases cut in all (fewer where a row would
    keep no k-mer), a ~ U{0..c} of them from the start. A base less at an end is one k-mer less, so each result is
    the ids of the cropped sequence; its content sits at other positions than in the full input."""
    out = []
    for row in rows:
        n = row.size - 2
        cut = int(rng.integers(0, min(max_crop, n - 1) + 1))
        left = int(rng.integers(0, cut + 1))
        out.append(np.concatenate((row[:1], row[1 + left : 1 + n - (cut - left)], row[-1:])))
    return out


def rank_slices(n_rows: int, dist_info: Dist, grad_accum: int) -> list[slice]:
    """This rank's micro-batches of a global batch: the rank's contiguous share, cut into ``grad_accum`` parts."""
    per_rank = n_rows // dist_info.world
    start = dist_info.rank * per_rank
    per_micro = per_rank // grad_accum
    return [slice(start + i * per_micro, start + (i + 1) * per_micro) for i in range(grad_accum)]


def trim(ids: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Drop padding columns that no row of ``ids`` uses (a rank's slice is often shorter than the global batch)."""
    width = int((ids != PAD_ID).sum(dim=1).max())
    return (ids[:, :width],) + tuple(t[:, :width] for t in others)


def autocast_context(precision: str, device: torch.device):
    """bfloat16 autocast where it helps (a CUDA device with bf16), else nothing."""
    if precision == "bfloat16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision not in ("auto", "float32", "bfloat16"):
        raise DnabertError(f"unknown precision {precision!r}; choose auto, float32 or bfloat16")
    return nullcontext()


def set_dropout(model: PreTrainedModel, p: float) -> None:
    """Every dropout of ``model`` (hidden, attention, classifier) to probability ``p``, in its config too, so that the
    saved model folder says what it was trained with."""
    if not 0.0 <= p < 1.0:
        raise DnabertError(f"dropout must be in [0, 1), got {p}")
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    model.config.hidden_dropout_prob = p
    model.config.attention_probs_dropout_prob = p
    if getattr(model.config, "classifier_dropout", None) is not None:
        model.config.classifier_dropout = p


def make_optimizer(model: torch.nn.Module, config: TrainConfig):
    """AdamW as published (no weight decay on biases and LayerNorm) and a linear warm-up/decay schedule."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    return optimizer, scheduler


class Run:
    """The parts every training loop shares: model (DDP-wrapped when distributed), optimiser, checkpoints, logs."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: KmerTokenizer,
        config: TrainConfig,
        dist_info: Dist,
        *,
        resume: bool = True,
        on_log: LogFn | None = None,
        train_module: Callable[[PreTrainedModel], torch.nn.Module] | None = None,
    ) -> None:
        """``train_module`` wraps the model for the training forward pass (e.g. ``pretraining.MaskedPositionsLM``)."""
        if config.batch_size % (dist_info.world * config.grad_accum):
            raise DnabertError(
                f"batch_size {config.batch_size} must be a multiple of processes x grad_accum "
                f"({dist_info.world} x {config.grad_accum})"
            )
        self.config = config
        self.dist = dist_info
        self.tokenizer = tokenizer
        self.model = model.to(dist_info.device)
        if config.dropout is not None:
            set_dropout(self.model, config.dropout)
        self.optimizer, self.scheduler = make_optimizer(self.model, config)
        self.step = 0
        self.on_log = on_log
        self.started = time.perf_counter()
        if resume and (config.output / CHECKPOINT / "state.pt").is_file():
            self._load_checkpoint()
        else:
            seed_everything(config.seed)
        forward_module = train_module(self.model) if train_module else self.model
        self.wrapped = (
            torch.nn.parallel.DistributedDataParallel(forward_module, device_ids=None)
            if dist_info.world > 1
            else forward_module
        )
        if dist_info.main:
            config.output.mkdir(parents=True, exist_ok=True)

    def _load_checkpoint(self) -> None:
        folder = self.config.output / CHECKPOINT
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
        changed = changed_settings(json.loads(state["config"]), self.config.to_json())
        if changed:
            raise DnabertError(
                f"{folder} was written with other settings, so resuming would not continue that run: "
                + "; ".join(f"{key} was {old!r}, now {new!r}" for key, old, new in changed)
                + ". Use the same settings, another output folder, or --no-resume to start afresh"
            )
        load_weights(self.model, folder / "model.safetensors", self.dist.device)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if torch.cuda.is_available() and "cuda_rng" in state:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.step = int(state["step"])
        logger.info("resumed from %s at step %d", folder, self.step)

    def save_checkpoint(self) -> None:
        """Model folder plus optimiser/scheduler/RNG state, written atomically-enough (state last) by rank 0."""
        if not self.dist.main:
            return
        folder = self.config.output / CHECKPOINT
        save_model(self.model, self.tokenizer, folder)
        state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(self.config.to_json()),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        torch.save(state, folder / "state.pt.tmp")
        os.replace(folder / "state.pt.tmp", folder / "state.pt")

    def optimizer_step(self) -> float:
        """Clip, step, schedule, zero; returns the gradient norm."""
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return float(norm)

    def log(self, record: dict) -> None:
        """Append one metrics line (rank 0) and pass it to the caller's callback."""
        record = {"step": self.step, "elapsed_s": round(time.perf_counter() - self.started, 2), **record}
        if self.dist.main:
            with (self.config.output / "metrics.jsonl").open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            if self.on_log:
                self.on_log(record)

    def reduce_sum(self, value: float) -> float:
        """Sum a number over ranks (the value itself in one process)."""
        if self.dist.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.dist.device)
        dist.all_reduce(tensor)
        return float(tensor.item())

    def sync_context(self, is_last_micro: bool):
        """DDP all-reduces gradients only on the last micro-batch of a step."""
        if self.dist.world > 1 and not is_last_micro:
            return self.wrapped.no_sync()
        return nullcontext()


RESUME_FREE = frozenset({"output", "save_every", "log_every", "eval_every"})  # may change between resumes


def changed_settings(saved: dict, current: dict) -> list[tuple[str, object, object]]:
    """(setting, saved value, current value) for every training setting that differs, except ``RESUME_FREE`` ones
    (how often to log, save and evaluate, and where) which do not change the run."""
    keys = sorted((set(saved) | set(current)) - RESUME_FREE)
    defaults = TrainConfig(output=Path("."), steps=0).to_json()  # a setting added since the checkpoint: its default
    return [(key, saved.get(key, defaults.get(key)), current.get(key)) for key in keys
            if saved.get(key, defaults.get(key)) != current.get(key)]


def load_weights(model: PreTrainedModel, path: Path, device: torch.device | str) -> None:
    """Load a safetensors state dict strictly: every parameter but tied aliases must be in the file, and nothing else
    may be; a mismatch names the first keys (a checkpoint of another architecture or size)."""
    result = model.load_state_dict(load_file(path, device=str(device)), strict=False)
    missing = sorted(set(result.missing_keys) - tied_parameter_names(model))
    if missing or result.unexpected_keys:
        raise DnabertError(
            f"{path} does not fit this model: {len(missing)} weights missing (e.g. {missing[:3]}), "
            f"{len(result.unexpected_keys)} unexpected (e.g. {sorted(result.unexpected_keys)[:3]})"
        )


def finetune(
    model: PreTrainedModel,
    tokenizer: KmerTokenizer,
    train: Sequence[tuple[str, int]],
    dev: Sequence[tuple[str, int]],
    config: TrainConfig,
    *,
    evaluate: Callable[[PreTrainedModel], dict],
    select_metric: str = "mcc",
    patience: int = 5,
    dist_info: Dist | None = None,
    resume: bool = True,
    on_log: LogFn | None = None,
) -> tuple[Run, dict]:
    """Classification fine-tuning with dev-set early stopping.

    ``train``/``dev``: (sequence, class id) pairs, each sequence fitting one window. Every ``eval_every`` steps rank 0
    calls ``evaluate(model)`` (dev metrics; higher ``select_metric`` is better); the best weights are saved to
    ``output/best/`` and restored at the end; training stops after ``patience`` evaluations without improvement (a
    resumed run remembers the best so far). Returns the run and the best dev metrics (with the step they were seen).
    """
    if not train:
        raise DnabertError("no training examples")
    too_long = [i for i, (s, _) in enumerate(train) if len(s) > tokenizer.max_bases]
    if too_long:
        raise DnabertError(
            f"{len(too_long)} training sequences are longer than the model window ({tokenizer.max_bases} bp), "
            f"e.g. example {too_long[0] + 1}; cut them first"
        )
    dist_info = dist_info or init_distributed()
    run = Run(model, tokenizer, config, dist_info, resume=resume, on_log=on_log)
    encoded = tokenizer.encode_many([s for s, _ in train])
    labels_all = torch.tensor([label for _, label in train], dtype=torch.long)
    best_folder = config.output / BEST
    best = json.loads((best_folder / "dev_metrics.json").read_text()) if resume and run.step else {}
    stale = int(best.get("stale", 0))
    run.model.train()
    while run.step < config.steps and stale < patience:
        indices = batch_indices(run.step, config.batch_size, len(train), config.seed)
        rows = [encoded[i] for i in indices]
        if config.random_crop:  # seeded by the step: a resumed run crops as the uninterrupted one did
            rows = crop_rows(rows, config.random_crop, np.random.default_rng([config.seed, run.step, CROP_STREAM]))
        ids = pad_ids(rows)
        targets = labels_all[indices]
        loss_value = 0.0
        slices = rank_slices(len(indices), dist_info, config.grad_accum)
        for index, rows in enumerate(slices):
            (inputs,) = trim(ids[rows])
            inputs, labels = inputs.to(dist_info.device), targets[rows].to(dist_info.device)
            with run.sync_context(index == len(slices) - 1), autocast_context(config.precision, dist_info.device):
                logits = run.wrapped(input_ids=inputs, attention_mask=(inputs != PAD_ID).long()).logits
                loss_sum = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
                loss = loss_sum / len(indices) * dist_info.world
                loss.backward()
            loss_value += float(loss_sum.detach()) / len(indices)
        norm = run.optimizer_step()
        loss_value = run.reduce_sum(loss_value)
        if run.step % config.log_every == 0:
            run.log({"loss": loss_value, "lr": run.scheduler.get_last_lr()[0], "grad_norm": norm})
        if run.step % config.eval_every == 0 or run.step == config.steps:
            improved = False
            if dist_info.main:
                run.model.eval()
                metrics = {key: value for key, value in evaluate(run.model).items() if np.isscalar(value)}
                run.model.train()
                run.log({f"dev_{key}": value for key, value in metrics.items()})
                score = metrics[select_metric]
                improved = not best or (not math.isnan(score) and score > best[select_metric])
                if improved:
                    best = {**metrics, "step": run.step}
                    save_model(run.model, tokenizer, best_folder)
            improved = bool(run.reduce_sum(float(improved)))
            stale = 0 if improved else stale + 1
            if dist_info.main:
                best["stale"] = stale
                (best_folder / "dev_metrics.json").write_text(json.dumps(best, indent=2))
            run.save_checkpoint()
    if dist_info.main and (best_folder / "model.safetensors").is_file():
        load_weights(run.model, best_folder / "model.safetensors", dist_info.device)
    best.pop("stale", None)
    return run, best
