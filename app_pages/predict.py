"""Predict & explain: sequences in; probabilities, landscapes, attributions and attention maps out.

A result is shown only beside the model, input and settings it came from: change any of them and the page asks for
Run again instead of relabelling old numbers. Results live in the server-wide ``result_cache`` (plain data, no page
elements), so a repeated run, or a second user with the same input, replays without recomputing.
"""
from __future__ import annotations

import streamlit as st

from app_pages.common import (MAX_BASES, MAX_SEQUENCES, MAX_TEXT_BYTES, MAX_UPLOAD_MB, download_figure, download_table,
                              guarded, input_fingerprint, logo_region, page_model, progress_callback, read_input,
                              result_cache)
from viz.attribution import integrated_gradients
from viz.explain import (LandscapeSettings, analyse, attention_detail, errors_table, labelled_tracks_table,
                         predictions_table, tracks_table)
from viz.figures import (attention_map, attribution_logo, head_plot, landscape_heatmap, landscape_track,
                         token_window)
from viz.result_cache import request_key

SOURCES = {"paste": "Paste sequences", "upload": "Upload a file"}


def landscape_settings(n_layers: int, n_heads: int) -> LandscapeSettings:
    with st.expander("Landscape settings", expanded=False):
        c1, c2, c3 = st.columns(3)
        layer = c1.selectbox("Layer", list(range(1, n_layers + 1)), index=n_layers - 1, help="1 = first layer",
                             key="ls_layer")
        heads = c2.multiselect("Heads (empty: all)", list(range(1, n_heads + 1)), default=[], key="ls_heads")
        query = c3.radio("Query", ["cls", "mean"], format_func={"cls": "[CLS] row", "mean": "mean of rows"}.get,
                         horizontal=True, key="ls_query")
        reduce = c1.radio("Combine heads by", ["sum", "mean"], horizontal=True, key="ls_reduce")
        normalise = c2.checkbox("L2-normalise each landscape", key="ls_normalise")
    return LandscapeSettings(layers=(min(layer, n_layers) - 1,),
                             heads=tuple(h - 1 for h in heads if h <= n_heads) or None, reduce=reduce, query=query,
                             normalise=normalise)


def run_analysis(entry, loaded, source: str, text: str, upload, settings: LandscapeSettings, key: str) -> dict | None:
    parsed = guarded("Reading the input", lambda: read_input(source, text, upload, loaded.k))
    if parsed is None:
        return None
    records = list(parsed.records)
    analysis = None
    if records:
        bar = st.progress(0.0, text="Analysing")
        analysis = guarded("The analysis", lambda: result_cache().get_or_compute(
            request_key(entry.path, "analyse", tuple(records), settings),
            lambda: analyse(loaded, records, settings, progress=progress_callback(bar, "Analysing"))))
        bar.empty()
    return {"key": key, "model": entry.name, "records": records, "errors": parsed.errors,
            "truncated": parsed.truncated, "analysis": analysis, "n_ambiguous": parsed.n_ambiguous}


def show_input_notes(result: dict, entry) -> None:
    if result["truncated"]:
        st.warning(f"Input cut, {result['truncated']}. The app reads at most {MAX_SEQUENCES} records and "
                   f"{MAX_BASES:,} bases a run; the {len(result['records'])} records read are analysed. For the "
                   f"whole input: `dnabert attention -m {entry.path} FILE -o landscapes.tsv`.")
    if result["errors"]:
        st.warning(f"{len(result['errors'])} record(s) rejected; the others are analysed below.")
        st.code("\n".join(error.message for error in result["errors"][:20]), language=None)  # user text: never HTML
        rejected = errors_table(result["errors"])
        st.dataframe(rejected, hide_index=True)
        download_table(rejected, "rejected", "rejected")
    if result["n_ambiguous"]:
        st.caption(f"{result['n_ambiguous']} record(s) hold IUPAC ambiguity codes (N, R, Y…): their k-mers are "
                   "[UNK]; windows mostly [UNK] are not scored (NA).")


