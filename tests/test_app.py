"""Each page run headless with streamlit's AppTest, on a tiny model from a configured models directory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import torch
from transformers import BertForMaskedLM

from dnabert_core.model import build_config, save_model
from dnabert_core.tokenizer import KmerTokenizer
from tests.conftest import TINY, random_dna, tiny_classifier

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120


@pytest.fixture()
def models_dir(tmp_path_factory, monkeypatch):
    """A classifier "tiny", a three-class "tiny3" and an encoder without a head "tiny-encoder"."""
    folder = tmp_path_factory.mktemp("models")
    save_model(tiny_classifier(3, labels=["background", "site"]), KmerTokenizer(3, 64), folder / "tiny",
               card="# tiny\n\n## Task\n\nA tiny test model.\n")
    save_model(tiny_classifier(3, labels=["acceptor", "donor", "neither"], seed=1), KmerTokenizer(3, 64),
               folder / "tiny3", card="# tiny3\n")
    torch.manual_seed(2)
    save_model(BertForMaskedLM(build_config(3, max_tokens=64, **TINY)).eval(), KmerTokenizer(3, 64),
               folder / "tiny-encoder", card="# tiny encoder\n")
    monkeypatch.setenv("DNABERT_MODELS_DIR", str(folder))
    return folder


def app(page: str | None = None, model: str = "tiny") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["model_name"] = model
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
    at = app("app_pages/predict.py")
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
    import app_pages.common

    monkeypatch.setattr(app_pages.common, "MAX_SEQUENCES", 3)
    at = app("app_pages/predict.py")
    at.text_area[0].set_value("\n".join(["ACGTACGTAC"] * 5))
    at.button[0].click()
    at.run()
    assert not at.exception
    warning = at.warning[0].value
    assert "stopped at the limit of 3 records" in warning and "at most 3 records" in warning
    assert "dnabert attention" in warning
    assert len(at.dataframe[0].value) == 3


def test_models_page(models_dir):
    at = app("app_pages/models.py")
    assert not at.exception
    assert "tiny" in [h.value for h in at.header]


def run_button(at: AppTest):
    return next(b for b in at.button if b.label == "Run")


def paste_and_run(at: AppTest, text: str) -> AppTest:
    at.text_area(key="predict_text").set_value(text)
    run_button(at).click()
    at.run()
    assert not at.exception
    return at


def sequences(n: int = 3, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(f">s{i}\n{random_dna(rng, 50 + 10 * i)}\n" for i in range(n))


def test_a_result_is_never_shown_beside_another_model_or_input(models_dir):
    at = paste_and_run(app("app_pages/predict.py"), sequences())
    assert list(at.dataframe[0].value.columns[:5]) == ["id", "length", "windows", "prob_background", "prob_site"]
    at.session_state["model_name"] = "tiny3"  # switch the model without Run (AppTest runs pages without the
    at.run()  # sidebar picker of app.py; tests/test_browser.py uses the real one)
    assert not at.exception
    assert not at.dataframe and not at.get("plotly_chart")  # nothing relabelled as acceptor/donor/neither
    assert "changed since the last run (it used tiny)" in at.info[0].value and "with tiny3" in at.info[0].value
    run_button(at).click()
    at.run()
    assert list(at.dataframe[0].value.columns[3:6]) == ["prob_acceptor", "prob_donor", "prob_neither"]
    at.text_area(key="predict_text").set_value(sequences(2, seed=5))  # new input, no Run: old table hidden
    at.run()
    assert not at.dataframe and "changed since the last run" in at.info[0].value
    at.session_state["model_name"] = "tiny"  # back to the first model and first input: ask again
    at.run()
    assert not at.dataframe


def test_paste_or_upload_is_an_explicit_choice(models_dir):
    at = app("app_pages/predict.py")
    assert at.text_area and not at.get("file_uploader")
    at.radio(key="predict_source").set_value("upload")
    at.run()
    assert not at.exception and not at.text_area and at.get("file_uploader")
    run_button(at).click()
    at.run()
    assert "Nothing to analyse yet" in at.warning[0].value


def test_the_same_input_twice_replays_from_the_cache(models_dir, monkeypatch):
    import viz.explain

    calls = []
    original = viz.explain.analyse

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(viz.explain, "analyse", counting)
    text = sequences(seed=11)
    first = paste_and_run(app("app_pages/predict.py"), text).dataframe[0].value
    again = paste_and_run(app("app_pages/predict.py"), text)  # a second user with the same input
    run_button(again).click()  # and Run once more
    again.run()
    assert not again.exception and len(calls) == 1
    assert again.dataframe[0].value.equals(first)


def test_examples_work_twice_in_a_row(models_dir):
    at = app(model="tiny")  # the example picks promoter-300 when shipped
    for _ in range(2):
        at.switch_page("app_pages/home.py")
        at.run()
        next(b for b in at.button if b.label.startswith("Promoters")).click()
        at.run()
        assert not at.exception and at.title[0].value == "Predict & explain"  # the app switched page
        at.switch_page("app_pages/predict.py")  # AppTest does not follow st.switch_page into later runs
        at.run()
        assert ">TATA_promoter_" in at.text_area(key="predict_text").value
        run_button(at).click()
        at.run()
        assert not at.exception and len(at.dataframe[0].value) == 6


def test_an_encoder_offers_landscapes_but_no_probabilities_or_attributions(models_dir):
    at = paste_and_run(app("app_pages/predict.py", model="tiny-encoder"), sequences())
    assert not at.dataframe  # no prediction table
    assert not [c for c in at.checkbox if "integrated-gradients" in c.label]
    assert len(at.get("plotly_chart")) == 2  # heatmap and track
    assert any("without a trained classification head" in c.value for c in at.caption)


def test_attribution_logo_follows_the_chosen_region_and_tracks_are_labelled(models_dir):
    at = paste_and_run(app("app_pages/predict.py"), sequences(1, seed=3))
    at.checkbox(key="ig_overlay").check()
    at.run()
    assert not at.exception and at.checkbox(key="ig_overlay").value
    slider = next(s for s in at.slider if s.label.startswith("Logo region"))
    assert slider.value[1] - slider.value[0] + 1 == 50  # the whole 50 bp sequence (shorter than 60)
    slider.set_value((5, 20))
    at.run()
    assert not at.exception and next(s for s in at.slider if s.label.startswith("Logo region")).value == (5, 20)


def test_attention_maps_stay_while_their_settings_change(models_dir):
    at = paste_and_run(app("app_pages/predict.py"), sequences(1, seed=4))
    at.toggle(key="show_maps").set_value(True)
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 3  # track, map, head plots
    at.selectbox(key="map_head").set_value(2)
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 3
    at.radio(key="map_scale").set_value("log")
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 3


def test_a_failure_is_a_short_message_not_a_traceback(models_dir, monkeypatch):
    import viz.explain

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that users should not see")

    monkeypatch.setattr(viz.explain, "analyse", broken)
    at = paste_and_run(app("app_pages/predict.py"), sequences(seed=21))
    assert not at.exception
    message = at.error[0].value
    assert "The analysis failed (RuntimeError)" in message and "internal detail" not in message


def test_upload_limit_is_stated_and_matches_the_server_config(models_dir):
    import tomllib

    from app_pages.common import MAX_UPLOAD_MB

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert config["client"]["showErrorDetails"] == "none"
    at = app("app_pages/predict.py")
    assert any(f"Up to {MAX_UPLOAD_MB} MB a file" in c.value for c in at.caption)
