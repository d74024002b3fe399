"""A server-wide cache of analysis results shared by every user of the app, safe under concurrent requests.

Streamlit's ``st.cache_data`` replays the page elements a cached function drew, so a progress bar inside one breaks
the second run of the same input. This cache holds plain results only: the caller draws progress outside it. Keys
name everything a result depends on (model folder and its weights, input, settings; ``request_key``). Two users
asking for the same missing key compute it once: the second waits for the first. Different keys run at the same time.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


def request_key(model_folder: str | Path, *parts: object) -> str:
    """A digest of a model folder (path, and size and modification time of its weights: a retrained model in the same
    folder gets new keys) and the ``parts`` of a request (their ``repr``: records, settings dataclasses, numbers)."""
    folder = Path(model_folder)
    weights = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.safetensors"))]
    digest = hashlib.sha256(json.dumps([str(folder.resolve()), weights]).encode())
    for part in parts:
        digest.update(b"\x00" + repr(part).encode("utf-8", "replace"))
    return digest.hexdigest()


class ResultCache(Generic[T]):
    """Least-recently-used results, at most ``max_entries``; ``get_or_compute`` is thread-safe."""

    def __init__(self, max_entries: int = 32) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._results: OrderedDict[str, T] = OrderedDict()
        self._pending: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        """The cached result for ``key`` (marked as recently used), or None."""
        with self._lock:
            return self._hit(key)

    def _hit(self, key: str) -> T | None:
        """The result for ``key`` marked as recently used, or None; the caller holds the lock."""
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        return None

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        """The result for ``key``, computed by ``compute()`` when missing; a concurrent request for the same key waits
        for that computation instead of repeating it. An exception in ``compute`` reaches its caller and caches
        nothing (the next request tries again)."""
        while True:
            with self._lock:
                if key in self._results:
                    return self._hit(key)
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = threading.Lock()
                    pending.acquire()
                    break
            with pending:  # another request computes this key: wait for it, then look again
                pass
        try:
            result = compute()
            with self._lock:
                self._results[key] = result
                self._results.move_to_end(key)
                while len(self._results) > self.max_entries:
                    self._results.popitem(last=False)
            return result
        finally:
            with self._lock:
                del self._pending[key]
            pending.release()

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)
