"""Motifs: positives (and negatives, or shuffled controls) in; motifs found from the model's attention or
attributions (SPEC section 6), named against JASPAR, with logos, instances on their landscapes, and every file.

As on Predict & explain, a result is shown only beside the model, inputs and settings it came from, and lives in the
server-wide ``result_cache`` (a second user with the same request replays it)."""
from __future__ import annotations

import streamlit as st

from app_pages.common import (MAX_BASES, MAX_SEQUENCES, MAX_UPLOAD_MB, download_table, guarded, input_fingerprint,
                              page_model, progress_callback, read_input, result_cache)
from viz.explain import errors_table
from viz.motif_search import display_table, report_motifs_table
from viz.result_cache import request_key

SOURCES = {"paste": "Paste", "upload": "Upload a file"}
NEGATIVES = {"shuffled": "Shuffled controls of the positives", "paste": "Paste", "upload": "Upload a file"}
LOGO_KINDS = {"information": "information (bits)", "probability": "probability", "counts": "counts"}


@st.cache_resource
def naming_warm_up():
    """Compile Tomtom (numba, about 40 s) in a background thread, once per server, so naming never blocks a page."""
    import threading

    from viz.known_motifs import warm_up

    thread = threading.Thread(target=warm_up, daemon=True, name="tomtom-warm-up")
    thread.start()
    return thread


def sequence_input(label: str, key: str, sources: dict[str, str]) -> tuple[str, str, object]:
    """A source radio, then a text area or an uploader: (source, pasted text, upload)."""
    source = st.radio(label, list(sources), format_func=sources.get, horizontal=True, key=f"{key}_source")
    text, upload = "", None
    if source == "paste":
        text = st.text_area(f"{label}: FASTA, or one sequence per line", height=140, key=f"{key}_text",
                            placeholder=">seq1\nACGT…")
    elif source == "upload":
        upload = st.file_uploader(f"{label}: FASTA, CSV/TSV with a 'sequence' column, or one per line; plain or gzip",
                                  type=["fa", "fasta", "fna", "txt", "csv", "tsv", "gz"], key=f"{key}_upload")
    return source, text, upload


def motif_settings(config, labels: list[str]):
    from viz.motif_search import CONTROL_SEED, MotifSettings
    from viz.motifs import MotifParams

    defaults = MotifParams()
    c1, c2, c3 = st.columns(3)
    score = c1.radio("Score", ["attention", "ig"], horizontal=True, key="motif_score",
                     format_func={"attention": "attention landscape", "ig": "integrated gradients"}.get,
                     disabled=not labels, help="Integrated gradients need a classifier")
    target = None
    if labels and score == "ig":
        target = c2.selectbox("IG toward class", labels, index=len(labels) - 1, key="motif_target")
    with st.expander("Discovery settings (SPEC section 6)", expanded=False):
        c1, c2, c3 = st.columns(3)
        layer = c1.selectbox("Attention layer", list(range(1, config.num_hidden_layers + 1)),
                             index=config.num_hidden_layers - 1, key="motif_layer")
        min_len = c2.number_input("Shortest high-score run (bp)", 1, 50, defaults.min_len, key="motif_min_len")
        window = c3.number_input("Instance window (bp)", 4, 200, defaults.window, key="motif_window")
        min_instances = c1.number_input("Fewest instances", 1, 1000, defaults.min_instances, key="motif_min_inst")
        alpha = c2.number_input("Adjusted p cut-off", 1e-10, 1.0, defaults.alpha, format="%.4g", key="motif_alpha")
        min_ratio = c3.number_input("High: score > this x the sequence's minimum", 0.0, 1000.0, defaults.min_ratio,
                                    key="motif_min_ratio")
        controls = c1.number_input("Shuffled controls per positive", 1, 10, 1, key="motif_controls")
        seed = c2.number_input("Seed of the controls", 0, 2**31 - 1, CONTROL_SEED, key="motif_seed")
        top = c3.number_input("JASPAR matches per motif", 0, 20, 5, key="motif_top")
    params = MotifParams(min_len=int(min_len), window=int(window), min_instances=int(min_instances),
                         alpha=float(alpha), min_ratio=float(min_ratio))
    return MotifSettings(score=score, params=params, layers=(layer - 1,), target=target, controls=int(controls),
                         seed=int(seed), top=int(top))


