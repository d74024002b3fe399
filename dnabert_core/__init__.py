"""dnabert_core: sequences in, DNABERT tokens and models, predictions out (no plotting, no UI)."""
