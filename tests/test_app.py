"""Each page run headless with streamlit's AppTest, on a tiny model from a configured models directory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dnabert_core.model import save_model
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import random_dna, tiny_classifier

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120


@pytest.fixture()
def models_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("models")
    save_model(tiny_classifier(3, labels=["background", "site"]), KmerTokenizer(3, 64), folder / "tiny",
               card="# tiny\n\n## Task\n\nA tiny test model.\n")
    monkeypatch.setenv("DNABERT_MODELS_DIR", str(folder))
    return folder


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["model_name"] = "tiny"
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def test_home_page(models_dir):
    at = app()
    assert not at.exception
    assert at.title[0].value == "DNABERT-viz"
    assert any("Model: tiny" in s.value for s in at.subheader)
    assert "A tiny test model." in [m.value for m in at.markdown]


def test_predict_page_shows_results_and_rejected_records(models_dir):
    rng = np.random.default_rng(0)
    at = app("pages/predict.py")
    assert not at.exception
    assert at.info  # the guard before any input
    at.text_area[0].set_value(f">good1\n{random_dna(rng, 40)}\n>bad\nACGTXACGT\n>good2\n{random_dna(rng, 150)}\n")
    at.button[0].click()
    at.run()
    assert not at.exception
    errors, predictions = at.dataframe[0].value, at.dataframe[1].value
    assert list(errors["id"]) == ["bad"] and list(errors["position"]) == [5]
    assert "invalid character 'X'" in errors["reason"][0]
    assert list(predictions["id"]) == ["good1", "good2"] and list(predictions["windows"]) == [1, 4]  # 64 bp windows at 0, 32, 64, 86
    assert np.allclose(predictions["prob_background"] + predictions["prob_site"], 1)
    assert len(at.get("plotly_chart")) == 2  # heatmap of both, track of the first
    assert "1 record(s) rejected" in at.warning[0].value
    assert at.code[0].value == ("pasted text, line 4, record 'bad', position 5: invalid character 'X' (not an IUPAC "
                                "nucleotide code)")


def test_too_many_sequences_are_cut_with_a_pointer_to_the_cli(models_dir, monkeypatch):
    import pages.common

    monkeypatch.setattr(pages.common, "MAX_SEQUENCES", 3)
    at = app("pages/predict.py")
    at.text_area[0].set_value("\n".join(["ACGTACGTAC"] * 5))
    at.button[0].click()
    at.run()
    assert not at.exception
    assert "the app analyses the first 3 per run" in at.warning[0].value and "dnabert attention" in at.warning[0].value
    assert len(at.dataframe[0].value) == 3


def test_models_page(models_dir):
    at = app("pages/models.py")
    assert not at.exception
    assert "tiny" in [h.value for h in at.header]
