"""Shared pieces of the pages: the sidebar model picker, the cached model, exports and progress. Only the app and
its pages import streamlit; everything computed here comes from ``viz``."""
from __future__ import annotations

import hashlib
import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import streamlit as st

from viz.catalog import ModelEntry, list_models
from viz.result_cache import ResultCache

if TYPE_CHECKING:  # pandas and torch load lazily: the first page draws without them
    import numpy as np
    import pandas as pd

    from dnabert_core.model import LoadedModel

MAX_SEQUENCES = 500  # records per run in the app; the command line has no limit
MAX_BASES = 1_000_000  # bases per run: one to two minutes of the shipped models on one core
MAX_TEXT_BYTES = 64 * 2**20  # text after gunzip: bounds a gzip bomb (the upload itself is capped by maxUploadSize)
LOGO_MAX = 200  # bases one logo shows at most: wider ones are unreadable
MAX_UPLOAD_MB = 16  # keep equal to server.maxUploadSize in .streamlit/config.toml (tests check)
DEFAULT_MODEL = "promoter-300"
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
T = TypeVar("T")
logger = logging.getLogger(__name__)


HEAVY_MODULES = ("viz.explain", "viz.attribution", "viz.figures", "viz.motif_search")  # torch, transformers, captum, plotly, matplotlib
WARM_DELAY_S = 0.5


@st.cache_resource
def warm_imports() -> threading.Timer:
    """Import the heavy modules in a background thread, once per server, starting shortly after the first page has
    drawn (an import holds the GIL and would slow that page down); the analysis pages then find them loaded."""
    thread = threading.Timer(WARM_DELAY_S, lambda: [importlib.import_module(m) for m in HEAVY_MODULES])
    thread.daemon = True
    thread.start()
    return thread


@st.cache_resource(show_spinner="Loading the model…")
def get_model(path: str) -> LoadedModel:
    """Load a model once per server (eval mode, never mutated)."""
    from dnabert_core.model import load_model

    return load_model(path)


# Widget values of Predict & explain that outlive a visit to another page (Streamlit drops the state of widgets a run
# does not draw). File uploads cannot be kept this way: an upload is chosen again after leaving the page.
PERSISTENT_KEYS = ("predict_source", "predict_text", "ls_layer", "ls_heads", "ls_query", "ls_reduce", "ls_normalise",
                   "ig_overlay", "ig_target", "show_maps", "map_layer", "map_head", "map_scale", "heatmap_sort")


def keep_widget_state() -> None:
    """Re-assign the ``PERSISTENT_KEYS`` at the start of every run, so they count as set by the app and survive runs of
    pages that do not draw their widgets."""
    for key in PERSISTENT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def model_picker() -> ModelEntry | None:
    """The sidebar's model choice: the widget owns ``st.session_state["model_name"]`` (kept across pages because the
    picker is drawn on every page; a name that no longer exists falls back to the default)."""
    entries = list_models()
    if not entries:
        st.sidebar.error("No model found in assets/models or in the DNABERT_MODELS_DIR directory.")
        return None
    names = [e.name for e in entries]
    if st.session_state.get("model_name") not in names:
        st.session_state["model_name"] = default_name(entries)
    name = st.sidebar.selectbox("Model", names, key="model_name",
                                help="Shipped models, and model folders of the directory set in DNABERT_MODELS_DIR")
    entry = entries[names.index(name)]
    kind = "classifier" if entry.is_classifier else "encoder only: attention, no probabilities"
    st.sidebar.caption(f"{'shipped' if entry.shipped else 'from the models directory'}: `{entry.path.name}` ({kind})")
    return entry


def default_name(entries: list[ModelEntry]) -> str | None:
    """promoter-300 when present, else the first classifier, else the first model."""
    names = [e.name for e in entries]
    if DEFAULT_MODEL in names:
        return DEFAULT_MODEL
    return next((e.name for e in entries if e.is_classifier), names[0] if names else None)


@st.cache_resource
def result_cache() -> ResultCache:
    """Analysis results shared by every user of this server (a result holds no page element, so it replays)."""
    return ResultCache(max_entries=32)


def input_limits():
    """The bounds applied while an input is read (``dnabert_core.io.ReadLimits``)."""
    from dnabert_core.io import ReadLimits

    return ReadLimits(max_records=MAX_SEQUENCES, max_bases=MAX_BASES, max_decompressed_bytes=MAX_TEXT_BYTES)


