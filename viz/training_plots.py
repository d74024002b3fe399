"""Static training figures (matplotlib PNGs written beside a model): loss curve, ROC and PR curves."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


COLOURS = {"dev_mcc": "tab:green", "dev_auroc": "tab:red"}
LABELS = {"dev_mcc": "dev MCC", "dev_auroc": "dev AUROC"}


def read_metrics_log(path: Path) -> list[dict]:
    """The JSON-lines metrics log written by a training run."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def curve_series(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """(step, value) series of a metrics log: "loss" (training), "held_loss" (eval or dev loss), "dev_mcc",
    "dev_auroc". A resumed run logs some steps twice; the last value of a step wins."""
    by_step: dict[int, dict] = {}
    for record in records:
        by_step.setdefault(record["step"], {}).update(record)
    ordered = [by_step[step] for step in sorted(by_step)]
    series = {key: [(r["step"], r[key]) for r in ordered if key in r] for key in ("loss", "dev_mcc", "dev_auroc")}
    series["held_loss"] = [(r["step"], r[key]) for r in ordered for key in ("eval_loss", "dev_loss") if key in r]
    return series


def plot_loss_curve(metrics_log: Path, target: Path, title: str = "training") -> Path:
    """Training loss per logged step, held-out / dev loss when present, and the dev MCC and AUROC of a fine-tuning
    run on a second axis (its learning curve), to a PNG."""
    series = curve_series(read_metrics_log(metrics_log))
    train, held = series["loss"], series["held_loss"]
    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    if train:
        axis.plot(*zip(*train), label="training loss", lw=1)
    if held:
        axis.plot(*zip(*held), "o-", label="held-out loss", lw=1.5)
    axis.set_xlabel("optimiser step")
    axis.set_ylabel("cross-entropy")
    axis.set_title(title)
    handles, labels = axis.get_legend_handles_labels()
    if series["dev_mcc"]:
        right = axis.twinx()
        for key, style in (("dev_mcc", "s-"), ("dev_auroc", "^-")):
            line = right.plot(*zip(*series[key]), style, lw=1.5, color=COLOURS[key], label=LABELS[key])
            handles += line
            labels.append(LABELS[key])
        right.set_ylim(0, 1)
        right.set_ylabel("dev metric")
    axis.legend(handles, labels, fontsize=8)
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
