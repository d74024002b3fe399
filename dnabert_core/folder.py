"""What a model folder holds (SPEC section 8), as plain names: importable without torch or scikit-learn, so that the
app's first page can list models before the heavy libraries load."""
from __future__ import annotations

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # in order of preference
METRIC_COLUMNS = ("accuracy", "f1", "mcc", "auroc", "auprc")  # the held-out table of cards, metrics.json and the app
