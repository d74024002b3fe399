"""Classification metrics on held-out data (SPEC section 4): accuracy, F1, MCC, AUROC, AUPRC, confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Metrics of class probabilities ``probs`` (n, n_classes) against integer labels ``y_true`` (n,).

    Binary: F1 of class 1, AUROC and AUPRC (average precision) of class 1's probability. More classes: macro F1,
    one-vs-rest AUROC and AUPRC averaged over the classes present in ``y_true`` (a class with no example has no
    curve). The confusion matrix has true classes as rows.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    binary = n_classes == 2
    present = np.unique(y_true)
    out = {
        "n": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "f1": float(f1_score(y_true, predicted, average="binary" if binary else "macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, predicted)),
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=list(range(n_classes))).tolist(),
    }
    if present.size < 2:  # AUC is undefined with one class present
        out["auroc"] = out["auprc"] = float("nan")
    elif binary:
        out["auroc"] = float(roc_auc_score(y_true, probs[:, 1]))
        out["auprc"] = float(average_precision_score(y_true, probs[:, 1]))
    else:
        truths = [(y_true == c).astype(int) for c in present]
        out["auroc"] = float(np.mean([roc_auc_score(t, probs[:, c]) for t, c in zip(truths, present)]))
        out["auprc"] = float(np.mean([average_precision_score(t, probs[:, c]) for t, c in zip(truths, present)]))
    return out


def classification_curves(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict:
    """ROC and precision-recall curves per class (one-vs-rest; only the positive class when binary)."""
    y_true = np.asarray(y_true)
    classes = [1] if len(labels) == 2 else range(len(labels))
    curves = {}
    for c in classes:
        truth = (y_true == c).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = roc_curve(truth, probs[:, c])
        precision, recall, _ = precision_recall_curve(truth, probs[:, c])
        curves[labels[c]] = {
            "fpr": fpr.tolist(), "tpr": tpr.tolist(), "precision": precision.tolist(), "recall": recall.tolist(),
            "auc_roc": float(roc_auc_score(truth, probs[:, c])),
            "auc_pr": float(average_precision_score(truth, probs[:, c])),
        }
    return curves
