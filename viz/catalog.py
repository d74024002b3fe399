"""Which models the app offers: the shipped ones in ``assets/models/`` and the folders of a configured models
directory (``DNABERT_MODELS_DIR``), never an arbitrary path typed by a remote user. Cards and metrics are read here."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dnabert_core.folder import CNN, KMER, METRIC_COLUMNS, MODEL, PEER_NAMES, WEIGHT_FILES

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models"
MODELS_DIR_ENV = "DNABERT_MODELS_DIR"


@dataclass(frozen=True)
class ModelEntry:
    """A model folder the app may load: ``name`` shown to users, ``shipped`` when it lives in assets/models."""

    name: str
    path: Path
    shipped: bool

    @property
    def card(self) -> str:
        """The model card (README.md), or a line saying there is none."""
        card = self.path / "README.md"
        return card.read_text(encoding="utf-8") if card.is_file() else f"# {self.name}\n\nThis folder has no model card."

    @property
    def metrics(self) -> dict | None:
        """The held-out metrics written by fine-tuning (metrics.json), or None."""
        path = self.path / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def figures(self) -> list[Path]:
        """PNG figures beside the model (ROC and PR curves, loss curve)."""
        return sorted(self.path.glob("*.png"))

    @property
    def is_classifier(self) -> bool:
        config = json.loads((self.path / "config.json").read_text())
        return any("SequenceClassification" in a for a in config.get("architectures") or [])


def models_dir() -> Path | None:
    """The configured models directory (``DNABERT_MODELS_DIR``), when set and present."""
    value = os.environ.get(MODELS_DIR_ENV)
    return Path(value) if value and Path(value).is_dir() else None


def _is_model(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any((folder / w).is_file() for w in WEIGHT_FILES)


def list_models(shipped: Path = SHIPPED, configured: Path | None = None) -> list[ModelEntry]:
    """Shipped models first, then the configured directory's model folders, each sorted by name."""
    configured = configured if configured is not None else models_dir()
    entries = [ModelEntry(p.name, p, True) for p in sorted(shipped.iterdir()) if _is_model(p)] if shipped.is_dir() \
        else []
    if configured is not None:
        entries += [ModelEntry(p.name, p, False) for p in sorted(configured.iterdir()) if p.is_dir() and _is_model(p)]
    return entries


def convertible(configured: Path | None = None) -> list[Path]:
    """Folders of the configured directory in the public DNABERT format (pytorch_model.bin, no safetensors)."""
    configured = configured if configured is not None else models_dir()
    if configured is None:
        return []
    return [p for p in sorted(configured.iterdir()) if p.is_dir() and (p / "pytorch_model.bin").is_file()
            and not (p / "model.safetensors").is_file()]


def card_sections(card: str) -> dict[str, str]:
    """A model card's ``## heading`` sections, in order: heading -> body (the title line is dropped)."""
    sections: dict[str, str] = {}
    heading = None
    for line in card.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return {h: body.strip() for h, body in sections.items()}


def metrics_frame(metrics: dict) -> pd.DataFrame:
    """Held-out metrics of the model and of its peers (CNN, k-mer logistic regression): one row per held-out set
    and model (the test set first), or, for a folder written before held-out sets, one row per model on the test."""
    columns = list(METRIC_COLUMNS)
    if metrics.get("heldout"):
        rows = [{"held-out set": name, "n": row["n"], "model": PEER_NAMES[key], **{c: row[key].get(c) for c in columns}}
                for name, row in metrics["heldout"].items() for key in (MODEL, CNN, KMER) if key in row]
    else:
        rows = [{"held-out set": "test", "n": metrics.get("n_test"), "model": name,
                 **{c: metrics[key].get(c) for c in columns}}
                for name, key in ((PEER_NAMES[MODEL], "test"), (PEER_NAMES[KMER], "baseline")) if key in metrics]
    import pandas as pd  # lazily: the app's Home page lists models without pandas

    return pd.DataFrame(rows, columns=["held-out set", "n", "model", *columns])


# ------------------------------------------------------------------------------------------------------------ genomes
EXAMPLES = ROOT / "assets" / "examples"
GENOMES_DIR_ENV = "DNABERT_GENOMES_DIR"
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")
SHIPPED_GENOMES = {"example: 3.3 kb of chr22 around ADA2 (with variants.vcf)": EXAMPLES / "variants_region.fa",
                   "example: 3 kb of chr22 (21.5 Mb)": EXAMPLES / "region.fa"}


def list_genomes(configured: Path | None = None) -> dict[str, Path]:
    """Reference FASTA files the app may open, by name shown to users: the shipped example regions, then the FASTA
    files of the directory named by ``DNABERT_GENOMES_DIR`` (users pick from these, never type a path)."""
    genomes = {name: path for name, path in SHIPPED_GENOMES.items() if path.is_file()}
    folder = configured or (Path(os.environ[GENOMES_DIR_ENV]) if os.environ.get(GENOMES_DIR_ENV) else None)
    if folder is not None and folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.lower().endswith(FASTA_SUFFIXES):
                genomes[path.name] = path
    return genomes