def input_fingerprint(source: str, text: str, upload) -> tuple[str, str] | None:
    """(what the input is, for messages; digest of its bytes), or None when there is no input yet."""
    if source == "upload":
        if upload is None:
            return None
        return f"the uploaded file {upload.name!r}", hashlib.sha256(upload.getvalue()).hexdigest()
    if not text.strip():
        return None
    return "the pasted text", hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def read_input(source: str, text: str, upload, k: int):
    """The records of the pasted text or the uploaded file, read within ``input_limits``."""
    from dnabert_core.io import parse_bytes, parse_text

    if source == "upload":
        return parse_bytes(upload.getvalue(), name=upload.name, min_length=k, limits=input_limits())
    return parse_text(text, min_length=k, limits=input_limits())


def guarded(what: str, call: Callable[[], T]) -> T | None:
    """``call()``, or None after a short message on the page: what failed and why (our errors say which record and
    what to do); anything unexpected is logged with its traceback for the server's operator, never shown."""
    from dnabert_core.errors import DnabertError

    try:
        return call()
    except DnabertError as error:
        st.error(f"{what} failed: {error}")
    except MemoryError:
        st.error(f"{what} failed: not enough memory on the server. Try fewer or shorter sequences, or the `dnabert` "
                 "command line.")
    except Exception as error:  # the page must not show a traceback; the log keeps it
        logger.exception("%s failed", what)
        st.error(f"{what} failed ({type(error).__name__}). This is a bug: the server log has the details.")
    return None


def page_model(title: str, needs_classifier: str | None = None) -> tuple[ModelEntry, LoadedModel]:
    """A page's title and the model picked in the sidebar, loaded; the page stops with a short message when there is
    none, it fails to load, or (with ``needs_classifier``: what the page computes) it has no classification head."""
    entry = current_model()
    st.title(title)
    if entry is None:
        st.error("No model is available; see the Models page.")
        st.stop()
    loaded = guarded(f"Loading {entry.name}", lambda: get_model(str(entry.path)))
    if loaded is None:
        st.stop()
    if needs_classifier and not loaded.labels:
        st.info(f"This model is an encoder without a classification head: {needs_classifier} need class "
                "probabilities. Pick a classifier in the sidebar.")
        st.stop()
    return entry, loaded


def current_model() -> ModelEntry | None:
    """The entry picked in the sidebar (the picker runs in app.py before every page)."""
    entries = list_models()
    by_name = {e.name: e for e in entries}
    return by_name.get(st.session_state.get("model_name", default_name(entries))) or next(iter(entries), None)


def download_figure(figure, stem: str, key: str) -> None:
    """PNG, SVG and HTML download buttons; each file is made only when its button is clicked."""
    from viz.figures import figure_bytes

    columns = st.columns(3)
    for column, fmt in zip(columns, ("png", "svg", "html")):
        column.download_button(f"Download {fmt.upper()}", data=lambda fmt=fmt: figure_bytes(figure, fmt),
                               file_name=f"{stem}.{fmt}", key=f"{key}-{fmt}", on_click="ignore",
                               mime={"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}[fmt])


def download_table(table: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and TSV download buttons."""
    left, right = st.columns(2)
    left.download_button("Download CSV", table.to_csv(index=False), file_name=f"{stem}.csv", mime="text/csv",
                         key=f"{key}-csv", on_click="ignore")
    right.download_button("Download TSV", table.to_csv(index=False, sep="\t"), file_name=f"{stem}.tsv",
                          mime="text/tab-separated-values", key=f"{key}-tsv", on_click="ignore")


def logo_region(scores: np.ndarray, key: str, peak: str) -> tuple[int, int]:
    """A slider for the bases a logo shows (0-based, half-open, at most ``LOGO_MAX`` bp), by default
    ``viz.figures.logo_window`` of ``scores`` (shape (L,)); ``peak`` names what the default centres on."""
    from viz.figures import logo_window

    start, end = logo_window(scores)
    first, last = st.slider("Logo region (bp, 1-based)", 1, len(scores), (start + 1, end), key=key,
                            help=f"Default: 60 bp around {peak}; at most {LOGO_MAX} bp at a time")
    if last - first + 1 > LOGO_MAX:
        st.caption(f"Showing the first {LOGO_MAX} bp of the chosen region.")
        last = first + LOGO_MAX - 1
    return first - 1, last


def progress_callback(bar, text: str) -> Callable[[int, int], None]:
    """The library's ``progress(done, total)`` drawn on an ``st.progress`` bar."""
    def update(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{text}: {done} of {total}")
    return update
