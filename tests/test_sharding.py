"""Inference past one machine (dnabert_core.sharding): results in input order, and predict, scan, variants and ism
under torchrun with 2 CPU processes (gloo) writing byte-identical files to one process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dnabert_core.model import save_model
from dnabert_core.sharding import sharded
from dnabert_core.tokenizer import KmerTokenizer
from dnabert_core.train import Dist
from tests.conftest import random_dna, tiny_classifier

ROOT = Path(__file__).resolve().parents[1]
FILES = ("predict.tsv", "windows.tsv", "scan.bedgraph", "peaks.bed", "variants.tsv", "ism.tsv")


def test_a_single_process_gets_every_result_in_order():
    one = Dist(rank=0, world=1, device=torch.device("cpu"))
    items = list(range(23))
    assert list(sharded(items, lambda block: [x * x for x in block], one, block=5)) == [(x, x * x) for x in items]
    assert list(sharded([], lambda block: block, one)) == []
    with pytest.raises(RuntimeError, match="2 results for 3 items"):
        list(sharded([1, 2, 3], lambda block: block[:2], one, block=3))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shard-inputs")
    save_model(tiny_classifier(3, labels=["negative", "positive"]), KmerTokenizer(3, 64), folder / "model")
    rng = np.random.default_rng(0)
    (folder / "in.fa").write_text("".join(f">r{i}\n{random_dna(rng, int(rng.integers(20, 150)))}\n"
                                          for i in range(23)) + ">bad\nACGTXX\n")
    (folder / "short.fa").write_text("".join(f">s{i}\n{random_dna(rng, 30)}\n" for i in range(3)))
    chrom = random_dna(rng, 500)
    (folder / "ref.fa").write_text(f">chr5\n{chrom}\n")
    rows = [f"chr5\t{p}\tv{p}\t{chrom[p - 1]}\t{'A' if chrom[p - 1] != 'A' else 'C'}\t.\t.\t." for p in
            range(30, 460, 13)]
    (folder / "calls.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                                      + "".join(f"{row}\n" for row in rows))
    return folder


def test_two_processes_write_what_one_writes(inputs, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    worker = str(ROOT / "tests" / "sharding_worker.py")
    subprocess.run([sys.executable, worker, str(inputs), str(tmp_path / "one")], check=True, env=env, cwd=ROOT,
                   timeout=300, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           worker, str(inputs), str(tmp_path / "two")], env=env, cwd=ROOT, timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in FILES:
        one, two = (tmp_path / "one" / name).read_bytes(), (tmp_path / "two" / name).read_bytes()
        assert one and one == two, name
    assert done.stderr.count("record 'bad'") == 1  # a rejected record is listed once, by rank 0
