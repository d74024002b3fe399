"""Streamlit entry point: the router (``st.navigation``) and the sidebar model picker shared by every page.

    streamlit run app.py
"""
from __future__ import annotations

import streamlit as st

from app_pages.common import keep_widget_state, model_picker, warm_imports

st.set_page_config(page_title="DNABERT-viz", page_icon="🧬", layout="wide")
navigation = st.navigation([
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/predict.py", title="Predict & explain", icon=":material/search:"),
    st.Page("app_pages/motifs.py", title="Motifs", icon=":material/genetics:"),
    st.Page("app_pages/alleles.py", title="Compare alleles", icon=":material/compare_arrows:"),
    st.Page("app_pages/scan.py", title="Genome scan", icon=":material/timeline:"),
    st.Page("app_pages/models.py", title="Models", icon=":material/inventory_2:"),
])
keep_widget_state()
model_picker()
if navigation.title != "Home":
    # the analysis pages import torch and transformers at once: wait for the warm-up thread (started when an earlier
    # page was drawn, or now) instead of importing beside it: transformers' lazy module is not safe to import from
    # two threads at a time (ImportError: cannot import name 'BertConfig')
    warm_imports().join()
navigation.run()
warm_imports()
