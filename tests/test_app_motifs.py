"""The Motifs page headless (streamlit's AppTest) on the planted-attention model (tests/planted.py): the planted
8-mer found with given negatives and with shuffled controls, its logo and instances shown, the downloads offered,
bad settings and empty input answered with short messages."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dnabert_core.tokenizer import reverse_complement
from tests.planted import PLANT, planted_model, planted_sets
from tests.test_app import ROOT, TIMEOUT


@pytest.fixture()
def planted_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("models")
    planted_model(folder / "planted")
    monkeypatch.setenv("DNABERT_MODELS_DIR", str(folder))
    return folder


def fasta(rows) -> str:
    return "".join(f">{name}\n{sequence}\n" for name, sequence in rows)


def motifs_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["model_name"] = "planted"
    at.run()
    at.switch_page("app_pages/motifs.py")
    at.run()
    assert not at.exception
    return at


def find(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Find motifs").click()
    at.run()
    assert not at.exception


def test_planted_motif_with_given_negatives(planted_dir):
    positives, negatives = planted_sets(np.random.default_rng(3))
    at = motifs_page()
    assert at.info  # the guard before any input
    at.text_area(key="motif_pos_text").set_value(fasta((i, s) for i, s, _, _ in positives))
    at.radio(key="motif_neg_source").set_value("paste")
    at.run()
    at.text_area(key="motif_neg_text").set_value(fasta((f"n{i}", s) for i, s in enumerate(negatives)))
    at.number_input(key="motif_top").set_value(0)  # no naming: Tomtom's compile is tested in test_known_motifs
    find(at)
    table = at.dataframe[0].value
    assert table["motif"].iloc[0] == "motif_1"
    consensus = table["consensus"].iloc[0]
    assert PLANT in consensus or reverse_complement(PLANT) in consensus
    assert int(table["x"].iloc[0]) == len(positives)
    assert any("1 motifs" in s.value for s in at.subheader)
    labels = {b.label for b in at.get("download_button")}
    assert {"motifs.tsv", "instances.tsv", "motifs.meme", "Everything (zip)", "Logo PNG", "Logo SVG"} <= labels
    assert at.get("plotly_chart")  # an instance's sequence with its landscape


def test_shuffled_controls_are_the_default_negatives(planted_dir):
    positives, _ = planted_sets(np.random.default_rng(4))
    at = motifs_page()
    at.text_area(key="motif_pos_text").set_value(fasta((i, s) for i, s, _, _ in positives))
    at.number_input(key="motif_top").set_value(0)
    find(at)
    assert any("dinucleotide-shuffled controls" in c.value for c in at.caption)
    consensus = at.dataframe[0].value["consensus"].iloc[0]
    assert PLANT in consensus or reverse_complement(PLANT) in consensus


def test_empty_and_unusable_inputs_get_short_messages(planted_dir):
    at = motifs_page()
    find(at)
    assert any("No positives yet" in w.value for w in at.warning)
    at.text_area(key="motif_pos_text").set_value(">bad\nACGTXXACGT\n")
    find(at)
    assert [e.value for e in at.error] == ["Motif discovery failed: no positive sequences to search for motifs"]
