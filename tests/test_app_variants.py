"""The Compare alleles and Genome scan pages headless (streamlit's AppTest) on a tiny classifier: every input mode,
values against plain `predict`, the example VCF against the shipped example region, refusals as short messages."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dnabert_core.model import load_model
from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna
from tests.test_app import ROOT, TIMEOUT, models_dir  # noqa: F401  (the fixture)


def page(path: str, model: str = "tiny") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["model_name"] = model
    at.run()
    at.switch_page(path)
    at.run()
    assert not at.exception
    return at


def press(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception


def p_site(models_dir, sequences: list[str]) -> np.ndarray:
    loaded = load_model(models_dir / "tiny")
    return np.array([p.probs[1] for p in predict(loaded, [SequenceRecord(str(i), s) for i, s in enumerate(sequences)])])


def test_a_sequence_and_an_edit(models_dir):
    sequence = random_dna(np.random.default_rng(0), 50)
    at = page("app_pages/alleles.py")
    assert at.info
    at.text_area(key="allele_text").set_value(f">mine\n{sequence}\n")
    at.number_input(key="allele_start").set_value(10)
    at.number_input(key="allele_end").set_value(10)
    at.text_input(key="allele_allele").set_value("T" if sequence[9] != "T" else "G")
    press(at, "Compare")
    table = at.dataframe[0].value
    alt = sequence[:9] + at.text_input(key="allele_allele").value + sequence[10:]
    p_ref, p_alt = p_site(models_dir, [sequence, alt])
    assert table["p_ref"].iloc[0] == pytest.approx(p_ref, abs=1e-5)
    assert table["delta_p"].iloc[0] == pytest.approx(p_alt - p_ref, abs=1e-5)
    assert at.get("plotly_chart")  # the aligned tracks
    at.toggle(key="allele_ism").set_value(True)
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 2  # and the ISM heatmap
    assert at.slider(key="allele-ism-logo").value == (1, 50)  # the logo: the whole 50 bp (shorter than 60)
    at.slider(key="allele-ism-logo").set_value((5, 20))
    at.run()
    assert not at.exception and at.slider(key="allele-ism-logo").value == (5, 20)


def test_two_sequences_with_an_insertion(models_dir):
    ref = random_dna(np.random.default_rng(1), 40)
    at = page("app_pages/alleles.py")
    at.radio(key="allele_mode").set_value("pair")
    at.run()
    at.text_area(key="allele_ref").set_value(ref)
    at.text_area(key="allele_alt").set_value(ref[:20] + "GGG" + ref[20:])
    press(at, "Compare")
    assert at.dataframe[0].value["kind"].iloc[0] == "insertion"


def test_the_example_vcf_against_the_example_region(models_dir):
    at = page("app_pages/alleles.py")
    at.radio(key="allele_mode").set_value("vcf")
    at.run()
    at.number_input(key="allele_flank").set_value(20)
    press(at, "Compare")
    table = at.dataframe[-1].value
    n_variants = sum(1 for line in (ROOT / "assets/examples/variants.vcf").read_text().splitlines()
                     if line and not line.startswith("#"))
    assert len(table) == n_variants and (table["ref_check"] == "ok").all()
    deltas = table["delta_p"].abs().to_numpy()
    assert (np.diff(deltas) <= 1e-12).all()  # largest effect first


def test_edit_past_the_sequence_is_a_short_message(models_dir):
    at = page("app_pages/alleles.py")
    at.text_area(key="allele_text").set_value("ACGTACGTACGTACGT")
    at.number_input(key="allele_start").set_value(30)
    at.number_input(key="allele_end").set_value(30)
    press(at, "Compare")
    assert at.error and at.error[0].value.startswith("Reading the variants failed:")


def test_scan_a_region_and_a_pasted_sequence(models_dir):
    at = page("app_pages/scan.py")
    at.text_input(key="scan_region").set_value("chr22_17660851_17664150:1-400")
    at.number_input(key="scan_window").set_value(60)
    at.number_input(key="scan_step").set_value(30)
    press(at, "Scan")
    assert at.get("plotly_chart") and any("windows scored" in c.value for c in at.caption)
    labels = {b.label for b in at.get("download_button")}
    assert {"bedGraph", "Peaks BED"} <= labels
    at.radio(key="scan_source").set_value("paste")
    at.run()
    at.text_area(key="scan_text").set_value(random_dna(np.random.default_rng(2), 200))
    press(at, "Scan")
    assert at.get("plotly_chart")
    at.number_input(key="scan_step").set_value(61)  # a step past the window would skip bases
    press(at, "Scan")
    assert at.error and "The scan failed" in at.error[0].value


def test_encoders_are_turned_away(models_dir):
    for path in ("app_pages/alleles.py", "app_pages/scan.py"):
        at = page(path, model="tiny-encoder")
        assert any("classification head" in i.value for i in at.info)