def run_search(entry, loaded, positives_input, negatives_input, settings, key: str) -> dict | None:
    from viz.motif_search import find_motifs

    parsed = guarded("Reading the positives", lambda: read_input(*positives_input, loaded.k))
    if parsed is None:
        return None
    negatives, errors = None, list(parsed.errors)
    if negatives_input[0] != "shuffled":
        parsed_negatives = guarded("Reading the negatives", lambda: read_input(*negatives_input, loaded.k))
        if parsed_negatives is None:
            return None
        negatives, errors = list(parsed_negatives.records), errors + list(parsed_negatives.errors)
    positives = list(parsed.records)
    bar = st.progress(0.0, text="Scoring the positives")
    status = st.empty()
    report = guarded("Motif discovery", lambda: result_cache().get_or_compute(
        request_key(entry.path, "motifs", tuple(positives), tuple(negatives) if negatives is not None else None,
                    settings),
        lambda: find_motifs(loaded, positives, negatives, settings,
                            progress=progress_callback(bar, "Scoring the positives"),
                            stage=lambda text: status.caption(text))))
    bar.empty()
    status.empty()
    return {"key": key, "model": entry.name, "report": report, "errors": errors,
            "truncated": [p.truncated for p in [parsed] if p.truncated]}


def show_motif(report, index: int, key: str) -> None:
    from viz.figures import highlight_spans, landscape_track
    from viz.known_motifs import jaspar_matrix
    from viz.logos import aligned_logos, motif_logo

    motif, matches = report.result.motifs[index], report.matches[index]
    left, right = st.columns([3, 2])
    if matches:
        best = matches[0]
        logo = aligned_logos(motif.pfm, best, jaspar_matrix(best.target_id), title=f"{motif.name} {motif.consensus}")
        left.caption(f"{motif.name} (top) aligned to its best JASPAR match {best.target_id} {best.target_name} "
                     f"(bottom), p = {best.p:.2g}, strand {best.strand}")
    else:
        kind = left.radio("Logo", list(LOGO_KINDS), format_func=LOGO_KINDS.get, horizontal=True, key="motif_kind")
        logo = motif_logo(motif.pfm, kind=kind, title=f"{motif.name} {motif.consensus}")
        left.caption("No JASPAR match was computed for this motif." if report.release is None else
                     "No JASPAR matrix matched this motif.")
    left.pyplot(logo)
    download_logo(left, logo, motif.name)
    if matches:
        right.markdown("**JASPAR matches** (best first)")
        right.dataframe(matches_table(matches), hide_index=True, column_config={
            column: st.column_config.NumberColumn(format="%.2e") for column in ("p", "E", "q")})
    instances = list(motif.instances)
    st.markdown(f"**{len(instances)} instances** of {motif.name}")
    ids = sorted({i.record_id for i in instances})
    chosen = st.selectbox("Sequence", ids, key=f"motif-seq-{key}-{index}")
    landscape = next(t for t in report.landscapes if t.record_id == chosen)
    spans = [(i.start, i.end) for i in instances if i.record_id == chosen]
    name = "attention" if report.score_source.startswith("attention") else "attribution"
    track = highlight_spans(landscape_track(landscape, name=name), spans, motif.name)
    st.plotly_chart(track, width="stretch", key="motif-track")


def matches_table(matches):
    import pandas as pd

    return pd.DataFrame([{"id": m.target_id, "name": m.target_name, "p": m.p, "E": m.e_value, "q": m.q_value,
                          "offset": m.offset, "overlap": m.overlap, "strand": m.strand} for m in matches])


def download_logo(column, figure, stem: str) -> None:
    from viz.figures import figure_bytes

    a, b = column.columns(2)
    for part, fmt, mime in ((a, "png", "image/png"), (b, "svg", "image/svg+xml")):
        part.download_button(f"Logo {fmt.upper()}", data=lambda fmt=fmt: figure_bytes(figure, fmt),
                             file_name=f"{stem}.{fmt}", mime=mime, key=f"logo-{stem}-{fmt}", on_click="ignore")


