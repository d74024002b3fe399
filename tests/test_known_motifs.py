"""JASPAR naming (Tomtom through memelite against pyjaspar's bundled release, offline) and MEME minimal format I/O."""
from __future__ import annotations

import io
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import pyjaspar
from memelite.io import read_meme

from dnabert_core.errors import DnabertError
from viz import known_motifs
from viz.known_motifs import (BASES, MotifMatch, best_match_columns, counts_to_pfm, jaspar_library, jaspar_matrix,
                              library_release, match_motifs, pfm_to_ppm, reverse_complement, warm_up)
from viz.meme import meme_text, write_meme

CTCF = "MA0139.2"
TBP = "MA0108.3"


@pytest.fixture(scope="module")
def library():
    """JASPAR loaded and memelite's kernels compiled once for every test here (a minute cold, a second with numba's
    cache)."""
    warm_up()
    return jaspar_library()


def sampled_pfm(pfm: pd.DataFrame, n_sites: int, rng: np.random.Generator) -> pd.DataFrame:
    """Counts of ``n_sites`` sites drawn from the PFM's frequencies: a noisy copy."""
    frequencies = pfm.to_numpy() / pfm.to_numpy().sum(axis=1, keepdims=True)
    counts = np.stack([rng.multinomial(n_sites, row) for row in frequencies])
    return counts_to_pfm(counts.T)


def test_library_is_the_newest_release_of_core_vertebrates(library):
    assert library.release == f"{pyjaspar.JASPAR_LATEST_RELEASE} CORE vertebrates"
    assert library_release() == library.release
    assert len(library) > 800 and len(set(library.ids)) == len(library)
    assert CTCF in library.ids and TBP in library.ids
    assert library.names[library.ids.index(TBP)] == "TBP"
    probabilities = library.probabilities[library.ids.index(CTCF)]
    assert probabilities.shape == (4, 15) and np.allclose(probabilities.sum(axis=0), 1)
    with pytest.raises(ValueError):
        probabilities[0, 0] = 1.0  # shared by every thread: read-only


def test_jaspar_matrix_is_the_counts_pfm(library):
    pfm = jaspar_matrix(CTCF)
    assert tuple(pfm.columns) == BASES and pfm.index.name == "position" and len(pfm) == 15
    assert pfm.loc[2, "C"] == 903.0  # MA0139.2, position 3: C in 903 of 913 sites
    with pytest.raises(DnabertError, match="MA9999.9"):
        jaspar_matrix("MA9999.9")


@pytest.mark.parametrize("target_id", [CTCF, TBP])
def test_a_jaspar_matrix_matches_itself_first(library, target_id):
    (matches,) = match_motifs([jaspar_matrix(target_id)])
    best = matches[0]
    width = len(jaspar_matrix(target_id))
    assert (best.target_id, best.offset, best.strand, best.overlap) == (target_id, 0, "+", width)
    assert len(matches) == 5 and [m.p for m in matches] == sorted(m.p for m in matches)
    assert best.e_value == pytest.approx(best.p * len(library))
    assert best.p <= best.q_value <= best.e_value
    assert best.release == library.release


@pytest.mark.parametrize("target_id", [CTCF, TBP])
def test_a_noisy_copy_matches_its_source(library, target_id):
    # counts of 200 sites drawn from the matrix: first over CTCF's two longer JASPAR matrices (MA1929, MA1930, which
    # contain its core) and TBP's nearest, AT-rich homeobox matrices, by orders of magnitude in p
    pfm = sampled_pfm(jaspar_matrix(target_id), 200, np.random.default_rng(7))
    (matches,) = match_motifs([pfm], top=3)
    assert matches[0].target_id == target_id
    assert matches[0].p < 1e-10 and matches[1].p > 1e3 * matches[0].p


def test_reverse_complement_matches_on_the_minus_strand(library):
    (matches,) = match_motifs([reverse_complement(jaspar_matrix(CTCF))])
    assert (matches[0].target_id, matches[0].strand, matches[0].offset) == (CTCF, "-", 0)


def test_offsets_of_shifted_copies(library):
    ctcf = jaspar_matrix(CTCF)
    cut = ctcf.iloc[3:15].reset_index(drop=True)  # query column 0 = target column 3
    rc_cut = reverse_complement(ctcf).iloc[2:12].reset_index(drop=True)  # column 0 = reverse complement's column 2
    padding = pd.DataFrame(25.0, index=range(4), columns=list(BASES))  # 4 uninformative columns before the motif
    padded = pd.concat([padding, ctcf], ignore_index=True)  # query column 4 = target column 0
    cut_match, rc_match, padded_match = (matches[0] for matches in match_motifs([cut, rc_cut, padded]))
    assert (cut_match.target_id, cut_match.offset, cut_match.strand, cut_match.overlap) == (CTCF, 3, "+", 12)
    assert (rc_match.target_id, rc_match.offset, rc_match.strand, rc_match.overlap) == (CTCF, 2, "-", 10)
    assert (padded_match.target_id, padded_match.offset, padded_match.strand) == (CTCF, -4, "+")


