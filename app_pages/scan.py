"""Genome scan: a region of a reference the server knows, or a long pasted sequence, scored in sliding windows;
the probability track, peaks, and bedGraph/BED downloads. Results live in the server-wide ``result_cache``."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.common import download_figure, download_table, guarded, page_model, progress_callback, result_cache
from viz.catalog import list_genomes
from viz.result_cache import request_key
from viz.scan import bed_lines, bedgraph_lines, call_peaks
from viz.variant_figures import scan_track

SOURCES = {"genome": "A region of a reference", "paste": "A pasted sequence"}
MAX_SCAN_BASES = 200_000  # bases a scan in the app; `dnabert scan` has no limit


def scan_request(loaded, source: str, genome: str, region: str, text: str, settings: dict, progress):
    """The scan of the chosen input (InputError/OptionError with a message when it cannot run)."""
    from dnabert_core.errors import InputError
    from dnabert_core.io import Genome, parse_region, parse_text
    from viz.scan import scan, scan_region

    if source == "genome":
        _chrom, start, end = parse_region(region)
        if end - start > MAX_SCAN_BASES:
            raise InputError(f"region of {end - start:,} bp; the app scans up to {MAX_SCAN_BASES:,} bp (`dnabert scan "
                             "--fasta ... --region ...` has no limit)")
        with Genome(list_genomes()[genome]) as opened:
            return scan_region(loaded, opened, region, progress=progress, **settings)
    parsed = parse_text(text, min_length=loaded.k)
    if not parsed.records:
        raise InputError("no sequence could be read from the pasted text"
                         + (f" ({parsed.errors[0].message})" if parsed.errors else ""))
    record = parsed.records[0]
    if len(record.sequence) > MAX_SCAN_BASES:
        raise InputError(f"{len(record.sequence):,} bp; the app scans up to {MAX_SCAN_BASES:,} bp")
    return scan(loaded, record, progress=progress, **settings)


entry, loaded = page_model("Genome scan", needs_classifier="scans")
labels = list(loaded.labels)
source = st.radio("Scan", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="scan_source")
genome, region, text = "", "", ""
if source == "genome":
    genomes = list_genomes()
    c1, c2 = st.columns(2)
    genome = c1.selectbox("Reference", list(genomes), key="scan_genome",
                          help="Shipped example regions, and the FASTA files of DNABERT_GENOMES_DIR")
    region = c2.text_input("Region (chrom:start-end, 1-based inclusive)", key="scan_region",
                           placeholder="chr22_17660851_17664150:1-3300")
else:
    text = st.text_area("Sequence (FASTA or plain; the first record)", height=140, key="scan_text")
c1, c2, c3, c4 = st.columns(4)
window = c1.number_input("Window (bp)", loaded.k, loaded.tokenizer.max_bases, loaded.window_size(), key="scan_window")
step = c2.number_input("Step (bp)", 1, loaded.tokenizer.max_bases, max(loaded.window_size() // 2, 1), key="scan_step")
threshold = c3.number_input("Peak threshold", 0.0, 1.0, 0.5, key="scan_threshold")
merge_gap = c4.number_input("Merge peaks closer than (bp)", 0, 100_000, 0, key="scan_gap")
target = st.selectbox("Class", labels, index=len(labels) - 1, key="scan_target")
settings = {"window": int(window), "step": int(step), "target": target}
described = (source, genome, region, text, settings)
if st.button("Scan", type="primary"):
    if not (region.strip() if source == "genome" else text.strip()):
        st.warning("Nothing to scan yet: give a region or paste a sequence.")
    else:
        bar = st.progress(0.0, text="Scanning")
        st.session_state["scan_result"] = {
            "key": request_key(entry.path, described), "model": entry.name,
            "scan": guarded("The scan", lambda: result_cache().get_or_compute(
                request_key(entry.path, "scan", described),
                lambda: scan_request(loaded, source, genome, region, text, settings,
                                     progress_callback(bar, "Scanning"))))}
        bar.empty()
result = st.session_state.get("scan_result")
if not result or result["scan"] is None:
    st.info("Choose a region or paste a sequence, then press Scan.")
    st.stop()
if result["key"] != request_key(entry.path, described):
    st.info(f"The model, the input or the settings changed since the last scan (it used {result['model']}). Press "
            "Scan again.")
    st.stop()
found = result["scan"]
peaks = call_peaks(found, threshold=float(threshold), merge_gap=int(merge_gap))
st.caption(f"{int(found.scored.sum())} of {len(found.probs)} windows scored toward '{found.target}' on "
           f"{found.chrom}:{found.start + 1:,}-{found.end:,}; {len(peaks)} peak(s) above {threshold:g}.")
figure = scan_track(found, peaks)
st.plotly_chart(figure, width="stretch", key="scan-chart")
download_figure(figure, "scan_track", "scan-fig")
peak_table = pd.DataFrame([{"chrom": p.chrom, "start": p.start, "end": p.end, "max_prob": p.max_prob} for p in peaks],
                          columns=["chrom", "start", "end", "max_prob"])
st.dataframe(peak_table, hide_index=True)
download_table(peak_table, "peaks", "peaks")
c1, c2 = st.columns(2)
c1.download_button("bedGraph", "".join(f"{line}\n" for line in bedgraph_lines(found)), file_name="scan.bedgraph",
                   mime="text/plain", key="dl-bedgraph", on_click="ignore")
c2.download_button("Peaks BED", "".join(f"{line}\n" for line in bed_lines(peaks)), file_name="peaks.bed",
                   mime="text/plain", key="dl-bed", on_click="ignore")
