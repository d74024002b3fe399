"""The app's shared result cache: one computation per key under concurrent requests, different keys in parallel."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from viz.result_cache import ResultCache, request_key


def test_same_key_from_many_threads_is_computed_once():
    cache: ResultCache[int] = ResultCache()
    calls, started = [], threading.Event()

    def compute() -> int:
        calls.append(1)
        started.set()
        threading.Event().wait(0.2)  # long enough for the other requests to arrive while it runs
        return 42

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cache.get_or_compute("k", compute), range(6)))
    assert results == [42] * 6 and len(calls) == 1


def test_different_keys_run_at_the_same_time():
    cache: ResultCache[str] = ResultCache()
    a_running, b_running = threading.Event(), threading.Event()

    def compute(mine: threading.Event, other: threading.Event, value: str) -> str:
        mine.set()
        assert other.wait(5), "the other key never ran beside this one: requests were serialised"
        return value

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(cache.get_or_compute, "a", lambda: compute(a_running, b_running, "A"))
        b = pool.submit(cache.get_or_compute, "b", lambda: compute(b_running, a_running, "B"))
        assert (a.result(10), b.result(10)) == ("A", "B")


def test_a_failure_caches_nothing_and_waiters_retry():
    cache: ResultCache[int] = ResultCache()
    attempts = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            threading.Event().wait(0.1)
            raise RuntimeError("first try fails")
        return 7

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get_or_compute, "k", flaky)
        threading.Event().wait(0.02)
        second = pool.submit(cache.get_or_compute, "k", flaky)
        with pytest.raises(RuntimeError, match="first try fails"):
            first.result(5)
        assert second.result(5) == 7
    assert len(attempts) == 2 and cache.get("k") == 7


def test_least_recently_used_entries_go_first():
    cache: ResultCache[int] = ResultCache(max_entries=2)
    cache.get_or_compute("a", lambda: 1)
    cache.get_or_compute("b", lambda: 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.get_or_compute("c", lambda: 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2
    with pytest.raises(ValueError):
        ResultCache(max_entries=0)


def test_request_key_follows_model_weights_and_every_part(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    base = request_key(tmp_path, ("ACGT",), 3)
    assert request_key(tmp_path, ("ACGT",), 3) == base
    assert request_key(tmp_path, ("ACGA",), 3) != base and request_key(tmp_path, ("ACGT",), 4) != base
    os.utime(tmp_path / "model.safetensors", ns=(1, 1))  # the same folder, retrained weights
    assert request_key(tmp_path, ("ACGT",), 3) != base
