"""Known-biology check (issues 6 and 14): do the promoter model's landscapes follow content, and does it look at the
TATA box?

    python scripts/tata_landscape.py [--model assets/models/promoter-300] [--test data/promoter-300/test.csv]
                                     [--tata ../shared/data/deepromoter-tata/hs_pos_TATA.txt] [--out docs]
                                     [--n 300] [--ig 100] [--heads]

Uses only held-out sequences: the promoters (label 1) of the promoter-300 test split (fold 4, never trained on), split
into TATA promoters (exact match to DeePromoter's human TATA set) and the others, beside uniformly random 300 bp
sequences (seeded) and the test split's negatives. For each group, from the mean attention landscape (last layer,
[CLS] query, sum of heads, each landscape L2-normalised) and the mean integrated-gradients track (absolute values,
toward p(promoter)):
- the argmax of the mean track and the fraction of its mass in 200-240 of 300 (TSS at 250: the TATA box sits 20-30 bp
  upstream; a flat track has 41/300 = 0.137 there);
- how alike the landscapes of unrelated sequences are: the mean Pearson correlation over all pairs (one shape for
  every input reads near 1).
``--heads`` adds a table of every layer and head: where the mean landscape of non-TATA promoters and of random DNA peaks
and the share of its mass in the 9 positions around that peak (a head locked on a position peaks at the same place
in both, with most of its mass there). ``--model`` may be a masked-LM encoder (no IG then): the same table shows
which heads pre-training locked before any fine-tuning. Writes PNG and SVG figures and
prints Markdown tables.
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
from viz.attribution import integrated_gradients  # noqa: E402
from viz.figures import save_figure  # noqa: E402
from viz.landscape import attention_landscapes  # noqa: E402

TATA_BOX = re.compile(r"(?=TATA[AT]A[AT])")
WINDOW = (200, 240)  # 1-based, inclusive: the TATA box region, 10-50 bp upstream of the TSS at 250
LENGTH = 300


def mass_fraction(profile: np.ndarray, window: tuple[int, int] = WINDOW) -> float:
    """Share of a non-negative profile's total inside the 1-based inclusive ``window``."""
    p = np.clip(profile, 0, None)
    return float(p[window[0] - 1 : window[1]].sum() / p.sum())


def mean_pairwise_correlation(tracks: np.ndarray) -> float:
    """Mean Pearson correlation over all pairs of rows of (n, L) ``tracks``."""
    centred = tracks - tracks.mean(axis=1, keepdims=True)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    gram = unit @ unit.T
    n = len(tracks)
    return float((gram.sum() - n) / (n * (n - 1)))


def read_groups(test: Path, tata_path: Path, n: int, rng: np.random.Generator) -> dict[str, list[SequenceRecord]]:
    tata = {line.strip().upper() for line in tata_path.read_text().splitlines() if line.strip()}
    with test.open() as handle:
        rows = [row for row in csv.DictReader(handle) if len(row["sequence"]) == LENGTH]
    promoters = [r for r in rows if r["label"] == "1"]
    groups = {
        "TATA promoters": [r for r in promoters if r["sequence"] in tata],
        "non-TATA promoters": [r for r in promoters if r["sequence"] not in tata],
        "test negatives (all kinds)": [r for r in rows if r["label"] == "0"],
    }
    out = {name: [SequenceRecord(r["id"], r["sequence"]) for r in members[:n]] for name, members in groups.items()}
    out["uniform random DNA"] = [SequenceRecord(f"random{i}", "".join(rng.choice(list("ACGT"), LENGTH)))
                                 for i in range(n)]
    return out


def head_peak(loaded, records: list[SequenceRecord], layer: int, head: int) -> tuple[int, float]:
    """1-based peak of one head's mean landscape over ``records`` and the share of its mass within +-4 bp of it."""
    mean = np.stack([t.scores for t in attention_landscapes(loaded, records, layers=[layer], heads=[head],
                                                              normalise=True)]).mean(axis=0)
    peak = int(np.argmax(mean))
    return peak + 1, float(mean[max(peak - 4, 0) : peak + 5].sum() / mean.sum())


