"""Figures built from known data carry the right values (read back from the figure objects); exports."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dnabert_core.errors import DnabertError
from dnabert_core.records import Landscape
from viz.figures import (
    attention_map,
    attribution_logo,
    figure_bytes,
    head_plot,
    landscape_heatmap,
    landscape_track,
    logo_matrix,
    logo_window,
    save_figure,
    token_window,
)


def track(record_id: str, sequence: str, scores) -> Landscape:
    return Landscape(record_id, sequence, np.asarray(scores, dtype=float), "test source")


def test_landscape_track_values_hover_and_overlay():
    landscape = track("s1", "ACGTA", [0.1, 0.5, 0.2, 0.9, 0.3])
    attribution = track("s1", "ACGTA", [0.0, -0.2, 0.4, 0.1, 0.0])
    figure = landscape_track(landscape, attribution)
    line, bars = figure.data
    assert list(line.x) == [1, 2, 3, 4, 5] and list(line.y) == [0.1, 0.5, 0.2, 0.9, 0.3]
    assert list(line.customdata) == list("ACGTA") and "base %{customdata}" in line.hovertemplate
    assert list(bars.y) == [0.0, -0.2, 0.4, 0.1, 0.0] and bars.yaxis == "y2"
    assert list(figure.layout.xaxis.ticktext) == list("ACGTA")
    assert figure.layout.title.text == "s1: test source"
    with pytest.raises(DnabertError, match="attribution of 'x' is for another sequence"):
        landscape_track(landscape, track("x", "ACGTT", np.zeros(5)))


def test_heatmap_rows_sorted_and_short_rows_blank():
    items = [track("a", "ACGT", [0, 0, 1, 0]), track("b", "ACG", [3, 0, 0]), track("c", "ACGT", [0, 2, 0, 0])]
    figure = landscape_heatmap(items, sort="peak")
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["b", "c", "a"]  # peaks at positions 1, 2, 3
    z = np.array(heatmap.z, dtype=float)
    np.testing.assert_array_equal(z[0, :3], [3, 0, 0])
    assert np.isnan(z[0, 3]) and heatmap.customdata[1][1] == "C"
    assert list(landscape_heatmap(items, sort="total").data[0].y) == ["b", "c", "a"]
    assert list(landscape_heatmap(items).data[0].y) == ["a", "b", "c"]
    with pytest.raises(DnabertError, match="unknown sort 'length'"):
        landscape_heatmap(items, sort="length")


def test_attention_map_and_head_plot_values():
    matrix = np.arange(9, dtype=float).reshape(3, 3) / 10
    tokens = ["[CLS]", "ACG", "[SEP]"]
    figure = attention_map(matrix, tokens, layer=2, head=3)  # default colour: each row over its maximum
    np.testing.assert_allclose(np.array(figure.data[0].z), [[0, 0.5, 1], [0.6, 0.8, 1], [6 / 8, 7 / 8, 1]])
    np.testing.assert_array_equal(np.array(figure.data[0].customdata), matrix)  # hover keeps the raw weight
    assert list(figure.data[0].x) == ["0:[CLS]", "1:ACG", "2:[SEP]"]
    assert list(figure.layout.xaxis.ticktext) == list(figure.data[0].x)  # every label drawn
    assert figure.layout.title.text.startswith("attention, layer 2, head 3: tokens 0-2 of 3")
    log = attention_map(matrix, tokens, 2, 3, scale="log")
    np.testing.assert_allclose(np.array(log.data[0].z)[0], [-6, -1, np.log10(0.2)])  # 0 floored at 1e-6
    np.testing.assert_array_equal(np.array(attention_map(matrix, tokens, 2, 3, scale="linear").data[0].z), matrix)
    part = attention_map(matrix, tokens, 2, 3, window=token_window(3, 1, 2), scale="linear")
    np.testing.assert_array_equal(np.array(part.data[0].z), matrix[1:, 1:])
    assert list(part.data[0].y) == ["1:ACG", "2:[SEP]"]
    assert token_window(3, 5, 2) == slice(1, 3) and token_window(3, 0, 10) == slice(0, 3)  # clipped
    with pytest.raises(DnabertError, match=r"shape \(3, 3\) does not match 2 tokens"):
        attention_map(matrix, ["a", "b"], 1, 1)
    with pytest.raises(DnabertError, match="unknown colour scale"):
        attention_map(matrix, tokens, 1, 1, scale="sqrt")
    rows = np.random.default_rng(0).random((2, 3, 7))
    heads = head_plot(rows, start=100)
    assert len(heads.data) == 6
    np.testing.assert_array_equal(heads.data[4].y, rows[1, 1])  # traces run layer by layer, head by head
    np.testing.assert_array_equal(heads.data[4].x, np.arange(101, 108))  # 1-based bases of the window at 100
    assert "layer 2, head 2" in heads.data[4].hovertemplate
    assert heads.layout.xaxis4.title.text == "position (bp)"  # the bottom row has a position axis


def test_logo_window_centres_on_the_peak_and_stays_inside():
    scores = np.zeros(300)
    scores[220] = 5.0
    assert logo_window(scores) == (190, 250)
    scores[:] = 0
    scores[3] = 1.0
    assert logo_window(scores) == (0, 60)
    assert logo_window(np.full(40, np.nan)) == (0, 40)  # nothing scored: the start, the whole short sequence


def test_logo_matrix_puts_each_score_under_its_base():
    matrix = logo_matrix(track("s", "ACGNT", [1, -2, 3, 4, 5]))
    assert list(matrix.columns) == list("ACGT") and list(matrix.index) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(matrix.to_numpy(), [[1, 0, 0, 0], [0, -2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0],
                                                      [0, 0, 0, 5]])


def test_exports(tmp_path, chromium):
    landscape = track("s<1>", "ACGTA", [0.1, 0.5, 0.2, 0.9, 0.3])
    figure = landscape_track(landscape)
    html = figure_bytes(figure, "html").decode()
    assert html.lower().startswith("<!doctype html") or html.startswith("<html>")
    assert not re.search(r"<script[^>]+src=", html) and len(html) > 1_000_000  # plotly.js inlined: opens offline
    assert "0.9" in html
    assert figure_bytes(figure, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in figure_bytes(figure, "svg")[:200]
    open_figures = plt.get_fignums()
    logo = attribution_logo(landscape)
    assert plt.get_fignums() == open_figures  # made without pyplot: the app's reruns leave nothing behind
    assert save_figure(logo, tmp_path / "logo.png").read_bytes()[:4] == b"\x89PNG"
    svg = save_figure(logo, tmp_path / "logo.svg").read_text()
    assert "s&lt;1&gt;" in svg  # user text is escaped in the SVG
    assert figure_bytes(logo, "html").startswith(b"<!DOCTYPE html>")
    with pytest.raises(DnabertError, match="unknown figure format 'jpg'"):
        figure_bytes(figure, "jpg")
