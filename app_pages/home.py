"""Home: what the tool does, the chosen model in short, one-click examples, links to the pages."""
from __future__ import annotations

import streamlit as st

from app_pages.common import EXAMPLES, current_model
from viz.catalog import card_sections, list_models

EXAMPLE_SETS = {  # button label -> (example file, model it suits)
    "Promoters (TATA, non-TATA, negatives)": ("promoters.fa", "promoter-300"),
    "CTCF peaks and shuffled peaks": ("ctcf.fa", "tfbs-ctcf"),
    "Splice sites: acceptor, donor, neither": ("splice.fa", "splice-400"),
    "A 3 kb genome region (windows)": ("region.fa", "promoter-300"),
}


def load_example(file_name: str, model: str) -> None:
    """Button callback (runs before the script, so it may set the sidebar picker): the example becomes the pasted
    input of Predict & explain (handed over in ``example_text``, which that page moves into its text area before
    drawing it: a widget value set here, a page earlier, shows empty in the browser), with the model it suits."""
    st.session_state["example_text"] = (EXAMPLES / file_name).read_text()
    st.session_state.pop("predict_result", None)
    if model in {e.name for e in list_models()}:
        st.session_state["model_name"] = model
    st.session_state["go_to_predict"] = True


st.title("DNABERT-viz")
st.markdown(
    "Classify DNA sequences with DNABERT k-mer models and **see where the model looks**: per-nucleotide attention "
    "landscapes, integrated-gradients attributions, attention maps and head plots. For biologists with a FASTA file "
    "and no GPU, and for ML engineers who want exact, fast interpretation of their own DNABERT checkpoints.\n\n"
    "Paste sequences or upload a FASTA, CSV/TSV (plain or gzip) on **Predict & explain**; every figure downloads as "
    "PNG, SVG or HTML and every table as CSV or TSV. The same analyses run on thousands of sequences with the "
    "`dnabert` command line (`dnabert attention`, `dnabert attribute`, `dnabert predict`)."
)
entry = current_model()
if entry is not None:
    st.subheader(f"Model: {entry.name}")
    sections = card_sections(entry.card)
    st.markdown(sections.get("Task", "This model's card has no Task section."))
    if "Held-out test metrics" in sections:
        with st.expander("Held-out test metrics"):
            st.markdown(sections["Held-out test metrics"])

st.subheader("Try an example")
columns = st.columns(len(EXAMPLE_SETS))
for column, (label, (file_name, model)) in zip(columns, EXAMPLE_SETS.items()):
    column.button(label, key=f"example-{file_name}", width="stretch", on_click=load_example, args=(file_name, model))
if st.session_state.pop("go_to_predict", False):
    st.switch_page("app_pages/predict.py")

st.subheader("Pages")
st.page_link("app_pages/predict.py", label="Predict & explain: probabilities, landscapes, attributions",
             icon=":material/search:")
st.page_link("app_pages/motifs.py", label="Motifs: discovery from attention or attributions, logos, JASPAR names",
             icon=":material/genetics:")
st.page_link("app_pages/alleles.py", label="Compare alleles: ref/alt effects, aligned tracks, in-silico mutagenesis",
             icon=":material/compare_arrows:")
st.page_link("app_pages/scan.py", label="Genome scan: sliding-window probability track, peaks, bedGraph",
             icon=":material/timeline:")
st.page_link("app_pages/models.py", label="Models: cards, held-out metrics, curves; convert a DNABERT checkpoint",
             icon=":material/inventory_2:")
