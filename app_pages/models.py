"""Models: each model's card, held-out metrics, curves and confusion matrix; convert a DNABERT checkpoint."""
from __future__ import annotations

import streamlit as st

from dnabert_core.errors import DnabertError
from dnabert_core.model import convert_folder
from app_pages.common import download_figure, download_table
from viz.catalog import convertible, list_models, metrics_frame, models_dir
from viz.figures import confusion_figure

st.title("Models")
entries = list_models()
if not entries:
    st.error("No model found in assets/models or in the DNABERT_MODELS_DIR directory.")
for entry in entries:
    st.header(entry.name)
    st.caption(f"{'Shipped with the app' if entry.shipped else 'From the models directory'}: {entry.path}")
    metrics = entry.metrics
    if metrics and "test" in metrics:
        table = metrics_frame(metrics)
        st.dataframe(table, hide_index=True)
        download_table(table, f"{entry.name}_metrics", f"metrics-{entry.name}")
        left, right = st.columns(2)
        figure = confusion_figure(metrics["test"]["confusion_matrix"], metrics["labels"])
        left.plotly_chart(figure, width="stretch")
        with left:
            download_figure(figure, f"{entry.name}_confusion", f"confusion-{entry.name}")
        for path in entry.figures:
            right.image(str(path), caption=path.stem.replace("_", " "))
    elif entry.figures:
        for path in entry.figures:
            st.image(str(path), caption=path.stem.replace("_", " "))
    with st.expander("Model card"):
        st.markdown(entry.card)

st.header("Convert a DNABERT checkpoint")
folder = models_dir()
if folder is None:
    st.info("Set DNABERT_MODELS_DIR to a directory of model folders to convert public DNABERT checkpoints "
            "(pytorch_model.bin) into safetensors here, or run `dnabert convert FOLDER -o NEW_FOLDER`.")
else:
    candidates = convertible(folder)
    if not candidates:
        st.info(f"No folder in {folder} holds a pytorch_model.bin without a model.safetensors.")
    else:
        source = st.selectbox("Checkpoint folder", candidates, format_func=lambda p: p.name)
        if st.button("Convert to safetensors"):
            target = folder / f"{source.name}-safetensors"
            try:
                convert_folder(source, target)
                st.success(f"Wrote {target.name}; it is now in the model picker.")
            except DnabertError as error:
                st.error(str(error))
