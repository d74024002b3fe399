"""Compare alleles: a sequence and an edit, two sequences, or a VCF against a reference the server knows; effects
ranked (SPEC section 7), and for a chosen variant the aligned ref/alt tracks with their difference and the ISM
heatmap of its reference. Results live in the server-wide ``result_cache``, keyed by model, inputs and settings."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from app_pages.common import (download_figure, download_table, guarded, logo_region, page_model, progress_callback,
                              result_cache)
from viz.catalog import EXAMPLES, list_genomes
from viz.explain import errors_table
from viz.result_cache import request_key
from viz.variant_effects import CLIP_NOTE, effects_table, pairs_from_mutations, pairs_from_windows, score_pairs

MODES = {"edit": "A sequence and an edit", "pair": "Two sequences (ref, alt)", "vcf": "A VCF and a reference"}
MAX_VARIANTS = 500  # variants a run in the app; `dnabert variants` has no limit
MAX_VCF_BYTES = 8 * 2**20


def first_record(text: str, k: int, what: str):
    """The first good record of pasted text (FASTA or plain), or an InputError naming what is wrong."""
    from dnabert_core.errors import InputError
    from dnabert_core.io import parse_text

    parsed = parse_text(text, min_length=k)
    if not parsed.records:
        reasons = "; ".join(e.message for e in parsed.errors[:3])
        raise InputError(f"no {what} sequence could be read" + (f" ({reasons})" if reasons else ""))
    return parsed.records[0]


def edit_pairs(text: str, start: int, end: int, allele: str, k: int) -> tuple[list, list]:
    from dnabert_core.records import Variant
    from viz.variants import apply_edit

    record = first_record(text, k, "reference")
    variant = Variant(record.id, start - 1, end, allele.strip())
    apply_edit(record.sequence, variant)  # a span past the sequence is an error here, with its reason
    return list(pairs_from_mutations({record.id: record}, [variant])), []


def two_sequence_pairs(ref_text: str, alt_text: str, k: int) -> tuple[list, list]:
    from viz.variants import edit_between

    ref, alt = first_record(ref_text, k, "ref"), first_record(alt_text, k, "alt")
    return list(pairs_from_mutations({ref.id: ref}, [edit_between(ref.sequence, alt.sequence, ref.id)])), []


def vcf_pairs(data: bytes, name: str, genome_path: Path, flank: int) -> tuple[list, list]:
    from dnabert_core.errors import InputError
    from dnabert_core.io import Genome
    from viz.vcf import variant_windows

    if len(data) > MAX_VCF_BYTES:
        raise InputError(f"{name} is {len(data) / 2**20:.1f} MB; the app takes VCFs up to {MAX_VCF_BYTES // 2**20} MB "
                         "(`dnabert variants` has no limit)")
    with tempfile.TemporaryDirectory() as folder, Genome(genome_path) as genome:
        path = Path(folder) / Path(name).name
        path.write_bytes(data)
        parsed = variant_windows(path, genome, flank)
    windows = list(parsed.windows)
    if len(windows) > MAX_VARIANTS:
        raise InputError(f"{len(windows)} variants; the app scores up to {MAX_VARIANTS} a run (`dnabert variants "
                         "--vcf ... --fasta ...` has no limit)")
    return list(pairs_from_windows(windows)), list(parsed.errors)


def inputs(loaded):
    """The chosen mode's widgets; returns (a description of the request for its key, a function making its pairs)."""
    mode = st.radio("Compare", list(MODES), format_func=MODES.get, horizontal=True, key="allele_mode")
    k = loaded.k
    if mode == "edit":
        text = st.text_area("Reference sequence (FASTA or plain; the first record)", height=120, key="allele_text")
        c1, c2, c3 = st.columns(3)
        start = c1.number_input("Start (1-based, first base replaced)", 1, 10**7, 1, key="allele_start")
        end = c2.number_input("End (1-based, inclusive; start - 1 for an insertion)", 0, 10**7, 1, key="allele_end")
        allele = c3.text_input("New bases (empty: deletion)", "A", key="allele_allele", max_chars=200)
        return (mode, text, start, end, allele) if text.strip() else None, \
            lambda: edit_pairs(text, int(start), int(end), allele, k)
    if mode == "pair":
        ref = st.text_area("Ref sequence", height=100, key="allele_ref")
        alt = st.text_area("Alt sequence", height=100, key="allele_alt")
        return (mode, ref, alt) if ref.strip() and alt.strip() else None, lambda: two_sequence_pairs(ref, alt, k)
    genomes = list_genomes()
    genome = st.selectbox("Reference", list(genomes), key="allele_genome",
                          help="Shipped example regions, and the FASTA files of DNABERT_GENOMES_DIR")
    upload = st.file_uploader("VCF (plain or gzip); empty: the example variants.vcf of the ADA2 region",
                              type=["vcf", "gz"], key="allele_vcf")
    data, name = (upload.getvalue(), upload.name) if upload else ((EXAMPLES / "variants.vcf").read_bytes(),
                                                                  "variants.vcf")
    flank = st.number_input("Flank (bases each side)", 0, 5000, (loaded.window_size() - 1) // 2, key="allele_flank")
    return (mode, genome, name, hashlib.sha256(data).hexdigest(), flank), lambda: vcf_pairs(data, name, genomes[genome], int(flank))


def show_variant(entry, loaded, result: dict, index: int) -> None:
    from viz.ism import ism_importance, saturation_mutagenesis
    from viz.variant_effects import edit_frame
    from viz.variant_figures import allele_tracks, ism_heatmap, ism_logo

    effect = result["effects"][index]
    pair = effect.pair
    alt = edit_frame(effect.alt_landscape, pair.ref.sequence, pair.edit)
    tracks = allele_tracks(effect.ref_landscape, alt, pair.edit)
    st.plotly_chart(tracks, width="stretch", key="allele-tracks")
    download_figure(tracks, "allele_tracks", "allele-tracks")
    if st.toggle("In-silico mutagenesis of the reference", key="allele_ism"):
        if len(pair.ref.sequence) > loaded.window_size():
            st.info(f"ISM takes sequences up to the model's window ({loaded.window_size()} bp).")
            return
        bar = st.progress(0.0, text="Mutating")
        ism = guarded("In-silico mutagenesis", lambda: result_cache().get_or_compute(
            request_key(entry.path, "ism", pair.ref, result["target"]),
            lambda: saturation_mutagenesis(loaded, pair.ref, target=result["target"],
                                           progress=progress_callback(bar, "Mutating"))))
        bar.empty()
        if ism is not None:
            heatmap = ism_heatmap(ism)
            st.plotly_chart(heatmap, width="stretch", key="allele-ism")
            download_figure(heatmap, "ism_heatmap", "allele-ism-fig")
            start, end = logo_region(ism_importance(ism), "allele-ism-logo", "the most important base")
            logo = ism_logo(ism, start, end)
            st.pyplot(logo)
            download_figure(logo, "ism_logo", "allele-ism-logo-fig")


entry, loaded = page_model("Compare alleles", needs_classifier="allele effects")
labels = list(loaded.labels)
if "allele_sequence" in st.session_state:  # "Mutate this sequence" on Predict & explain
    st.session_state["allele_mode"] = "edit"
    st.session_state["allele_text"] = st.session_state.pop("allele_sequence")
described, make_pairs = inputs(loaded)
target = st.selectbox("Class scored", labels, index=len(labels) - 1, key="allele_target")
current_key = request_key(entry.path, described, target)
if st.button("Compare", type="primary"):
    if described is None:
        st.warning("Nothing to compare yet: paste the sequence(s) first.")
    else:
        made = guarded("Reading the variants", make_pairs)
        if made is not None:
            pairs, errors = made
            bar = st.progress(0.0, text="Scoring")
            effects = guarded("Scoring", lambda: result_cache().get_or_compute(
                request_key(entry.path, "alleles", described, target),
                lambda: list(score_pairs(loaded, pairs, keep_tracks=True, total=len(pairs),
                                         progress=progress_callback(bar, "Scoring")))))
            bar.empty()
            st.session_state["allele_result"] = {"key": current_key, "effects": effects, "errors": errors,
                                                 "target": labels.index(target), "model": entry.name}
result = st.session_state.get("allele_result")
if not result or result["effects"] is None:
    st.info("Choose what to compare, then press Compare.")
    st.stop()
if result["key"] != current_key:
    st.info(f"The model, the inputs or the class changed since the last comparison (it used {result['model']}). "
            "Press Compare again.")
    st.stop()
if result["errors"]:
    st.warning(f"{len(result['errors'])} variant(s) not scored (REF mismatches, symbolic alleles, windows off the "
               "contig...); the others are below.")
    st.dataframe(errors_table(result["errors"]), hide_index=True)
table = effects_table(result["effects"], labels, result["target"], sort="effect")
if table.empty:
    st.error("No variant could be scored.")
    st.stop()
st.subheader(f"{len(table)} variant(s), largest |delta_p| first")
st.caption(CLIP_NOTE)
st.dataframe(table, hide_index=True)
download_table(table, "variant_effects", "effects")
effects, t = result["effects"], result["target"]
ranked = sorted(range(len(effects)), key=lambda i: -abs(effects[i].p_alt[t] - effects[i].p_ref[t]))  # as the table
names = [" ".join(str(v) for v in effects[i].pair.columns.values())[:80] for i in ranked]
choice = st.selectbox("Variant", range(len(ranked)), format_func=lambda i: names[i], key="allele_choice")
show_variant(entry, loaded, result, ranked[min(choice, len(ranked) - 1)])
