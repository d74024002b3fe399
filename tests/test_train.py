"""Training loops on tiny models: loss goes down, resume is bit-identical, 2-process DDP equals one process,
fine-tuning learns a planted motif."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import BertForMaskedLM, BertForSequenceClassification

from dnabert_core.corpus import cut_pieces, join_unaligned, mask_occurrences, occurrence_mask, piece_length
from dnabert_core.errors import DnabertError
from dnabert_core.model import build_config
from dnabert_core.tokenizer import KmerTokenizer, reverse_complement
from dnabert_core.pretraining import masked_lm_metrics, pretrain
from dnabert_core.train import TrainConfig, batch_indices, finetune
from tests.conftest import TINY, random_dna

ROOT = Path(__file__).resolve().parents[1]


def tiny_mlm(seed: int = 0, dropout: float = 0.1) -> BertForMaskedLM:
    torch.manual_seed(seed)
    config = build_config(3, max_tokens=64, **TINY)
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout
    return BertForMaskedLM(config)


def repetitive_pieces(n: int = 64) -> list[str]:
    rng = np.random.default_rng(0)
    unit = "ACGTTGCA"
    return [(unit * 10)[int(rng.integers(0, 8)) :][: int(rng.integers(20, 62))] for _ in range(n)]


def read_metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_batch_indices_cover_each_epoch_and_are_deterministic():
    batches = np.concatenate([batch_indices(step, 4, 10, seed=3) for step in range(5)])  # 20 = two epochs
    assert sorted(batches[:10]) == list(range(10)) and sorted(batches[10:]) == list(range(10))
    assert np.array_equal(batch_indices(2, 4, 10, seed=3), batch_indices(2, 4, 10, seed=3))
    assert not np.array_equal(batch_indices(0, 10, 10, seed=3), batch_indices(0, 10, 10, seed=4))


def test_cut_pieces_lengths_and_n_filter():
    rng = np.random.default_rng(0)
    sequence = "ACGT" * 1000 + "N" * 2000 + "ACGT" * 500
    pieces = cut_pieces(sequence, 6, rng)
    assert piece_length(6) == 515
    assert all(6 <= len(p) <= 515 for p in pieces)
    assert all(p.count("N") <= len(p) / 2 for p in pieces)
    assert 0.2 < np.mean([len(p) < 515 for p in pieces]) < 0.8  # about half re-cut shorter (and the tail piece)


def test_join_unaligned_keeps_every_base_and_moves_the_shared_feature():
    # 100 aligned 20 bp sequences, a G at base 11 of each (as a TSS at 250 of every promoter)
    rng = np.random.default_rng(3)
    sequences = ["".join(rng.choice(list("ACT"), 10)) + "G" + "".join(rng.choice(list("ACT"), 9)) for _ in range(100)]
    stretches = join_unaligned(sequences, 8, np.random.default_rng(0))
    assert [len(s) for s in stretches] == [160] * 12 + [80]
    assert sorted("".join(stretches)) == sorted("".join(sequences))
    for stretch in stretches:  # each stretch is a rotation of whole input sequences in some order
        g = stretch.index("G")
        unrotated = stretch[(g - 10) % len(stretch):] + stretch[:(g - 10) % len(stretch)]
        parts = [unrotated[i : i + 20] for i in range(0, len(unrotated), 20)]
        assert all(part in sequences for part in parts)
    # the G's offset from each stretch's start (where cut_pieces starts cutting), modulo 20: varied, not always 10
    phases = {stretch.index("G") % 20 for stretch in stretches}
    assert len(phases) > 5
    with pytest.raises(ValueError):
        join_unaligned(sequences, 0, rng)


def test_cut_pieces_at_128_tokens():
    pieces = cut_pieces("ACGT" * 1000, 6, np.random.default_rng(0), max_tokens=128)
    assert piece_length(6, 128) == 131  # 126 k-mers + [CLS] + [SEP]
    assert max(map(len, pieces)) == 131 and min(map(len, pieces)) >= 6


def test_mask_occurrences_masks_both_strands_and_nothing_else():
    rng = np.random.default_rng(1)
    held = random_dna(rng, 60)
    other = random_dna(rng, 60)
    reverse = held[::-1].translate(str.maketrans("ACGT", "TGCA"))
    text = random_dna(rng, 100) + held.lower() + random_dna(rng, 100) + reverse + random_dna(rng, 50)
    masked, n = mask_occurrences(text, [held, other])
    assert n == 120 and masked.count("N") == 120
    assert masked[100:160] == "N" * 60 and masked[260:320] == "N" * 60
    assert masked[:100] == text[:100] and masked[160:260] == text[160:260] and masked[320:] == text[320:]
    assert mask_occurrences(text, [other, "ACGT"]) == (text, 0)  # absent, and shorter than the seed
    near = held[:5] + ("A" if held[5] != "A" else "C") + held[6:]  # same central seed, one base differs
    assert mask_occurrences(text, [near]) == (text, 0)


def test_pretraining_lowers_the_loss(tmp_path):
    pieces = repetitive_pieces()
    model = tiny_mlm()
    tokenizer = KmerTokenizer(3, 64)
    before = masked_lm_metrics(model, tokenizer, pieces[:16], batch_size=16, seed=1, mask_probability=0.1)
    config = TrainConfig(output=tmp_path, steps=30, batch_size=16, lr=2e-3, warmup_steps=3, log_every=5,
                         save_every=100, eval_every=15, mask_probability=0.1)
    run = pretrain(model, tokenizer, pieces, config, eval_pieces=pieces[:16])
    after = masked_lm_metrics(run.model, tokenizer, pieces[:16], batch_size=16, seed=1, mask_probability=0.1)
    assert after["loss"] < before["loss"] - 1.0
    lines = read_metrics(tmp_path)
    assert [line["step"] for line in lines if "loss" in line] == [5, 10, 15, 20, 25, 30]
    assert any("eval_accuracy" in line for line in lines)
    assert (tmp_path / "checkpoint" / "model.safetensors").is_file()


def test_composition_targets_are_each_rows_3mer_shares():
    from dnabert_core.pretraining import composition_cross_entropy, composition_targets, entropy

    ids = torch.tensor([[2, 5, 5, 7, 1, 3, 0], [2, 9, 3, 0, 0, 0, 0], [2, 1, 3, 0, 0, 0, 0]])  # [UNK]=1 counts nothing
    targets = composition_targets(ids, 3)  # k = 3: each 3-mer is its own share (AAA=5 -> 0, AAC=7 -> 2, ATA=9 -> 4)
    expected = torch.zeros(3, 64)
    expected[0, 0], expected[0, 2], expected[1, 4] = 2 / 3, 1 / 3, 1.0
    assert torch.allclose(targets, expected)
    entropies = torch.tensor([-(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)), 0, 0], dtype=torch.float32)
    assert torch.allclose(entropy(targets), entropies)
    tokenizer = KmerTokenizer(4, 64)  # k = 4: AAAA and AAAT share the 3-mer AAA, TAAA is TAA (index 16)
    ids4 = torch.from_numpy(tokenizer.encode_many(["AAAAT"])[0][None, :])
    assert ids4.tolist() == [[2, 5, 6, 3]]
    assert composition_targets(ids4, 4)[0, 0] == 1.0
    assert composition_targets(torch.from_numpy(tokenizer.encode_many(["TAAA"])[0][None, :]), 4)[0, 16] == 1.0
    # the [CLS] logits: probability of each 3-mer is the sum over the 4-mers that start with it
    logits = torch.full((1, 5 + 256), -1e4)
    logits[0, 5 + 0] = logits[0, 5 + 1] = logits[0, 5 + 64] = 0.0  # AAAA, AAAT (3-mer AAA), TAAA (TAA)
    one_hot = torch.zeros(1, 64)
    one_hot[0, 0] = 1.0
    assert torch.allclose(composition_cross_entropy(logits, one_hot, 4), torch.tensor([np.log(3 / 2)],
                                                                                        dtype=torch.float32))


def test_cls_composition_objective_makes_cls_read_each_piece(tmp_path):
    """Pieces of two compositions (AT-rich, GC-rich) in random order: with the objective the [CLS] output predicts each
    held-out piece's 3-mer composition better than the pooled training composition could (it reads the piece), and
    far better than the same training without it."""
    from dnabert_core.mlm_baselines import composition_baseline

    rng = np.random.default_rng(0)
    pieces = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(30, 60)), p=[0.4, 0.1, 0.1, 0.4] if i % 2 else
                                 [0.1, 0.4, 0.4, 0.1])) for i in range(160)]
    train, held = pieces[:128], pieces[128:]
    tokenizer = KmerTokenizer(3, 64)
    pooled_kl = composition_baseline(train, held, 3)  # tested by hand in test_mlm_baselines
    kl = {}
    for weight in (0.0, 1.0):
        config = TrainConfig(output=tmp_path / str(weight), steps=100, batch_size=16, lr=3e-3, warmup_steps=5,
                             log_every=10, save_every=200, eval_every=100, mask_probability=0.1,
                             cls_composition=weight)
        run = pretrain(tiny_mlm(dropout=0.0), tokenizer, train, config, eval_pieces=held)
        kl[weight] = masked_lm_metrics(run.model, tokenizer, held, batch_size=16, seed=1,
                                       mask_probability=0.1)["cls_composition_kl"]
        logged = [line for line in read_metrics(tmp_path / str(weight)) if "loss" in line]
        assert ("cls_composition_kl" in logged[-1]) == bool(weight)
    # the pooled composition is the best guess that ignores the piece; the two compositions' means (KL 0.62) are the
    # best a reader of the piece can do here, short pieces being noisy samples of them
    assert kl[1.0] < 0.9 * pooled_kl and kl[1.0] < 0.85 * kl[0.0], (kl, pooled_kl)


def test_position_offsets_train_every_position_embedding_and_stay_in_range(tmp_path):
    from dnabert_core.pretraining import offset_positions

    positions = offset_positions(500, 16, 64, torch.Generator().manual_seed(0))
    assert positions.shape == (500, 16) and int(positions.min()) == 0 and int(positions.max()) == 63
    assert torch.equal(positions - positions[:, :1], torch.arange(16).expand(500, 16))  # consecutive in each row
    pieces = [random_dna(np.random.default_rng(i), 14) for i in range(64)]  # 12 k-mers + [CLS], [SEP]: 14 tokens
    tokenizer = KmerTokenizer(3, 64)
    base = dict(steps=4, batch_size=16, lr=1e-2, log_every=10, mask_probability=0.1, weight_decay=0.0)
    before = tiny_mlm().bert.embeddings.position_embeddings.weight.detach().clone()
    for offsets in (False, True):
        run = pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(output=tmp_path / str(offsets),
                                                                    position_offsets=offsets, **base))
        after = run.model.bert.embeddings.position_embeddings.weight.detach()
        moved = (after - before).abs().sum(dim=1) > 0
        if offsets:  # 64 rows at random offsets: almost every one of the 64 positions is reached
            assert float(moved.float().mean()) > 0.9
        else:  # positions past the pieces never get a gradient
            assert bool(moved[:14].all()) and not bool(moved[14:].any())


def test_resume_continues_exactly(tmp_path):
    pieces = repetitive_pieces()
    tokenizer = KmerTokenizer(3, 64)
    base = dict(steps=6, batch_size=8, lr=1e-3, warmup_steps=2, log_every=1, mask_probability=0.1, seed=5)
    straight = pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(output=tmp_path / "a", save_every=100, **base))

    class Stop(Exception):
        pass

    def stop_after_3(record: dict) -> None:
        if record["step"] == 3 and "loss" in record:
            raise Stop

    folder = tmp_path / "b"
    with pytest.raises(Stop):  # a run killed after step 3 (its checkpoint was written at step 3)
        pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(output=folder, save_every=1, **base),
                 on_log=stop_after_3)
    torch.manual_seed(999)  # whatever the global RNG now holds, resuming restores the saved state
    resumed = pretrain(tiny_mlm(seed=123), tokenizer, pieces, TrainConfig(output=folder, save_every=1, **base))
    assert resumed.step == 6
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    straight_losses = [r["loss"] for r in read_metrics(tmp_path / "a") if "loss" in r]
    resumed_losses = [r["loss"] for r in read_metrics(folder) if "loss" in r]
    assert resumed_losses[-3:] == straight_losses[-3:]


@pytest.mark.slow
def test_resume_refuses_changed_settings_and_a_checkpoint_of_another_model(tmp_path):
    pieces = repetitive_pieces(16)
    tokenizer = KmerTokenizer(3, 64)
    base = dict(output=tmp_path, steps=2, batch_size=8, warmup_steps=1, mask_probability=0.1, save_every=1)
    pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(lr=1e-3, **base))
    with pytest.raises(DnabertError, match=r"other settings.*lr was 0.001, now 0.002; steps was 2, now 4"):
        pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(lr=2e-3, **{**base, "steps": 4}))
    # how often to log or save does not change the run: resuming with other values is fine
    assert pretrain(tiny_mlm(), tokenizer, pieces, TrainConfig(lr=1e-3, **{**base, "log_every": 1})).step == 2
    wider = BertForMaskedLM(build_config(3, max_tokens=64, layers=1, hidden=32, heads=4, intermediate=64))
    with pytest.raises(DnabertError, match=r"does not fit this model: 0 weights missing.*unexpected"):
        pretrain(wider, tokenizer, pieces, TrainConfig(lr=1e-3, **{**base, "steps": 2}))


def test_two_process_ddp_matches_one_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    worker = str(ROOT / "tests" / "ddp_worker.py")
    subprocess.run([sys.executable, worker, str(tmp_path / "single")], check=True, env=env, cwd=ROOT, timeout=300)
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", worker,
         str(tmp_path / "ddp")],
        check=True, env=env, cwd=ROOT, capture_output=True, timeout=300,
    )
    rank0 = load_file(tmp_path / "ddp" / "rank0.safetensors")
    rank1 = load_file(tmp_path / "ddp" / "rank1.safetensors")
    single = load_file(tmp_path / "single" / "rank0.safetensors")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
        torch.testing.assert_close(rank0[name], single[name], atol=1e-5, rtol=1e-4)
    ddp_losses = [r["loss"] for r in read_metrics(tmp_path / "ddp")]
    single_losses = [r["loss"] for r in read_metrics(tmp_path / "single")]
    np.testing.assert_allclose(ddp_losses, single_losses, rtol=1e-5)
    assert not (tmp_path / "ddp" / "metrics.jsonl").read_text().count("\n") > len(single_losses)  # rank 0 wrote once


def planted(n: int, rng: np.random.Generator, motif: str = "TATAAT") -> list[tuple[str, int]]:
    examples = []
    for i in range(n):
        sequence = random_dna(rng, 30).replace(motif, "TATCAT")
        label = i % 2
        if label:
            at = int(rng.integers(0, 30 - len(motif)))
            sequence = sequence[:at] + motif + sequence[at + len(motif) :]
        examples.append((sequence, label))
    return examples


@pytest.mark.slow
def test_finetuning_learns_a_planted_motif(tmp_path):
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(0)
    train, dev, test = planted(3000, rng), planted(200, rng), planted(400, rng)
    torch.manual_seed(0)
    model = BertForSequenceClassification(build_config(3, max_tokens=64, **TINY))
    tokenizer = KmerTokenizer(3, 64)

    def probabilities(m, examples):
        ids = [tokenizer.encode(s) for s, _ in examples]
        from dnabert_core.train import pad_ids

        batch = pad_ids(ids)
        with torch.no_grad():
            return torch.softmax(m(input_ids=batch, attention_mask=(batch != 0).long()).logits, -1).numpy()

    def evaluate(m):
        predicted = probabilities(m, dev).argmax(1)
        return {"accuracy": accuracy_score([y for _, y in dev], predicted)}

    config = TrainConfig(output=tmp_path, steps=300, batch_size=32, lr=3e-3, warmup_steps=20, eval_every=50,
                         log_every=50, save_every=1000)
    run, best = finetune(model, tokenizer, train, dev, config, evaluate=evaluate, select_metric="accuracy",
                         patience=4)
    accuracy = accuracy_score([y for _, y in test], probabilities(run.model.eval(), test).argmax(1))
    assert best["accuracy"] >= 0.85  # chance is 0.5
    assert accuracy >= 0.85
    assert json.loads((tmp_path / "best" / "dev_metrics.json").read_text())["accuracy"] == best["accuracy"]


def test_dropout_setting_reaches_every_layer_and_the_saved_model(tmp_path):
    from dnabert_core.errors import DnabertError
    from dnabert_core.train import Run, init_distributed, set_dropout

    torch.manual_seed(0)
    model = BertForSequenceClassification(build_config(3, max_tokens=64, **TINY)).train()
    ids = torch.from_numpy(KmerTokenizer(3, 64).encode(random_dna(np.random.default_rng(0), 40)))[None]
    with torch.no_grad():  # dropout 0.1 by default: two training-mode passes differ
        assert not torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)
    run = Run(model, KmerTokenizer(3, 64), TrainConfig(output=tmp_path, steps=1, dropout=0.0), init_distributed(),
              resume=False)
    assert all(m.p == 0.0 for m in run.model.modules() if isinstance(m, torch.nn.Dropout))
    with torch.no_grad():
        assert torch.equal(run.model(input_ids=ids).logits, run.model(input_ids=ids).logits)
    run.save_checkpoint()
    saved = json.loads((tmp_path / "checkpoint" / "config.json").read_text())
    assert saved["hidden_dropout_prob"] == 0.0 and saved["attention_probs_dropout_prob"] == 0.0
    with pytest.raises(DnabertError, match="dropout must be in"):
        set_dropout(model, 1.5)


def test_occurrence_mask_matches_a_naive_search():
    rng = np.random.default_rng(3)
    text = random_dna(rng, 3000)
    queries = [text[100:160], text[500:540], text[2000:2200]]  # the second also planted on the reverse strand
    gapped = text[1000:1050] + "N" + text[1051:1100]  # an N at the centre: found by a seed beside it
    text = text[:1000] + gapped + text[1100:2500] + reverse_complement(text[500:540]) + text[2540:]
    queries += [gapped, "ACGT" * 5, "N" * 40]  # shorter than the seed, and without an A/C/G/T-only seed: ignored
    expected = np.zeros(len(text), dtype=bool)
    for query in queries[:4]:
        for strand in (query, reverse_complement(query)):
            for start in range(len(text) - len(strand) + 1):
                if text.startswith(strand, start):
                    expected[start : start + len(strand)] = True
    found = occurrence_mask(text.lower(), queries)
    assert expected[1000:1100].all() and expected[2500:2540].all()
    np.testing.assert_array_equal(found, expected)


def test_random_crops_are_the_ids_of_cropped_sequences():
    from dnabert_core.train import crop_rows

    tokenizer = KmerTokenizer(3, 64)
    rng = np.random.default_rng(4)
    sequences = [random_dna(rng, n) for n in (40, 40, 12, 4)]
    rows = [tokenizer.encode(s) for s in sequences]
    seen = set()
    for _ in range(30):
        for sequence, cropped in zip(sequences, crop_rows(rows, 6, rng)):
            cuts = [(a, b) for a in range(7) for b in range(7 - a) if len(sequence) - a - b >= 3
                    and np.array_equal(tokenizer.encode(sequence[a : len(sequence) - b]), cropped)]
            assert cuts, (sequence, cropped)  # some crop of at most 6 bases, keeping a k-mer, gives these ids
            seen.add((len(sequence), min(cuts)[0] > 0, min(cuts)[1] > 0))
    assert {(40, True, True), (40, False, False), (40, True, False), (40, False, True)} <= seen
    again = crop_rows(rows, 6, np.random.default_rng([1, 2]))
    assert all(np.array_equal(a, b) for a, b in zip(again, crop_rows(rows, 6, np.random.default_rng([1, 2]))))


def test_finetuning_with_random_crops_is_reproducible_and_differs_from_none(tmp_path):
    rng = np.random.default_rng(1)
    train = [(random_dna(rng, 40), i % 2) for i in range(32)]
    tokenizer = KmerTokenizer(3, 64)

    def weights(name: str, crop: int) -> dict:
        torch.manual_seed(0)
        model = BertForSequenceClassification(build_config(3, max_tokens=64, **TINY))
        config = TrainConfig(output=tmp_path / name, steps=3, batch_size=8, lr=1e-3, eval_every=100,
                             save_every=100, random_crop=crop)
        run, _ = finetune(model, tokenizer, train, train[:4], config, evaluate=lambda m: {"mcc": 0.0})
        return run.model.state_dict()

    first, second, uncropped = weights("a", 8), weights("b", 8), weights("c", 0)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], uncropped[key]) for key in first)
