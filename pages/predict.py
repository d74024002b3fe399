"""Predict & explain: sequences in; probabilities, landscapes, attributions and attention maps out."""
from __future__ import annotations

import streamlit as st

from dnabert_core.io import parse_bytes, parse_text
from pages.common import MAX_SEQUENCES, current_model, download_figure, download_table, get_model, progress_callback
from viz.attribution import integrated_gradients
from viz.explain import (
    LandscapeSettings,
    analyse,
    attention_detail,
    errors_table,
    predictions_table,
    tracks_table,
)
from viz.figures import attention_map, attribution_logo, head_plot, landscape_heatmap, landscape_track


@st.cache_data(show_spinner=False, max_entries=16)
def cached_analysis(model_path: str, records: tuple, settings: LandscapeSettings, _progress=None):
    return analyse(get_model(model_path), list(records), settings, progress=_progress)


@st.cache_data(show_spinner="Integrated gradients…", max_entries=64)
def cached_attribution(model_path: str, record, target: str):
    return next(integrated_gradients(get_model(model_path), [record], target=target))


@st.cache_data(show_spinner="Attention maps…", max_entries=16)
def cached_detail(model_path: str, sequence: str, layer: int, start: int):
    return attention_detail(get_model(model_path), sequence, layer, start)


entry = current_model()
st.title("Predict & explain")
if entry is None:
    st.error("No model is available; see the Models page.")
    st.stop()
loaded = get_model(str(entry.path))
config = loaded.model.config
n_layers, n_heads = config.num_hidden_layers, config.num_attention_heads

text = st.text_area("Paste sequences: FASTA, or one sequence per line", value=st.session_state.get("predict_text", ""),
                    height=160, placeholder=">my_sequence\nACGT…")
st.session_state["predict_text"] = text
upload = st.file_uploader("…or upload a file (FASTA, CSV/TSV with a 'sequence' column, plain or gzip)",
                          type=["fa", "fasta", "fna", "txt", "csv", "tsv", "gz"])
with st.expander("Landscape settings", expanded=False):
    c1, c2, c3 = st.columns(3)
    layer = c1.selectbox("Layer", list(range(1, n_layers + 1)), index=n_layers - 1, help="1 = first layer")
    heads = c2.multiselect("Heads (empty: all)", list(range(1, n_heads + 1)), default=[])
    query = c3.radio("Query", ["cls", "mean"], format_func={"cls": "[CLS] row", "mean": "mean of rows"}.get,
                     horizontal=True)
    reduce = c1.radio("Combine heads by", ["sum", "mean"], horizontal=True)
    normalise = c2.checkbox("L2-normalise each landscape")
settings = LandscapeSettings(layers=(layer - 1,), heads=tuple(h - 1 for h in heads) or None, reduce=reduce,
                             query=query, normalise=normalise)

if st.button("Run", type="primary"):
    if upload is not None:
        parsed = parse_bytes(upload.getvalue(), name=upload.name, min_length=loaded.k)
    else:
        parsed = parse_text(text, min_length=loaded.k)
    records = parsed.records
    if len(records) > MAX_SEQUENCES:
        st.warning(f"{len(records)} sequences given; the app analyses the first {MAX_SEQUENCES} per run. For more, "
                   f"use the command line: `dnabert attention -m {entry.path} FILE -o landscapes.tsv`.")
        records = records[:MAX_SEQUENCES]
    if records:
        bar = st.progress(0.0, text="Analysing")
        analysis = cached_analysis(str(entry.path), tuple(records), settings,
                                   _progress=progress_callback(bar, "Analysing"))
        bar.empty()
    else:
        analysis = None
    st.session_state["predict_result"] = {"model": entry.name, "records": records, "errors": parsed.errors,
                                          "analysis": analysis, "n_ambiguous": parsed.n_ambiguous}

result = st.session_state.get("predict_result")
if not result:
    st.info("Paste or upload sequences, or load an example on the Home page, then press Run.")
    st.stop()
if result["model"] != entry.name:
    st.info(f"These results come from {result['model']}; press Run to analyse with {entry.name}.")

