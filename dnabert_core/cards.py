"""Model cards (the README.md of a model folder, SPEC section 8) rendered from plain data."""
from __future__ import annotations

import platform
from collections.abc import Mapping

import torch


def hardware() -> str:
    """What the run ran on, for the card: CPU/GPU, threads."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA), {torch.cuda.device_count()} device(s)"
    return f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads"


def metrics_table(rows: Mapping[str, Mapping[str, float]], columns: list[str]) -> str:
    """A Markdown table: one row per model (ours, baseline), one column per metric, 4 decimals."""
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, values in rows.items():
        cells = [f"{values[c]:.4f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_card(title: str, sections: Mapping[str, str]) -> str:
    """``# title`` then one ``## heading`` per section, in order."""
    parts = [f"# {title}\n"]
    for heading, body in sections.items():
        parts.append(f"## {heading}\n\n{body.strip()}\n")
    return "\n".join(parts)
