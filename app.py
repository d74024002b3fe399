"""Streamlit entry point: the router (``st.navigation``) and the sidebar model picker shared by every page.

    streamlit run app.py
"""
from __future__ import annotations

import streamlit as st

from pages.common import model_picker, warm_imports

st.set_page_config(page_title="DNABERT-viz", page_icon="🧬", layout="wide")
navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/predict.py", title="Predict & explain", icon=":material/search:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
])
model_picker()
navigation.run()
warm_imports()