def show_one_sequence(entry, loaded, result: dict, labels: list[str]):
    analysis, records = result["analysis"], result["records"]
    landscapes = analysis.landscapes
    st.subheader("One sequence")
    ids = [item.record_id for item in landscapes]
    index = st.selectbox("Sequence", range(len(ids)), format_func=lambda i: ids[i], key=f"seq-{result['key']}")
    landscape, record = landscapes[index], records[index]
    attribution = None
    if labels:
        c1, c2 = st.columns([1, 2])
        overlay = c1.checkbox("Overlay integrated-gradients attribution", key="ig_overlay")
        target = c2.selectbox("Toward class", labels, index=len(labels) - 1, disabled=not overlay, key="ig_target")
        if overlay:
            with st.spinner("Integrated gradients…"):
                attribution = guarded("Integrated gradients", lambda: result_cache().get_or_compute(
                    request_key(entry.path, "ig", record, target),
                    lambda: next(integrated_gradients(loaded, [record], target=target))))
    else:
        st.caption("This model is an encoder without a trained classification head: it shows where it attends, but "
                   "has no class probabilities or attributions. Fine-tune it (`dnabert finetune`) for those.")
    track = landscape_track(landscape, attribution)
    st.plotly_chart(track, width="stretch", key="track-chart")
    window = loaded.window_size()
    if len(record.sequence) > window:
        prediction = analysis.predictions[index] if analysis.predictions else None
        n_windows = len(prediction.window_starts) if prediction else "several"
        st.caption(f"{len(record.sequence)} bp, longer than the model's window ({window} bp, the length it was "
                   f"trained on): scored in {n_windows} overlapping windows; each base is the mean over the windows "
                   "covering it.")
    download_figure(track, f"landscape_{landscape.record_id}", "track")
    if labels and st.button("Mutate this sequence (Compare alleles)", key="mutate"):
        st.session_state["allele_sequence"] = f">{record.id}\n{record.sequence}\n"
        st.switch_page("app_pages/alleles.py")
    groups = {"attention": [landscape], **({"attribution": [attribution]} if attribution is not None else {})}
    download_table(labelled_tracks_table(groups), f"track_{landscape.record_id}", "track-table")
    if attribution is not None:
        show_logo(attribution, landscape, result["key"], index)
    return record


def show_logo(attribution, landscape, key: str, index: int) -> None:
    st.caption(f"Attribution: {attribution.source}; largest convergence delta {attribution.delta:.2g}.")
    start, end = logo_region(landscape.scores, f"logo-{key}-{index}", "the landscape's peak")
    logo = attribution_logo(attribution, start, end)
    st.pyplot(logo)
    download_figure(logo, f"attribution_logo_{attribution.record_id}", "logo")


def show_attention_maps(entry, loaded, record, result_key: str) -> None:
    if not st.toggle("Attention map and head plots", key="show_maps"):
        return
    config = loaded.model.config
    c1, c2, c3 = st.columns(3)
    map_layer = c1.selectbox("Map layer", list(range(1, config.num_hidden_layers + 1)),
                             index=config.num_hidden_layers - 1, key="map_layer")
    map_head = c2.selectbox("Map head", list(range(1, config.num_attention_heads + 1)), key="map_head")
    window = loaded.window_size()
    starts = list(range(0, max(len(record.sequence) - window, 0) + 1, window))
    start = c3.selectbox("Window start (bp, 0-based)", starts, disabled=len(starts) == 1, key=f"map-start-{result_key}")
    detail = guarded("Attention maps", lambda: result_cache().get_or_compute(
        request_key(entry.path, "detail", record.sequence, map_layer - 1, start, window),
        lambda: attention_detail(loaded, record.sequence, map_layer - 1, start, window)))
    if detail is None:
        return
    n_tokens = len(detail.tokens)
    span = min(64, n_tokens)
    first = 0
    if n_tokens > span:
        first = st.slider("Tokens shown (first token)", 0, n_tokens - span, 0, key=f"map-first-{result_key}",
                          help=f"{span} tokens at a time, so that every k-mer label is readable")
    scale = st.radio("Colour scale", ["row", "log", "linear"], horizontal=True, key="map_scale",
                     format_func={"row": "each row scaled to its maximum", "log": "log10 weight",
                                  "linear": "raw weight"}.get)
    figure = attention_map(detail.maps[map_head - 1], detail.tokens, map_layer, map_head,
                           window=token_window(n_tokens, first, span), scale=scale)
    st.plotly_chart(figure, width="stretch", key="map-chart")
    download_figure(figure, f"attention_map_L{map_layer}H{map_head}", "map")
    heads_figure = head_plot(detail.cls_rows, start=detail.start)
    st.plotly_chart(heads_figure, width="stretch", key="heads-chart")
    download_figure(heads_figure, "head_plots", "heads")


