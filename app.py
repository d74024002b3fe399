"""Streamlit entry point: the home page (the analysis pages arrive with the app release)."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="DNABERT-viz", page_icon="🧬", layout="wide")
st.title("DNABERT-viz")
st.markdown(
    "Predict with DNABERT k-mer models and see where they look: attention landscapes, attributions, motifs and "
    "variant effects for DNA sequences.\n\n"
    "The command line is ready today: `dnabert predict -m MODEL sequences.fa -o predictions.tsv` "
    "(see `dnabert --help`). The interactive pages are being built."
)
