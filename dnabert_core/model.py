"""Model folders: build, load (local folder or hub id), check against the vocabulary, save as safetensors, convert.

A model folder (SPEC section 8) is a Hugging Face BERT folder: ``config.json``, ``model.safetensors`` (or the public
checkpoints' ``pytorch_model.bin``, read only with ``weights_only=True``), ``vocab.txt`` and a ``README.md`` card.
k is inferred from the vocabulary. Remote code is never trusted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from dnabert_core.errors import ModelLoadError, OptionError, VocabularyError
from dnabert_core.folder import WEIGHT_FILES
from dnabert_core.tokenizer import MAX_POSITIONS, PAD_ID, KmerTokenizer

logger = logging.getLogger(__name__)

HUB_FILES = ["config.json", "vocab.txt", "model.safetensors", "pytorch_model.bin", "README.md"]
ARCHITECTURES: dict[str, type[PreTrainedModel]] = {
    "BertForSequenceClassification": BertForSequenceClassification,
    "BertForMaskedLM": BertForMaskedLM,
    "BertForPreTraining": BertForPreTraining,
    "BertModel": BertModel,
}
TASKS = ("as-saved", "finetune", "mlm")
TRAINING_LENGTH_KEY = "dnabert_training_length"  # config.json: bases of the longest fine-tuning input
LENGTH_MARGIN = 0.2  # inputs whose scored length differs from the training length by more than this fraction warn

# (layers, hidden, heads, intermediate): DNABERT's published size and our small embedded size
SIZES: dict[str, tuple[int, int, int, int]] = {
    "dnabert": (12, 768, 12, 3072),
    "mini": (4, 256, 4, 1024),
    "small": (4, 128, 4, 512),  # the shipped default models (dnabert-small-6): 2.3x faster than mini on 2 CPU cores
}


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with its tokenizer; ``labels`` are class names in id order (empty for masked LM)."""

    model: PreTrainedModel
    tokenizer: KmerTokenizer
    labels: tuple[str, ...]
    path: Path
    training_length: int | None = None  # bases of the fine-tuning inputs (config.json), None when unknown

    @property
    def k(self) -> int:
        return self.tokenizer.k

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def require_classifier(self) -> tuple[str, ...]:
        """The class labels; a clear error for a model without a trained classification head (a masked-LM encoder
        such as the public DNABERT checkpoints): its probabilities would be those of random weights."""
        if not self.labels:
            raise ModelLoadError(
                f"{self.path} is a {type(self.model).__name__} with no trained classification head, so it cannot give "
                f"class probabilities (a new head would be random). Fine-tune it first: dnabert finetune -m "
                f"{self.path} --train train.csv -o MY_MODEL; attention landscapes work on it as it is"
            )
        return self.labels

    def class_index(self, target: int | str | None) -> int | None:
        """A class index from its label or 0-based index (refused when it does not exist); None stays None."""
        labels = self.require_classifier()
        if target is None:
            return None
        if isinstance(target, str) and target in labels:
            return labels.index(target)
        try:
            index = int(target)
        except ValueError:
            raise OptionError(f"unknown target class {target!r}; the model's classes are {list(labels)}") from None
        if not 0 <= index < len(labels):
            raise OptionError(f"target class {index} does not exist; the model's classes are {list(labels)} "
                              f"(0..{len(labels) - 1})")
        return index

    def target_class(self, target: int | str | None) -> int:
        """The class to score or explain: ``target`` (a class name or 0-based index), by default the positive (last)
        class of a two-class model; a model with more classes has no positive one and must be told (OptionError)."""
        index = self.class_index(target)
        if index is not None:
            return index
        if len(self.labels) > 2:
            raise OptionError(f"this model has {len(self.labels)} classes ({', '.join(self.labels)}) and none is "
                              f"'the positive one': say which with a target (a class name or 0-based index)")
        return len(self.labels) - 1

    def window_size(self, window: int | None = None) -> int:
        """Bases per window: ``window`` when given, else the length the model was fine-tuned on, else the longest it
        takes (``tokenizer.max_bases``)."""
        if window is not None:
            return window
        if self.training_length is not None:
            return min(self.training_length, self.tokenizer.max_bases)
        return self.tokenizer.max_bases

    def length_warning(self, lengths: Mapping[int, int], window: int | None = None) -> str | None:
        """One line when some inputs are scored on windows whose length differs from the training length by more
        than ``LENGTH_MARGIN`` (None when all agree or the training length is unknown). ``lengths``: input length
        (bases) -> number of inputs of that length."""
        if self.training_length is None or not lengths:
            return None
        size = self.window_size(window)
        scored = Counter()
        for length, count in lengths.items():
            scored[min(length, size)] += count
        off = {n: c for n, c in scored.items() if abs(n - self.training_length) > LENGTH_MARGIN * self.training_length}
        if not off:
            return None
        return (
            f"{sum(off.values())} of {sum(scored.values())} inputs are scored on {min(off)}-{max(off)} bp windows, "
            f"but {self.path.name} was trained on {self.training_length} bp inputs (more than {LENGTH_MARGIN:.0%} "
            f"apart): their probabilities may not mean what they mean on {self.training_length} bp"
        )


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' own progress bars and "newly initialised weights" notices; we log clearer ones."""
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def build_config(
    k: int,
    *,
    size: str | None = "mini",
    layers: int | None = None,
    hidden: int | None = None,
    heads: int | None = None,
    intermediate: int | None = None,
    max_tokens: int = MAX_POSITIONS,
    labels: list[str] | None = None,
) -> BertConfig:
    """A ``BertConfig`` for a k-mer model: a named ``size`` (see ``SIZES``), each field overridable."""
    base = SIZES.get(size or "mini")
    if base is None:
        raise ModelLoadError(f"unknown model size {size!r}; choose one of {sorted(SIZES)}")
    n_layers, n_hidden, n_heads, n_inter = (
        v if v is not None else b for v, b in zip((layers, hidden, heads, intermediate), base)
    )
    if n_hidden % n_heads:
        raise ModelLoadError(f"the hidden size ({n_hidden}) is not a multiple of the number of heads ({n_heads})")
    labels = list(labels) if labels else ["0", "1"]
    return BertConfig(
        vocab_size=KmerTokenizer(k).vocab_size,
        hidden_size=n_hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        intermediate_size=n_inter,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=max_tokens,
        type_vocab_size=2,
        pad_token_id=PAD_ID,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )


