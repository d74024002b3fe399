"""Learning-curve series from a metrics log, and the loss-curve PNG."""
from __future__ import annotations

import json

from viz.training_plots import curve_series, plot_loss_curve


def test_curve_series_keeps_the_last_value_of_a_step_logged_twice(tmp_path):
    records = [
        {"step": 10, "loss": 0.7}, {"step": 20, "loss": 0.6},
        {"step": 20, "dev_mcc": 0.1, "dev_auroc": 0.6},
        {"step": 20, "loss": 0.55},  # resumed from the step-10 checkpoint: step 20 again
        {"step": 20, "dev_mcc": 0.2, "dev_auroc": 0.65},
        {"step": 30, "loss": 0.5, "eval_loss": 0.52},
    ]
    series = curve_series(records)
    assert series["loss"] == [(10, 0.7), (20, 0.55), (30, 0.5)]
    assert series["dev_mcc"] == [(20, 0.2)] and series["dev_auroc"] == [(20, 0.65)]
    assert series["held_loss"] == [(30, 0.52)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in records))
    target = plot_loss_curve(log, tmp_path / "curve.png", "test")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