entry, loaded = page_model("Predict & explain")
config = loaded.model.config
labels = list(loaded.labels)

if "example_text" in st.session_state:  # an example picked on Home: it becomes the pasted text in this run
    st.session_state["predict_source"] = "paste"
    st.session_state["predict_text"] = st.session_state.pop("example_text")
source = st.radio("Input", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="predict_source")
text, upload = "", None
if source == "paste":
    text = st.text_area("Sequences: FASTA, or one sequence per line", height=160, key="predict_text",
                        placeholder=">my_sequence\nACGT…")
else:
    upload = st.file_uploader("FASTA, CSV/TSV with a 'sequence' column, or one sequence per line; plain or gzip",
                              type=["fa", "fasta", "fna", "txt", "csv", "tsv", "gz"], key="predict_upload")
st.caption(f"Up to {MAX_UPLOAD_MB} MB a file ({MAX_TEXT_BYTES // 2**20} MB once unzipped), {MAX_SEQUENCES} records and "
           f"{MAX_BASES:,} bases a run; the `dnabert` command line has no limits.")
settings = landscape_settings(config.num_hidden_layers, config.num_attention_heads)
fingerprint = input_fingerprint(source, text, upload)
current_key = request_key(entry.path, fingerprint, settings)

if st.button("Run", type="primary"):  # never disabled: a click right after typing must not be lost
    if fingerprint is None:
        st.warning("Nothing to analyse yet: paste sequences or upload a file first.")
    else:
        st.session_state["predict_result"] = run_analysis(entry, loaded, source, text, upload, settings, current_key)

result = st.session_state.get("predict_result")
if not result:
    st.info("Paste or upload sequences, or load an example on the Home page, then press Run.")
    st.stop()
if result["key"] != current_key:
    st.info(f"The model, the input or the settings changed since the last run (it used {result['model']}). Press Run "
            f"to analyse {fingerprint[0] if fingerprint else 'new input'} with {entry.name}.")
    st.stop()

show_input_notes(result, entry)
analysis = result["analysis"]
if analysis is None:
    st.error("No record could be analysed.")
    st.stop()
if analysis.predictions:
    st.subheader("Predictions")
    table = predictions_table(analysis.predictions, labels)
    st.dataframe(table, hide_index=True)
    download_table(table, "predictions", "predictions")
if len(analysis.landscapes) > 1:
    st.subheader("Landscapes of all sequences")
    sort = st.radio("Sort rows by", ["input", "peak", "total"], horizontal=True, key="heatmap_sort")
    heatmap = landscape_heatmap(analysis.landscapes, sort=sort)
    st.plotly_chart(heatmap, width="stretch", key="heatmap-chart")
    download_figure(heatmap, "landscape_heatmap", "heatmap")
    download_table(tracks_table(analysis.landscapes, track="attention"), "landscapes", "landscapes")
chosen = show_one_sequence(entry, loaded, result, labels)
show_attention_maps(entry, loaded, chosen, result["key"])