def resolve_folder(name_or_path: str | Path, *, cache_dir: str | Path | None = None) -> Path:
    """A local model folder as it is, or a hub id (``owner/name``) downloaded once into the hub cache.

    Only the files a model folder needs are fetched; nothing here runs remote code.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    text = str(name_or_path)
    if path.exists():
        raise ModelLoadError(f"{text}: is a file; a model is a folder holding config.json, vocab.txt and weights")
    if text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"{text}: no such model folder (and not a hub id of the form owner/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=text, allow_patterns=HUB_FILES, cache_dir=cache_dir))
    except Exception as error:  # the hub client raises many types: report them all the same way
        raise ModelLoadError(f"{text}: not a local folder, and the hub download failed: {error}") from error


def read_config(folder: Path) -> tuple[BertConfig, KmerTokenizer]:
    """Read and cross-check ``config.json`` and ``vocab.txt`` of a folder; say exactly what disagrees."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{folder}: no config.json (a model folder holds config.json, vocab.txt and weights)")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{config_path}: not valid JSON ({error})") from error
    if raw.get("model_type", "bert") != "bert":
        raise ModelLoadError(f"{config_path}: model_type is {raw['model_type']!r}; only BERT (DNABERT) models load")
    config = BertConfig.from_dict(raw)
    vocab_path = folder / "vocab.txt"
    if not vocab_path.is_file():
        raise ModelLoadError(f"{folder}: no vocab.txt (DNABERT's k-mer vocabulary; k is inferred from it)")
    max_tokens = min(MAX_POSITIONS, config.max_position_embeddings)
    try:
        tokenizer = KmerTokenizer.from_vocab_file(vocab_path, max_tokens=max_tokens)
    except VocabularyError as error:
        raise ModelLoadError(str(error)) from error
    if config.vocab_size != tokenizer.vocab_size:
        raise ModelLoadError(
            f"{config_path}: vocab_size is {config.vocab_size}, but vocab.txt has {tokenizer.vocab_size} tokens "
            f"(k={tokenizer.k}); the model and vocabulary do not belong together"
        )
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file() and '"do_lower_case": true' in tokenizer_config.read_text(errors="replace"):
        logger.info("%s says do_lower_case: true; ignored, k-mers are never lower-cased", tokenizer_config)
    return config, tokenizer


def _weights_file(folder: Path) -> str:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return name
    raise ModelLoadError(f"{folder}: no weights (expected {' or '.join(WEIGHT_FILES)})")


