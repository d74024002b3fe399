"""What `dnabert motifs` and the Motifs page share (viz.motif_search): controls, targets, files, and several searches
at once on one shared model."""
from __future__ import annotations

import io
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from dnabert_core.errors import InputError, OptionError
from dnabert_core.model import load_model
from dnabert_core.records import SequenceRecord
from tests.conftest import tiny_classifier
from tests.planted import planted_model, planted_sets
from viz.motifs import MotifParams
from viz.motif_search import (MotifSettings, display_table, find_motifs, report_files,
                              report_motifs_table, shuffled_controls, zip_files)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    loaded = load_model(planted_model(tmp_path_factory.mktemp("planted") / "model"))
    positives, negatives = planted_sets(np.random.default_rng(3))
    return (loaded, [SequenceRecord(i, s) for i, s, _, _ in positives],
            [SequenceRecord(f"n{i}", s) for i, s in enumerate(negatives)])


def dinucleotides(sequence: str) -> Counter:
    return Counter(sequence[i:i + 2] for i in range(len(sequence) - 1))


def test_shuffled_controls_keep_dinucleotides_and_are_seeded(planted):
    _, positives, _ = planted
    controls = shuffled_controls(positives[:5], per_record=2, seed=11)
    assert [c.id for c in controls[:2]] == [f"{positives[0].id}_shuffle1", f"{positives[0].id}_shuffle2"]
    for j, control in enumerate(controls):
        assert dinucleotides(control.sequence) == dinucleotides(positives[j // 2].sequence)
    assert controls == shuffled_controls(positives[:5], per_record=2, seed=11)
    assert controls != shuffled_controls(positives[:5], per_record=2, seed=12)


def test_the_target_class_must_be_named_on_a_multi_class_model(tmp_path):
    from dnabert_core.model import save_model
    from dnabert_core.tokenizer import KmerTokenizer

    save_model(tiny_classifier(3, labels=["a", "b", "c"]), KmerTokenizer(3, 64), tmp_path / "m3")
    loaded = load_model(tmp_path / "m3")
    with pytest.raises(OptionError, match="3 classes"):
        loaded.target_class(None)
    assert loaded.target_class("c") == 2
    with pytest.raises(OptionError, match="3 classes"):
        find_motifs(loaded, [SequenceRecord("a", "ACGTACGTAC")], None, MotifSettings(score="ig"))


def test_settings_and_inputs_are_checked(planted):
    loaded, positives, _ = planted
    for bad in (dict(score="kmer"), dict(controls=0), dict(top=-1), dict(ig_steps=1)):
        with pytest.raises(OptionError):
            MotifSettings(**bad)
    with pytest.raises(InputError, match="no positive"):
        find_motifs(loaded, [], None)
    with pytest.raises(InputError, match="no negative"):
        find_motifs(loaded, positives, [])


def test_files_tables_and_zip(planted):
    loaded, positives, negatives = planted
    report = find_motifs(loaded, positives, negatives, MotifSettings(top=0))
    files = report_files(report)
    names = {m.name for m in report.result.motifs}
    assert {"motifs.tsv", "instances.tsv", "motifs.meme"} | {f"logos/{n}.{f}" for n in names for f in ("png", "svg")} \
        == set(files)
    table = pd.read_csv(io.BytesIO(files["motifs.tsv"]), sep="\t")
    assert list(table["motif"]) == sorted(names, key=lambda n: int(n.split("_")[1]))
    assert list(table.columns[-6:]) == ["match_id", "match_name", "match_p", "match_q", "match_offset",
                                        "match_strand"]
    with zipfile.ZipFile(io.BytesIO(zip_files(files))) as archive:
        assert set(archive.namelist()) == set(files) and archive.read("motifs.meme") == files["motifs.meme"]
    long = pd.DataFrame({"members": [",".join(f"m{i}" for i in range(9)), "a,b"]})
    assert list(display_table(long, members=3)["members"]) == ["m0,m1,m2 … (+6)", "a,b"]


def test_three_searches_at_once_on_one_model(planted):
    """Three different requests in threads on the one shared model give what each gives alone, and leave the model
    as it was (eval mode, no hooks)."""
    loaded, positives, negatives = planted
    requests = [(positives, negatives, MotifSettings(top=0)), (positives[:30], None, MotifSettings(top=0, seed=3)),
                (positives, negatives, MotifSettings(top=0, params=MotifParams(min_len=6)))]
    alone = [report_motifs_table(find_motifs(loaded, *r)) for r in requests]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda r: report_motifs_table(find_motifs(loaded, *r)), requests * 2))
    for i, table in enumerate(together):
        pd.testing.assert_frame_equal(table, alone[i % 3])
    assert not loaded.model.training
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in loaded.model.modules())
