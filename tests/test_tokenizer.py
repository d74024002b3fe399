"""Tokenizer against independent expectations: hand-checked ids, a naive vocab.txt lookup, DNABERT's files."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnabert_core.errors import VocabularyError
from dnabert_core.tokenizer import (
    CLS_ID,
    SEP_ID,
    UNK_ID,
    KmerTokenizer,
    k_from_vocab_size,
    kmer_token_ids,
    kmers_to_bases,
    kmers_to_sequence,
    sequence_to_kmers,
    vocabulary,
)
from tests.conftest import SHARED_DATA, random_dna


def naive_ids(sequence: str, vocab_lines: list[str], k: int) -> list[int]:
    """The reference users write: space-separated k-mers looked up in vocab.txt, unknown -> [UNK]."""
    lookup = {token: index for index, token in enumerate(vocab_lines)}
    text = " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))
    return [lookup["[CLS]"]] + [lookup.get(t, lookup["[UNK]"]) for t in text.split()] + [lookup["[SEP]"]]


def test_vocabulary_sizes_and_order():
    assert [len(vocabulary(k)) for k in (3, 4, 5, 6)] == [69, 261, 1029, 4101]
    v3 = vocabulary(3)
    assert v3[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert v3[5:10] == ["AAA", "AAT", "AAC", "AAG", "ATA"]
    assert v3[-1] == "GGG"
    for k in (3, 4, 5, 6):
        assert k_from_vocab_size(len(vocabulary(k))) == k


def test_hand_checked_ids_k6():
    tokenizer = KmerTokenizer(6)
    assert list(tokenizer.encode("AAAAAA")) == [CLS_ID, 5, SEP_ID]
    assert list(tokenizer.encode("AAAAAT")) == [CLS_ID, 6, SEP_ID]
    assert list(tokenizer.encode("GGGGGG")) == [CLS_ID, 4100, SEP_ID]
    # AAAAAAT: two 6-mers AAAAAA (5) and AAAAAT (6)
    assert list(kmer_token_ids("AAAAAAT", 6)) == [5, 6]


def test_hand_checked_ids_k3():
    # k=3: id = 5 + 16*a + 4*b + c with A=0, T=1, C=2, G=3 -> "ACG" = 5 + 0 + 8 + 3 = 16
    assert vocabulary(3)[16] == "ACG"
    assert list(kmer_token_ids("ACGT", 3)) == [16, 5 + 16 * 2 + 4 * 3 + 1]


def test_unknown_bases_lowercase_and_rna():
    # a k-mer with N is [UNK]; lowercase and U are the same bases
    ids = kmer_token_ids("ACNGTA", 3)
    assert list(ids[:3]) == [UNK_ID] * 3
    assert ids[3] == vocabulary(3).index("GTA")
    assert list(kmer_token_ids("acgu", 3)) == list(kmer_token_ids("ACGT", 3))


def test_all_kmers_kept_and_short_sequences():
    assert kmer_token_ids("ACGTACGTAC", 6).size == 5  # n - k + 1, DNABERT's scripts drop the last one
    assert kmer_token_ids("ACGTA", 6).size == 0
    assert list(KmerTokenizer(6).encode("ACGTA")) == [CLS_ID, SEP_ID]


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_agrees_with_naive_reference_on_random_sequences(k):
    rng = np.random.default_rng(k)
    vocab_lines = vocabulary(k)
    tokenizer = KmerTokenizer(k)
    for _ in range(50):
        sequence = random_dna(rng, int(rng.integers(k, 515)), alphabet="ACGTN" if k % 2 else "ACGT")
        assert tokenizer.encode(sequence).tolist() == naive_ids(sequence, vocab_lines, k)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTNacgtnURY", min_size=0, max_size=200), st.integers(3, 6))
def test_property_naive_agreement_and_round_trip(sequence, k):
    upper = sequence.upper().replace("U", "T")
    expected = naive_ids(upper, vocabulary(k), k)[1:-1]
    assert kmer_token_ids(sequence, k).tolist() == expected
    if len(upper) >= k:
        assert kmers_to_sequence(sequence_to_kmers(upper, k)) == upper


def test_agrees_with_naive_reference_on_real_dnabert_tsv():
    path = SHARED_DATA / "dnabert-samples" / "ft" / "prom-core" / "6" / "dev.tsv"
    if not path.is_file():
        pytest.skip("shared data not present")
    vocab_lines = vocabulary(6)
    lookup = {token: index for index, token in enumerate(vocab_lines)}
    lines = path.read_text().splitlines()[1:200]
    for line in lines:
        kmers = line.split("\t")[0].split()
        sequence = kmers_to_sequence(kmers)
        assert sequence_to_kmers(sequence, 6) == kmers
        assert kmer_token_ids(sequence, 6).tolist() == [lookup[t] for t in kmers]


def test_agrees_with_transformers_bert_tokenizer(tmp_path):
    from transformers import BertTokenizer

    tokenizer = KmerTokenizer(4)
    tokenizer.save_vocabulary(tmp_path)
    hf = BertTokenizer.from_pretrained(tmp_path, do_lower_case=False)
    sequence = random_dna(np.random.default_rng(0), 120, alphabet="ACGTN")
    kmers = " ".join(sequence_to_kmers(sequence, 4))
    assert hf(kmers)["input_ids"] == tokenizer.encode(sequence).tolist()


def test_vocab_file_checks(tmp_path):
    tokenizer = KmerTokenizer(5)
    tokenizer.save_vocabulary(tmp_path)
    assert KmerTokenizer.from_vocab_file(tmp_path / "vocab.txt").k == 5
    lines = (tmp_path / "vocab.txt").read_text().splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(VocabularyError, match=r"line 6 is 'AAAAT', DNABERT's k=5 vocabulary has 'AAAAA' there"):
        KmerTokenizer.from_vocab_file(tmp_path / "vocab.txt")
    (tmp_path / "vocab.txt").write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(VocabularyError, match=r"vocabulary size 100 is not a DNABERT k-mer vocabulary"):
        KmerTokenizer.from_vocab_file(tmp_path / "vocab.txt")
    with pytest.raises(VocabularyError, match="k must be an integer from 3 to 6, got 7"):
        KmerTokenizer(7)


def test_batch_padding_and_masks():
    tokenizer = KmerTokenizer(3)
    batch = tokenizer.batch(["ACGTA", "ACG"])
    assert batch.input_ids.tolist() == [
        [CLS_ID, 16, kmer_token_ids("CGT", 3)[0], kmer_token_ids("GTA", 3)[0], SEP_ID],
        [CLS_ID, 16, SEP_ID, 0, 0],
    ]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert tokenizer.get_special_tokens_mask(batch.input_ids[1]).tolist() == [1, 0, 1, 1, 1]


def test_encode_rejects_overlong_sequence():
    tokenizer = KmerTokenizer(6)
    assert tokenizer.max_bases == 515
    assert tokenizer.encode("A" * 515).size == 512
    with pytest.raises(VocabularyError, match="a sequence of 516 bp gives 511 6-mers, more than the 510"):
        tokenizer.encode("A" * 516)


@pytest.mark.parametrize("n,window,step", [(515, None, None), (516, None, None), (2000, 100, 30), (101, 101, 7)])
def test_windows_cover_every_base(n, window, step):
    tokenizer = KmerTokenizer(6)
    size = window or tokenizer.max_bases
    starts = tokenizer.windows(n, window, step)
    covered = np.zeros(n, dtype=bool)
    for s in starts:
        assert 0 <= s and s + min(size, n) <= n
        covered[s : s + size] = True
    assert covered.all()
    assert starts[0] == 0 and np.all(np.diff(starts) > 0)
    if n > size:
        assert starts[-1] + size == n


def test_kmers_to_bases_matches_naive_mean():
    rng = np.random.default_rng(3)
    for k in (3, 4, 5, 6):
        m = int(rng.integers(1, 40))
        scores = rng.random(m)
        n = m + k - 1
        naive = [np.mean([scores[i] for i in range(m) if i <= p <= i + k - 1]) for p in range(n)]
        np.testing.assert_allclose(kmers_to_bases(scores, k), naive, rtol=1e-12)


def test_kmers_to_bases_hand_example():
    # 5 bp, k=3 -> 3 k-mers with scores 1, 2, 3; bases covered by {1}, {1,2}, {1,2,3}, {2,3}, {3}
    np.testing.assert_allclose(kmers_to_bases(np.array([1.0, 2.0, 3.0]), 3), [1, 1.5, 2, 2.5, 3])


def test_every_kmer_round_trips_through_its_id():
    tokenizer = KmerTokenizer(4)
    for kmer in ("".join(p) for p in itertools.product("ACGT", repeat=4)):
        (token_id,) = kmer_token_ids(kmer, 4)
        assert tokenizer.decode([token_id]) == [kmer]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ACGTNacgu", max_size=30), max_size=8), st.integers(3, 6))
def test_batch_encoding_equals_one_by_one(sequences, k):
    # windows straddling two concatenated sequences must never leak into either
    tokenizer = KmerTokenizer(k)
    many = tokenizer.encode_many(sequences)
    assert [ids.tolist() for ids in many] == [naive_ids(s.upper().replace("U", "T"), vocabulary(k), k) for s in sequences]