def test_empty_input_and_bad_matrices(library):
    assert match_motifs([]) == []
    with pytest.raises(DnabertError, match=r"motif 2: PFM columns are \['A', 'C', 'G'\]"):
        match_motifs([jaspar_matrix(CTCF), pd.DataFrame(1.0, index=range(5), columns=list("ACG"))])
    with pytest.raises(DnabertError, match="no positions"):
        match_motifs([jaspar_matrix(CTCF).iloc[:0]])
    with pytest.raises(DnabertError, match=">= 0"):
        match_motifs([jaspar_matrix(CTCF) * -1])
    with pytest.raises(DnabertError, match="top"):
        match_motifs([jaspar_matrix(CTCF)], top=0)


def test_positions_without_counts_get_the_pseudocount(library):
    pfm = jaspar_matrix(CTCF).copy()
    pfm.iloc[[0, 14]] = 0.0
    assert np.allclose(pfm_to_ppm(pfm)[:, 0], 0.25)
    assert pfm_to_ppm(pfm)[1, 2] == pytest.approx((903 + 0.25) / (913 + 1))  # (count + 0.25) / (sites + 4 x 0.25)
    (matches,) = match_motifs([pfm], top=1)
    assert matches[0].target_id == CTCF


def test_concurrent_calls_give_identical_results(library):
    rng = np.random.default_rng(3)
    queries = [sampled_pfm(jaspar_matrix(library.ids[i]), 50, rng) for i in rng.choice(len(library), 8)]
    expected = match_motifs(queries)
    with ThreadPoolExecutor(4) as pool:
        warmed = list(pool.map(lambda _: warm_up(), range(4)))
        results = list(pool.map(lambda _: match_motifs(queries), range(4)))
    assert warmed == [None] * 4
    assert all(result == expected for result in results)


def test_the_library_is_loaded_once_under_concurrent_first_use(library, monkeypatch):
    loads = []

    def slow_load():
        loads.append(threading.get_ident())
        time.sleep(0.2)
        return library

    monkeypatch.setattr(known_motifs, "_LIBRARY", None)
    monkeypatch.setattr(known_motifs, "_load_jaspar", slow_load)
    with ThreadPoolExecutor(4) as pool:
        libraries = list(pool.map(lambda _: jaspar_library(), range(4)))
    assert len(loads) == 1 and all(item is library for item in libraries)


def test_best_match_columns():
    match = MotifMatch("MA0139.2", "CTCF", p=1e-12, e_value=1e-9, q_value=1e-9, offset=-2, overlap=12, strand="-",
                       release="JASPAR2026 CORE vertebrates")
    assert best_match_columns([match]) == {"match_id": "MA0139.2", "match_name": "CTCF", "match_p": 1e-12,
                                           "match_q": 1e-9, "match_offset": -2, "match_strand": "-"}
    for empty in (best_match_columns([]), best_match_columns([match], max_q=1e-10)):
        assert (empty["match_id"], empty["match_name"], empty["match_strand"]) == ("", "", "")
        assert all(math.isnan(empty[key]) for key in ("match_p", "match_q", "match_offset"))


def test_meme_round_trip_through_memelite(tmp_path):
    rng = np.random.default_rng(5)
    motifs = {f"motif_{i}": counts_to_pfm(rng.integers(0, 40, size=(4, width)).astype(float))
              for i, width in enumerate((5, 8, 24))}
    motifs["motif_0"].iloc[2] = 0.0  # no counts at one position: written as the background
    path = tmp_path / "motifs.meme"
    write_meme(motifs, path)
    stream = io.StringIO()
    write_meme(motifs, stream)
    assert stream.getvalue() == path.read_text()

    read = read_meme(str(path))
    assert list(read) == list(motifs)
    for name, pfm in motifs.items():
        counts = pfm.to_numpy()
        totals = counts.sum(axis=1, keepdims=True)
        expected = np.where(totals > 0, counts / np.maximum(totals, 1), 0.25)
        assert read[name].shape == (4, len(pfm))
        np.testing.assert_allclose(read[name], np.round(expected.T, 6), atol=1e-12)

    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n"
                           "A 0.25 C 0.25 G 0.25 T 0.25\n")
    nsites = int(motifs["motif_2"].sum(axis=1).max())
    assert f"MOTIF motif_2\nletter-probability matrix: alength= 4 w= 24 nsites= {nsites} E= 0\n" in text


def test_meme_background_and_refusals():
    pfm = counts_to_pfm(np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 4.0]]))
    text = meme_text({"m": pfm}, background=[0.3, 0.2, 0.2, 0.3])
    assert "A 0.3 C 0.2 G 0.2 T 0.3\n" in text
    assert text.endswith("nsites= 4 E= 0\n0.750000 0.250000 0.000000 0.000000\n0.000000 0.000000 0.000000 1.000000\n")
    with pytest.raises(DnabertError, match="background"):
        meme_text({"m": pfm}, background=[0.5, 0.5, 0.0, 0.0])
    with pytest.raises(DnabertError, match="'my motif'"):
        meme_text({"my motif": pfm})