def head_table(loaded, promoters: list[SequenceRecord], random: list[SequenceRecord]) -> list[str]:
    """Every layer's and head's [CLS] landscape peak, in promoters and in random DNA: a head locked on a position
    peaks at the same place with most of its mass there in both."""
    config = loaded.model.config
    lines = ["| layer | head | promoters: peak | mass within +-4 | random DNA: peak | mass within +-4 |",
             "|---:|---:|---:|---:|---:|---:|"]
    for layer in range(config.num_hidden_layers):
        for head in range(config.num_attention_heads):
            (p_peak, p_share), (r_peak, r_share) = (head_peak(loaded, group, layer, head)
                                                    for group in (promoters, random))
            lines.append(f"| {layer + 1} | {head + 1} | {p_peak} | {p_share:.3f} | {r_peak} | {r_share:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "assets/models/promoter-300"))
    parser.add_argument("--test", type=Path, default=ROOT / "data/promoter-300/test.csv")
    parser.add_argument("--tata", type=Path, default=ROOT.parent / "shared/data/deepromoter-tata/hs_pos_TATA.txt")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--n", type=int, default=300, help="sequences per group for the landscapes")
    parser.add_argument("--ig", type=int, default=100, help="sequences per group for integrated gradients (0: none)")
    parser.add_argument("--heads", action="store_true", help="also the per-layer, per-head sink table")
    parser.add_argument("--name", default="tata_landscape", help="file name of the figure, without suffix")
    args = parser.parse_args()

    groups = read_groups(args.test, args.tata, args.n, np.random.default_rng(0))
    loaded = load_model(args.model)
    positive = loaded.labels[-1] if loaded.labels else None  # an encoder has no head: landscapes only, no IG
    figure = go.Figure()
    rows = []
    positions = np.arange(1, LENGTH + 1)
    for name, records in groups.items():
        scores = np.stack([t.scores for t in attention_landscapes(loaded, records, normalise=True)])
        mean = scores.mean(axis=0)
        row = {"group": name, "n": len(records), "peak": int(np.argmax(mean)) + 1, "mass": mass_fraction(mean),
               "correlation": mean_pairwise_correlation(scores)}
        if args.ig and positive is not None:
            ig = np.abs(np.stack([t.scores for t in integrated_gradients(loaded, records[: args.ig],
                                                                           target=positive)]))
            ig_mean = np.nanmean(ig, axis=0)
            row.update(ig_n=len(ig), ig_peak=int(np.nanargmax(ig_mean)) + 1, ig_mass=mass_fraction(ig_mean),
                       ig_correlation=mean_pairwise_correlation(np.nan_to_num(ig)))
        rows.append(row)
        figure.add_trace(go.Scatter(x=positions, y=mean, mode="lines", name=f"{name} (n={len(records)})"))
        if name.startswith("TATA"):
            hits = [m.start() + 1 for r in records for m in TATA_BOX.finditer(r.sequence)]
            counts = np.bincount(hits, minlength=LENGTH + 1)[1:]
            figure.add_trace(go.Bar(x=positions, y=counts / max(counts.max(), 1) * mean.max(),
                                    name="TATAWAW starts (scaled)", opacity=0.3))
    figure.add_vrect(x0=WINDOW[0], x1=WINDOW[1], fillcolor="grey", opacity=0.15, line_width=0)
    figure.add_vline(x=250, line_dash="dot", annotation_text="TSS")
    figure.update_layout(title=f"Mean attention landscape of held-out sequences<br><sup>{Path(args.model).name}, "
                         f"last layer, [CLS] query, sum of heads, L2-normalised</sup>",
                         xaxis_title="position (bp, TSS at 250)", yaxis_title="mean score", template="plotly_white")
    args.out.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):  # no HTML here: plotly.js inlined would add 5 MB to the repository
        save_figure(figure, args.out / f"{args.name}.{suffix}")
    print(f"model {args.model}; flat share of {WINDOW[0]}-{WINDOW[1]}: {(WINDOW[1] - WINDOW[0] + 1) / LENGTH:.3f}")
    print("| group | n | landscape argmax | landscape mass in 200-240 | landscape pairwise r | IG n | IG argmax | "
          "IG mass in 200-240 | IG pairwise r |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ig = (f"{r['ig_n']} | {r['ig_peak']} | {r['ig_mass']:.3f} | {r['ig_correlation']:.3f}" if "ig_n" in r
              else "- | - | - | -")
        print(f"| {r['group']} | {r['n']} | {r['peak']} | {r['mass']:.3f} | {r['correlation']:.3f} | {ig} |")
    if args.heads:
        print("\n" + "\n".join(head_table(loaded, groups["non-TATA promoters"][:100],
                                           groups["uniform random DNA"][:100])))


if __name__ == "__main__":
    main()
