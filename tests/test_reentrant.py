"""Interpretation is re-entrant: one shared model (as the app's ``st.cache_resource`` holds it) serves landscapes,
integrated gradients and predictions from several threads at once, each result equal to the same call run alone, and
the model is left as it was (no hooks, eval mode, no gradients)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from dnabert_core.predict import predict
from dnabert_core.records import SequenceRecord
from tests.conftest import random_dna
from tests.test_attention import loaded_pair, peaky_model
from viz.attribution import integrated_gradients
from viz.landscape import attention_landscapes

REPEATS = 4
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
              "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs")


def batch(seed: int, lengths: tuple[int, ...]) -> list[SequenceRecord]:
    rng = np.random.default_rng(seed)
    return [SequenceRecord(f"s{seed}-{i}", random_dna(rng, n)) for i, n in enumerate(lengths)]


def tasks(loaded) -> list:
    """Four calls with different numbers of records, lengths (so padded shapes) and batch sizes; one long record
    (windows of 32 bp) in each of the interpretation calls. Each returns a list of arrays."""
    few = batch(1, (12, 40, 7))
    many = batch(2, (25, 9, 31, 18, 30, 11, 22))
    attributed = batch(3, (20, 45))
    predicted = batch(4, (8, 28, 16, 60, 13))
    return [
        lambda: [t.scores for t in attention_landscapes(loaded, few, batch_size=2)],
        lambda: [t.scores for t in attention_landscapes(loaded, many, layers=[0, 1], heads=[1, 2], reduce="mean",
                                                        query="mean", batch_size=5)],
        lambda: [np.append(t.scores, t.delta) for t in integrated_gradients(loaded, attributed, target=1, n_steps=6,
                                                                            batch_size=1, internal_batch_size=4)],
        lambda: [p.window_probs for p in predict(loaded, predicted, batch_size=3)],
    ]


def module_hooks(model: torch.nn.Module) -> list[str]:
    """Names of the hook dictionaries of ``model`` and its submodules that are not empty."""
    return [f"{name or 'model'}.{attr}" for name, module in model.named_modules() for attr in HOOK_DICTS
            if getattr(module, attr, None)]


def test_four_threads_on_one_shared_model_get_the_results_of_serial_calls():
    loaded = loaded_pair(peaky_model(3, seed=5, init=0.3), 3, max_tokens=32)[0]
    calls = tasks(loaded)
    serial = [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        for _ in range(REPEATS):
            barrier = threading.Barrier(len(calls))

            def together(call):
                barrier.wait(timeout=60)
                return call()

            results = [future.result() for future in [pool.submit(together, call) for call in calls]]
            for got, expected in zip(results, serial):
                assert len(got) == len(expected)
                for a, b in zip(got, expected):
                    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    model = loaded.model
    assert module_hooks(model) == []
    assert not torch.nn.modules.module._global_forward_hooks
    assert not any(module.training for module in model.modules())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("attr", HOOK_DICTS[:4])
def test_the_hook_check_sees_a_hook(attr):
    model = peaky_model(3)
    register = {"_forward_hooks": "register_forward_hook", "_forward_pre_hooks": "register_forward_pre_hook",
                "_backward_hooks": "register_full_backward_hook",
                "_backward_pre_hooks": "register_full_backward_pre_hook"}[attr]
    handle = getattr(model.bert.encoder.layer[1].attention.self.key, register)(lambda *args: None)
    assert module_hooks(model) == [f"bert.encoder.layer.1.attention.self.key.{attr}"]
    handle.remove()
    assert module_hooks(model) == []
