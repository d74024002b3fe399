"""Model folders: DNABERT's published format loads and tokenises identically; checks name what is wrong."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM, BertForSequenceClassification, BertTokenizer

from dnabert_core import model as model_module
from dnabert_core.errors import ModelLoadError
from dnabert_core.model import build_config, convert_folder, load_model, save_model
from dnabert_core.tokenizer import KmerTokenizer, sequence_to_kmers
from tests.conftest import random_dna, tiny_classifier


def test_published_format_loads_as_masked_lm_identically(dnabert_format_dir):
    loaded = load_model(dnabert_format_dir, task="mlm", attn="eager")
    assert loaded.k == 6 and loaded.tokenizer.max_bases == 515 and loaded.labels == ()
    state = torch.load(dnabert_format_dir / "pytorch_model.bin", weights_only=True)
    reference = BertForMaskedLM(loaded.model.config)
    reference.load_state_dict(state)
    reference.eval()
    sequence = random_dna(np.random.default_rng(0), 300)
    ids = torch.from_numpy(loaded.tokenizer.encode(sequence))[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(input_ids=ids).logits, reference(input_ids=ids).logits)


def test_published_format_tokenises_like_bert_tokenizer(dnabert_format_dir):
    # the published tokenizer_config says do_lower_case: true; we never lower-case, and agree with the vocab lookup
    loaded = load_model(dnabert_format_dir, task="mlm")
    hf = BertTokenizer.from_pretrained(dnabert_format_dir, do_lower_case=False)
    sequence = random_dna(np.random.default_rng(1), 200, alphabet="ACGTN")
    expected = hf(" ".join(sequence_to_kmers(sequence, 6)))["input_ids"]
    assert loaded.tokenizer.encode(sequence).tolist() == expected


def test_masked_lm_checkpoint_gets_a_classification_head_only_to_finetune(dnabert_format_dir, caplog):
    caplog.set_level("INFO")
    loaded = load_model(dnabert_format_dir, task="finetune", num_labels=3)
    assert isinstance(loaded.model, BertForSequenceClassification)
    assert loaded.labels == ()  # the new head is untrained: no class labels until fine-tuning gives them
    assert "added a new 3-class head to fine-tune" in caplog.text
    state = torch.load(dnabert_format_dir / "pytorch_model.bin", weights_only=True)
    torch.testing.assert_close(
        loaded.model.bert.embeddings.word_embeddings.weight, state["bert.embeddings.word_embeddings.weight"]
    )


def test_save_load_round_trip_and_plain_transformers_load(tmp_path):
    model = tiny_classifier(4, labels=["neg", "pos"])
    folder = save_model(model, KmerTokenizer(4, 64), tmp_path / "m", card="# card\n")
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt", "README.md"}
    assert not list(folder.glob("*.bin"))
    loaded = load_model(folder)
    assert loaded.labels == ("neg", "pos") and loaded.k == 4 and loaded.tokenizer.max_tokens == 64
    plain = BertForSequenceClassification.from_pretrained(folder).eval()  # SPEC 8: loads unchanged
    ids = torch.from_numpy(loaded.tokenizer.encode("ACGTTGCAAGCT"))[None]
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        torch.testing.assert_close(loaded.model(input_ids=ids).logits, expected)
        torch.testing.assert_close(plain(input_ids=ids).logits, expected)


def test_convert_writes_safetensors_with_same_outputs(dnabert_format_dir, tmp_path):
    target = convert_folder(dnabert_format_dir, tmp_path / "converted")
    assert (target / "model.safetensors").is_file() and not (target / "pytorch_model.bin").exists()
    assert "sha256" in (target / "README.md").read_text()
    assert json.loads((target / "config.json").read_text())["architectures"] == ["BertForMaskedLM"]
    a = load_model(dnabert_format_dir, task="mlm")
    b = load_model(target, task="mlm")
    ids = torch.from_numpy(a.tokenizer.encode(random_dna(np.random.default_rng(2), 100)))[None]
    with torch.no_grad():
        torch.testing.assert_close(a.model(input_ids=ids).logits, b.model(input_ids=ids).logits)
    with pytest.raises(ModelLoadError, match="not over its source"):
        convert_folder(target, target)


@pytest.fixture()
def folder(tmp_path, dnabert_format_dir):
    target = tmp_path / "copy"
    shutil.copytree(dnabert_format_dir, target)
    return target


def test_error_missing_config(folder):
    (folder / "config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"copy: no config.json"):
        load_model(folder)


def test_error_missing_vocab(folder):
    (folder / "vocab.txt").unlink()
    with pytest.raises(ModelLoadError, match=r"no vocab.txt"):
        load_model(folder)


def test_error_vocab_size_disagrees_with_config(folder):
    (folder / "vocab.txt").write_text("\n".join(KmerTokenizer(5).vocab) + "\n")
    with pytest.raises(ModelLoadError, match=r"vocab_size is 4101, but vocab.txt has 1029 tokens \(k=5\)"):
        load_model(folder)


def test_error_vocab_order(folder):
    tokens = KmerTokenizer(6).vocab
    tokens[2], tokens[3] = tokens[3], tokens[2]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    with pytest.raises(ModelLoadError, match=r"line 3 is '\[SEP\]', DNABERT's k=6 vocabulary has '\[CLS\]' there"):
        load_model(folder)


def test_error_no_weights_and_bad_json(folder):
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError, match=r"no weights \(expected model.safetensors or pytorch_model.bin\)"):
        load_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"config.json: not valid JSON"):
        load_model(folder)


def test_error_other_model_type(folder):
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "roberta"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"model_type is 'roberta'; only BERT"):
        load_model(folder)


def test_error_pickle_with_code_is_refused(folder):
    # weights_only=True: a pickle that would run code at load time is refused, not executed
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="cannot load weights: the pickle holds more than tensors and was refused"):
        load_model(folder)


def test_error_wrong_number_of_classes(tmp_path):
    folder = save_model(tiny_classifier(3), KmerTokenizer(3, 64), tmp_path / "m")
    with pytest.raises(ModelLoadError, match=r"the model has 2 classes \(\['0', '1'\]\), but 3 were asked for"):
        load_model(folder, num_labels=3)


def test_error_not_a_folder_nor_hub_id(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no such model folder \(and not a hub id"):
        load_model(tmp_path / "missing" / "deeper")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(tmp_path / "file")


def test_hub_id_goes_through_snapshot_download(monkeypatch, dnabert_format_dir):
    # the hub path is real code; here the download is replaced by a local folder (tests never download)
    calls = {}

    def fake_snapshot_download(repo_id, allow_patterns, cache_dir=None):
        calls.update(repo_id=repo_id, allow_patterns=allow_patterns)
        return str(dnabert_format_dir)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    loaded = load_model("zhihan1996/DNA_bert_6", task="mlm")
    assert calls["repo_id"] == "zhihan1996/DNA_bert_6"
    assert "pytorch_model.bin" in calls["allow_patterns"] and loaded.k == 6


def test_build_config_sizes():
    config = build_config(6, size="dnabert")
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size) == (
        12, 768, 12, 3072)
    assert config.vocab_size == 4101 and config.max_position_embeddings == 512
    with pytest.raises(ModelLoadError, match=r"hidden size \(100\) is not a multiple of the number of heads \(12\)"):
        build_config(6, size="dnabert", hidden=100)
    assert model_module.SIZES["mini"] == (4, 256, 4, 1024)
    assert model_module.SIZES["small"] == (4, 128, 4, 512)


def test_an_encoder_is_loaded_as_saved_and_refused_for_probabilities(dnabert_format_dir):
    loaded = load_model(dnabert_format_dir)
    assert isinstance(loaded.model, BertForMaskedLM) and loaded.labels == ()
    with pytest.raises(ModelLoadError, match=r"no trained classification head.*dnabert finetune -m "):
        loaded.require_classifier()


def test_missing_weights_are_refused_but_tied_ones_are_not(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = save_model(tiny_classifier(3, labels=["a", "b"]), KmerTokenizer(3, 64), tmp_path / "m")
    mlm = BertForMaskedLM(build_config(3, max_tokens=64, layers=2, hidden=32, heads=4, intermediate=64))
    encoder = save_model(mlm, KmerTokenizer(3, 64), tmp_path / "mlm")  # decoder tied to the embeddings: stored once
    assert load_model(encoder, task="mlm").k == 3
    state = load_file(folder / "model.safetensors")
    del state["classifier.weight"]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"1 weights of a BertForSequenceClassification are missing.*classifier"):
        load_model(folder)


def test_saved_weights_are_readable_by_others(tmp_path):
    folder = save_model(tiny_classifier(3), KmerTokenizer(3, 64), tmp_path / "m")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask


def test_training_length_is_read_back_and_sets_the_default_window(tmp_path):
    model = tiny_classifier(3, labels=["a", "b"])
    model.config.dnabert_training_length = 40
    loaded = load_model(save_model(model, KmerTokenizer(3, 64), tmp_path / "m"))
    assert loaded.training_length == 40 and loaded.window_size() == 40 and loaded.window_size(50) == 50
    assert loaded.length_warning({40: 3, 45: 1, 36: 2}) is None  # within 20% (and longer inputs are windowed at 40)
    warning = loaded.length_warning({40: 1, 20: 2, 12: 1, 100: 5})
    assert warning.startswith("3 of 9 inputs are scored on 12-20 bp windows") and "trained on 40 bp" in warning
    assert loaded.length_warning({40: 1}, window=60) is None and "60-60 bp" in loaded.length_warning({90: 1}, 60)
    plain = load_model(save_model(tiny_classifier(3), KmerTokenizer(3, 64), tmp_path / "n"))
    assert plain.training_length is None and plain.window_size() == 64 and plain.length_warning({5: 1}) is None


def test_convert_refuses_a_file_or_a_full_folder_as_target(dnabert_format_dir, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        convert_folder(dnabert_format_dir, tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ModelLoadError, match="not empty"):
        convert_folder(dnabert_format_dir, tmp_path / "full")