def load_model(
    name_or_path: str | Path,
    *,
    task: str = "as-saved",
    num_labels: int | None = None,
    device: str | torch.device = "cpu",
    attn: str = "sdpa",
) -> LoadedModel:
    """Load a DNABERT model folder (or hub id) in eval mode, exactly as saved: every weight must be in the file.

    ``task="as-saved"``: the architecture the folder names (a classifier only if it was fine-tuned; anything else has
    no labels and ``require_classifier`` refuses it). ``task="finetune"``: a classifier for fine-tuning; a checkpoint
    without a head (the public ``BertForMaskedLM`` ones) gets a new one of ``num_labels`` classes (default 2), the only
    case where weights may be missing. ``task="mlm"``: the masked-LM model. ``attn``: "sdpa" (fast, no weights) or
    "eager" (returns attention weights).
    """
    if task not in TASKS:
        raise ModelLoadError(f"unknown task {task!r}; choose one of {TASKS}")
    folder = resolve_folder(name_or_path)
    config, tokenizer = read_config(folder)
    weights = _weights_file(folder)
    saved_arch = (config.architectures or ["BertForMaskedLM"])[0]
    if saved_arch not in ARCHITECTURES:
        raise ModelLoadError(f"{folder / 'config.json'}: architecture {saved_arch!r} is not one of {list(ARCHITECTURES)}")
    cls = {"finetune": BertForSequenceClassification, "mlm": BertForMaskedLM}.get(task, ARCHITECTURES[saved_arch])
    new_head = cls is BertForSequenceClassification and saved_arch != "BertForSequenceClassification"
    if new_head:
        n = num_labels or 2
        config.num_labels = n
        config.id2label = {i: str(i) for i in range(n)}
        config.label2id = {str(i): i for i in range(n)}
        logger.info("%s is a %s checkpoint: added a new %d-class head to fine-tune", folder, saved_arch, n)
    elif num_labels is not None and cls is BertForSequenceClassification and num_labels != config.num_labels:
        raise ModelLoadError(
            f"{folder}: the model has {config.num_labels} classes ({list(config.id2label.values())}), "
            f"but {num_labels} were asked for"
        )
    config._attn_implementation = attn
    try:
        with _quiet_transformers():
            model, info = cls.from_pretrained(
                folder,
                config=config,
                use_safetensors=weights == "model.safetensors",
                weights_only=True,
                local_files_only=True,
                attn_implementation=attn,
                output_loading_info=True,
            )
    except pickle.UnpicklingError as error:
        raise ModelLoadError(
            f"{folder / weights}: cannot load weights: the pickle holds more than tensors and was refused "
            f"(read with weights_only=True; it could run code). Ask its author for model.safetensors"
        ) from error
    except (OSError, RuntimeError, ValueError) as error:
        raise ModelLoadError(f"{folder / weights}: cannot load weights: {error}") from error
    # a new head (classifier, and the pooler that masked-LM checkpoints lack) is the one thing allowed to be new
    missing = [key for key in info.get("missing_keys", ())
               if not (new_head and key.startswith(("classifier.", "bert.pooler.")))]
    missing = [key for key in missing if key not in tied_parameter_names(model)]
    if missing:
        raise ModelLoadError(
            f"{folder / weights}: {len(missing)} weights of a {cls.__name__} are missing from the file (e.g. "
            f"{', '.join(sorted(missing)[:3])}); it would run with random values there. Is it the right folder?"
        )
    model.to(device).eval()
    is_classifier = isinstance(model, BertForSequenceClassification) and not new_head
    labels = tuple(str(model.config.id2label[i]) for i in range(model.config.num_labels)) if is_classifier else ()
    length = getattr(model.config, TRAINING_LENGTH_KEY, None)
    return LoadedModel(model=model, tokenizer=tokenizer, labels=labels, path=folder,
                       training_length=int(length) if length else None)


def tied_parameter_names(model: torch.nn.Module) -> set[str]:
    """Names under which a parameter appears a second time (tied weights, e.g. the masked-LM decoder and the word
    embeddings): safetensors stores such a tensor once, so these are the only names a file may lack."""
    first: dict[int, str] = {}
    tied = set()
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in first:
            tied.add(name)
        else:
            first[id(parameter)] = name
    return tied


def save_model(model: PreTrainedModel, tokenizer: KmerTokenizer, folder: str | Path, card: str | None = None) -> Path:
    """Write a model folder: config.json, model.safetensors, vocab.txt, tokenizer files and the README.md card."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _quiet_transformers():
        model.save_pretrained(folder)
    for stale in folder.glob("pytorch_model*.bin"):
        stale.unlink()
    _readable(folder / "model.safetensors")
    tokenizer.save_vocabulary(folder)
    # so that plain transformers' BertTokenizer.from_pretrained(folder) reads space-separated k-mers right
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": tokenizer.max_tokens},
            indent=2,
        )
        + "\n"
    )
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


def _readable(path: Path) -> None:
    """Give a written file the usual permissions (0644 under the default umask): safetensors writes 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_folder(source: str | Path, target: str | Path) -> Path:
    """Turn a public-format folder (``pytorch_model.bin``) into one with ``model.safetensors``, same architecture.

    The pickle is read with ``weights_only=True`` (tensors only, no code). A card records where it came from.
    """
    folder = resolve_folder(source)
    target = Path(target)
    if target.resolve() == folder.resolve():
        raise ModelLoadError(f"{target}: write the converted model to a new folder, not over its source")
    if target.exists() and not target.is_dir():
        raise ModelLoadError(f"{target}: is a file; give a folder to write the converted model into")
    if target.is_dir() and any(target.iterdir()):
        raise ModelLoadError(f"{target}: the folder is not empty; give a new or empty folder")
    loaded = load_model(folder, task="as-saved", attn="eager")
    original = folder / _weights_file(folder)
    card_path = folder / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else f"# {folder.name}\n"
    card += (
        f"\n## Conversion\nConverted by `dnabert convert` from `{original.name}` "
        f"(sha256 {_sha256(original)}) to `model.safetensors`; weights unchanged.\n"
    )
    return save_model(loaded.model, loaded.tokenizer, target, card=card)
