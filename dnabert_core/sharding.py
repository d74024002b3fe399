"""Inference past one machine: under ``torchrun`` every rank reads the same input, takes a deterministic share of it
(blocks dealt round-robin), and rank 0 receives every result in input order and writes the output. A single process
(no ``WORLD_SIZE``) runs every block itself: the same code path, the same output, byte for byte."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

import torch.distributed as dist

from dnabert_core.train import Dist

T = TypeVar("T")
R = TypeVar("R")


def sharded(items: Iterable[T], work: Callable[[list[T]], list[R]], where: Dist, block: int = 256
            ) -> Iterator[tuple[T, R]]:
    """``(item, result)`` for every item, in input order, on rank 0 (other ranks yield nothing). Items are read in
    rounds of ``world`` blocks of ``block`` items; block ``j`` of a round goes to rank ``j``, which returns
    ``work(block)`` (one result per item, picklable); rank 0 gathers the round and yields it. Every rank must see the
    same items in the same order (they read the same files)."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    stream = iter(items)
    while True:
        blocks = [list(islice(stream, block)) for _ in range(where.world)]
        if not blocks[0]:
            return
        mine = blocks[where.rank]
        results = work(mine) if mine else []
        if len(results) != len(mine):
            raise RuntimeError(f"work returned {len(results)} results for {len(mine)} items")
        if where.world == 1:
            gathered = [results]
        else:
            gathered = [None] * where.world if where.main else None
            dist.gather_object(results, gathered, dst=0)
        if where.main:
            for members, answers in zip(blocks, gathered):
                yield from zip(members, answers)
        if len(blocks[-1]) < block:
            return
