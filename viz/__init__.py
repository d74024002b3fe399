"""viz: DNABERT-viz interpretation (landscapes, attributions, motifs, variants), figures and the ``dnabert`` CLI."""