if result["errors"]:
    st.warning(f"{len(result['errors'])} record(s) rejected; the others are analysed below.")
    st.code("\n".join(error.message for error in result["errors"][:20]), language=None)  # user text: never markdown
    rejected = errors_table(result["errors"])
    st.dataframe(rejected, hide_index=True)
    download_table(rejected, "rejected", "rejected")
if result["n_ambiguous"]:
    st.caption(f"{result['n_ambiguous']} record(s) hold IUPAC ambiguity codes (N, R, Y…): their k-mers are [UNK].")
analysis = result["analysis"]
if analysis is None:
    st.error("No record could be analysed.")
    st.stop()

labels = list(get_model(str(entry.path)).labels)
if analysis.predictions:
    st.subheader("Predictions")
    table = predictions_table(analysis.predictions, labels)
    st.dataframe(table, hide_index=True)
    download_table(table, "predictions", "predictions")

landscapes = analysis.landscapes
if len(landscapes) > 1:
    st.subheader("Landscapes of all sequences")
    sort = st.radio("Sort rows by", ["input", "peak", "total"], horizontal=True, key="heatmap_sort")
    heatmap = landscape_heatmap(landscapes, sort=sort)
    st.plotly_chart(heatmap, width="stretch")
    download_figure(heatmap, "landscape_heatmap", "heatmap")
    download_table(tracks_table(landscapes), "landscapes", "landscapes")

st.subheader("One sequence")
ids = [item.record_id for item in landscapes]
index = st.selectbox("Sequence", range(len(ids)), format_func=lambda i: ids[i])
landscape, record = landscapes[index], result["records"][index]
attribution = None
if labels:
    c1, c2 = st.columns([1, 2])
    overlay = c1.checkbox("Overlay integrated-gradients attribution")
    target = c2.selectbox("Toward class", labels, index=len(labels) - 1, disabled=not overlay)
    if overlay:
        attribution = cached_attribution(str(entry.path), record, target)
track = landscape_track(landscape, attribution)
st.plotly_chart(track, width="stretch")
if len(record.sequence) > loaded.tokenizer.max_bases:
    prediction = analysis.predictions[index] if analysis.predictions else None
    st.caption(f"{len(record.sequence)} bp, longer than one window ({loaded.tokenizer.max_bases} bp): scored in "
               f"{len(prediction.window_starts) if prediction else 'several'} overlapping windows; each base is the "
               "mean over the windows covering it.")
download_figure(track, f"landscape_{landscape.record_id}", "track")
download_table(tracks_table([landscape] + ([attribution] if attribution else [])), f"track_{landscape.record_id}",
               "track-table")
if attribution is not None:
    st.caption(f"Attribution: {attribution.source}; largest convergence delta {attribution.delta:.2g}.")
    logo = attribution_logo(attribution, 0, min(len(record.sequence), 120))
    st.pyplot(logo)
    download_figure(logo, f"attribution_logo_{landscape.record_id}", "logo")

with st.expander("Attention map and head plots"):
    c1, c2, c3 = st.columns(3)
    map_layer = c1.selectbox("Map layer", list(range(1, n_layers + 1)), index=n_layers - 1, key="map_layer")
    map_head = c2.selectbox("Map head", list(range(1, n_heads + 1)), key="map_head")
    starts = list(range(0, max(len(record.sequence) - loaded.tokenizer.max_bases, 0) + 1, loaded.tokenizer.max_bases))
    start = c3.selectbox("Window start (bp)", starts, disabled=len(starts) == 1)
    if st.button("Show attention map and head plots"):
        detail = cached_detail(str(entry.path), record.sequence, map_layer - 1, start)
        figure = attention_map(detail.maps[map_head - 1], detail.tokens, map_layer, map_head)
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, f"attention_map_L{map_layer}H{map_head}", "map")
        heads_figure = head_plot(detail.cls_rows)
        st.plotly_chart(heads_figure, width="stretch")
        download_figure(heads_figure, "head_plots", "heads")
