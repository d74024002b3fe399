"""What a model folder holds (SPEC section 8), as plain names: importable without torch or scikit-learn, so that the
app's first page can list models before the heavy libraries load."""
from __future__ import annotations

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # in order of preference
METRIC_COLUMNS = ("accuracy", "f1", "mcc", "auroc", "auprc")  # the held-out table of cards, metrics.json and the app
# metrics.json "heldout": {set name: {"n": size, MODEL | CNN | KMER: metrics}}; the peers' names in cards and the app
MODEL, CNN, KMER = "model", "cnn", "kmer_lr"
PEER_NAMES = {MODEL: "this model", CNN: "CNN on one-hot bases", KMER: "k-mer logistic regression (k=1..6)"}