def show_downloads(report, key: str) -> None:
    from viz.motif_search import report_files, zip_files

    files = result_cache().get_or_compute(f"{key}-files", lambda: report_files(report))
    columns = st.columns(4)
    for column, (name, mime) in zip(columns, (("motifs.tsv", "text/tab-separated-values"),
                                              ("instances.tsv", "text/tab-separated-values"),
                                              ("motifs.meme", "text/plain"))):
        column.download_button(name, files[name], file_name=name, mime=mime, key=f"dl-{name}", on_click="ignore")
    columns[3].download_button("Everything (zip)", data=lambda: zip_files(files), file_name="motifs.zip",
                               mime="application/zip", key="dl-zip", on_click="ignore")


entry, loaded = page_model("Motifs")
st.markdown("Find the motifs the model relies on: runs of high attention (or attribution) in the positives, enriched "
            "against negatives (hypergeometric test, Benjamini-Hochberg), merged, re-centred, drawn as logos and "
            "named against JASPAR CORE vertebrates. Without negatives, dinucleotide-shuffled controls of the "
            "positives are used, as MEME and HOMER do.")
warm = naming_warm_up()
if warm.is_alive():
    st.caption("Tomtom (motif naming) is compiling in the background, about 40 s once per server; a search started "
               "now waits for it only at its naming step.")
labels = list(loaded.labels)
positives_input = sequence_input("Positives", "motif_pos", SOURCES)
negatives_input = sequence_input("Negatives", "motif_neg", NEGATIVES)
st.caption(f"Up to {MAX_UPLOAD_MB} MB a file, {MAX_SEQUENCES} records and {MAX_BASES:,} bases each; for more, "
           f"`dnabert motifs -m {entry.path.name} --positives P.fa -o DIR`.")
settings = guarded("The settings", lambda: motif_settings(loaded.model.config, labels))
if settings is None:
    st.stop()
fingerprints = (input_fingerprint(*positives_input),
                negatives_input[0] if negatives_input[0] == "shuffled" else input_fingerprint(*negatives_input))
current_key = request_key(entry.path, fingerprints, settings)
if st.button("Find motifs", type="primary"):
    if fingerprints[0] is None:
        st.warning("No positives yet: paste sequences or upload a file first.")
    elif fingerprints[1] is None:
        st.warning("No negatives yet: paste or upload some, or choose shuffled controls.")
    else:
        st.session_state["motif_result"] = run_search(entry, loaded, positives_input, negatives_input, settings,
                                                      current_key)
result = st.session_state.get("motif_result")
if not result:
    st.info("Give positives (and negatives, or use shuffled controls), then press Find motifs.")
    st.stop()
if result["key"] != current_key:
    st.info(f"The model, the inputs or the settings changed since the last search (it used {result['model']}). Press "
            "Find motifs to search again.")
    st.stop()
if result["truncated"]:
    st.warning(f"Input cut, {result['truncated'][0]}: the records read were searched.")
if result["errors"]:
    st.warning(f"{len(result['errors'])} record(s) rejected; the others were searched.")
    st.dataframe(errors_table(result["errors"]), hide_index=True)
report = result["report"]
if report is None:
    st.stop()
found = report.result
st.caption(f"Scores: {report.score_source}. Negatives: {report.negatives_note}."
           + (f" Names: {report.release} (Tomtom)." if report.release else ""))
st.subheader(f"{len(found.motifs)} motifs")
st.caption(f"{found.n_candidates} candidate strings, {found.n_significant} enriched at adjusted p < "
           f"{settings.params.alpha:g}; {found.n_positives} positives, {found.n_negatives} negatives.")
if found.note:
    st.info(found.note)
table = report_motifs_table(report)
st.dataframe(display_table(table), hide_index=True, column_config={
    column: st.column_config.NumberColumn(format="%.2e") for column in ("p", "p_adj", "match_p", "match_q")})
download_table(table, "motifs", "motifs-table")
if found.motifs:
    names = [m.name for m in found.motifs]
    index = st.selectbox("Motif", range(len(names)),
                         format_func=lambda i: f"{names[i]}  {found.motifs[i].consensus}", key="motif_chosen")
    show_motif(report, min(index, len(names) - 1), result["key"])
show_downloads(report, result["key"])
