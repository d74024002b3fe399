"""Static training figures (matplotlib PNGs written beside a model): loss curve, ROC and PR curves."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def read_metrics_log(path: Path) -> list[dict]:
    """The JSON-lines metrics log written by a training run."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_loss_curve(metrics_log: Path, target: Path, title: str = "training") -> Path:
    """Training loss per logged step, and held-out / dev metrics when present, to a PNG."""
    records = read_metrics_log(metrics_log)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    held = [(r["step"], r[key]) for r in records for key in ("eval_loss", "dev_loss") if key in r]
    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    if train:
        axis.plot(*zip(*train), label="training loss", lw=1)
    if held:
        axis.plot(*zip(*held), "o-", label="held-out loss", lw=1.5)
    axis.set_xlabel("optimiser step")
    axis.set_ylabel("cross-entropy")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)
    return target


def plot_curves(curves: dict, target_dir: Path) -> list[Path]:
    """ROC and PR curves from ``metrics.classification_curves`` output: {class: {"fpr","tpr","precision","recall"}}."""
    written = []
    for kind, (x_key, y_key, x_label, y_label) in {
        "roc": ("fpr", "tpr", "false positive rate", "true positive rate"),
        "pr": ("recall", "precision", "recall", "precision"),
    }.items():
        figure, axis = plt.subplots(figsize=(4.5, 4.5), dpi=120)
        for name, curve in curves.items():
            axis.plot(curve[x_key], curve[y_key], lw=1.5, label=f"{name} ({curve['auc_' + kind]:.3f})")
        if kind == "roc":
            axis.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        axis.set_xlabel(x_label)
        axis.set_ylabel(y_label)
        axis.set_title(f"{kind.upper()} curve (test)")
        axis.legend(loc="lower right" if kind == "roc" else "lower left", fontsize=8)
        figure.tight_layout()
        path = target_dir / f"{kind}_curve.png"
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written
