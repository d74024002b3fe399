"""Known-biology check (issue 6): does the promoter model attend to the TATA box?

    python scripts/tata_landscape.py [--model assets/models/promoter-300] [--test data/promoter-300/test.csv]
                                     [--tata ../shared/data/deepromoter-tata/hs_pos_TATA.txt] [--out docs]

Uses only held-out sequences: the promoters (label 1) of the promoter-300 test split (fold 4, never trained on), split
into TATA promoters (exact match to DeePromoter's human TATA set) and the others. For each group: the mean attention
landscape (last layer, [CLS] query, sum of heads, each landscape L2-normalised), its peak position, the mean score in
positions 220-230 of 300 (TSS at 250: 20-30 bp upstream, where the TATA box sits) against the whole-sequence mean,
and the entropy of the mean landscape read as a distribution over positions (flatter = higher). The positions of
TATA-box matches (TATAWAW) in the TATA group are drawn beside it for reference. Writes a PNG and an SVG figure and prints
a table.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dnabert_core.model import load_model  # noqa: E402
from dnabert_core.records import SequenceRecord  # noqa: E402
from viz.cli.interpret import parse_numbers  # noqa: E402
from viz.figures import save_figure  # noqa: E402
from viz.landscape import attention_landscapes  # noqa: E402

TATA_BOX = re.compile(r"(?=TATA[AT]A[AT])")
WINDOW = (220, 230)  # 1-based positions, 20-30 bp upstream of the TSS at 250


def entropy(profile: np.ndarray) -> float:
    """Shannon entropy (bits) of a non-negative profile read as a distribution over positions."""
    p = np.clip(profile, 0, None)
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def summarise(name: str, mean: np.ndarray, n: int) -> dict:
    lo, hi = WINDOW
    return {"group": name, "n": n, "peak": int(np.argmax(mean)) + 1,
            "window_over_mean": float(mean[lo - 1 : hi].mean() / mean.mean()), "entropy_bits": entropy(mean)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "assets/models/promoter-300"))
    parser.add_argument("--test", default=str(ROOT / "data/promoter-300/test.csv"))
    parser.add_argument("--tata", default=str(ROOT.parent / "shared/data/deepromoter-tata/hs_pos_TATA.txt"))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--query", choices=["cls", "mean"], default="cls")
    parser.add_argument("--layers", default="last", help="'last', 'all', or 1-based layers such as 1-2 or 1,3")
    parser.add_argument("--name", default="tata_landscape", help="file name of the figure, without suffix")
    args = parser.parse_args()

    tata = {line.strip().upper() for line in Path(args.tata).read_text().splitlines() if line.strip()}
    with open(args.test) as handle:
        promoters = [row for row in csv.DictReader(handle) if row["label"] == "1"]
    groups = {
        "TATA promoters": [SequenceRecord(r["id"], r["sequence"]) for r in promoters if r["sequence"] in tata],
        "non-TATA promoters": [SequenceRecord(r["id"], r["sequence"]) for r in promoters if r["sequence"] not in tata],
    }
    loaded = load_model(args.model)
    n_layers = loaded.model.config.num_hidden_layers
    if args.layers in ("last", "all"):
        layers = None if args.layers == "last" else list(range(n_layers))
    else:
        layers = parse_numbers(args.layers, "--layers", n_layers)
    figure = go.Figure()
    rows = []
    positions = np.arange(1, 301)
    for name, records in groups.items():
        records = [r for r in records if len(r.sequence) == 300]
        scores = np.stack([item.scores for item in attention_landscapes(loaded, records, layers=layers,
                                                                          query=args.query, normalise=True)])
        mean = scores.mean(axis=0)
        rows.append(summarise(name, mean, len(records)))
        figure.add_trace(go.Scatter(x=positions, y=mean, mode="lines", name=f"{name} (n={len(records)})"))
        if name.startswith("TATA"):
            hits = [m.start() + 1 for r in records for m in TATA_BOX.finditer(r.sequence)]
            counts = np.bincount(hits, minlength=301)[1:]
            figure.add_trace(go.Bar(x=positions, y=counts / counts.max() * mean.max(), name="TATAWAW starts (scaled)",
                                    opacity=0.3))
    figure.add_vrect(x0=WINDOW[0], x1=WINDOW[1], fillcolor="grey", opacity=0.15, line_width=0)
    figure.add_vline(x=250, line_dash="dot", annotation_text="TSS")
    layer_text = {"last": "last layer", "all": "all layers"}.get(args.layers, f"layers {args.layers}")
    figure.update_layout(title=f"Mean attention landscape of held-out promoters<br><sup>{Path(args.model).name}, "
                         f"{layer_text} of {n_layers}, {args.query} query, L2-normalised</sup>",
                         xaxis_title="position (bp, TSS at 250)", yaxis_title="mean score", template="plotly_white")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):  # no HTML here: plotly.js inlined would add 5 MB to the repository
        save_figure(figure, out / f"{args.name}.{suffix}")
    print("| group | n | peak position | mean in 220-230 / overall mean | entropy (bits; uniform = 8.23) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['group']} | {row['n']} | {row['peak']} | {row['window_over_mean']:.2f} | "
              f"{row['entropy_bits']:.3f} |")


if __name__ == "__main__":
    main()
