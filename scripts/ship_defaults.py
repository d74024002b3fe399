"""Copy trained default models from a runs directory into assets/models/, keeping only what the app and users need.

    python scripts/ship_defaults.py runs/defaults assets/models

Copies, for each of dnabert-small-6, promoter-300, tfbs-ctcf and splice-400: config.json, model.safetensors, vocab.txt,
tokenizer_config.json, README.md (the model card), metrics.json, metrics.jsonl and the PNG figures. Checkpoints, the
best/ folder and optimiser state stay behind. Prints each model's size and the total (the budget is 40 MB).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

MODELS = ("dnabert-small-6", "promoter-300", "tfbs-ctcf", "splice-400")
KEEP = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "README.md", "metrics.json",
        "metrics.jsonl")
BUDGET_MB = 40.0


def ship(runs: Path, assets: Path) -> float:
    """Copy every model folder found in ``runs``; returns the total size in MB."""
    total = 0.0
    for name in MODELS:
        source = runs / name
        if not (source / "model.safetensors").is_file():
            print(f"{name}: not trained yet ({source} has no model.safetensors), skipped")
            continue
        target = assets / name
        target.mkdir(parents=True, exist_ok=True)
        files = [source / f for f in KEEP if (source / f).is_file()] + sorted(source.glob("*.png"))
        for path in files:
            shutil.copy2(path, target / path.name)
        size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
        total += size
        print(f"{name}: {len(files)} files, {size:.1f} MB")
    print(f"total {total:.1f} MB (budget {BUDGET_MB:.0f} MB)")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    parser.add_argument("assets", type=Path)
    args = parser.parse_args()
    if ship(args.runs, args.assets) > BUDGET_MB:
        raise SystemExit(f"the shipped models exceed {BUDGET_MB:.0f} MB")


if __name__ == "__main__":
    main()
