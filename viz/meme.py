"""MEME minimal motif format, version 4 (https://meme-suite.org/meme/doc/meme-format.html), written from PFMs.

memelite.io.write_meme writes this format but fixes ``nsites= 1`` and a uniform background and takes only a file
name, so the few lines are written here; memelite.io.read_meme reads them back (the tests check it).

The letter-probability rows are the observed frequencies, counts / sites at that position (no pseudocount: MEME
tools add their own, weighted by ``nsites``); a position with no counts is written as the background.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from dnabert_core.errors import DnabertError
from viz.known_motifs import BASES, check_pfm

UNIFORM = (0.25, 0.25, 0.25, 0.25)
DIGITS = 6  # decimals of each probability


def _background(background: Sequence[float] | None) -> np.ndarray:
    values = np.asarray(UNIFORM if background is None else background, dtype=np.float64)
    if values.shape != (4,) or not np.isfinite(values).all() or (values <= 0).any() or abs(values.sum() - 1) > 1e-6:
        raise DnabertError(f"background letter frequencies must be 4 positive numbers (A C G T) summing to 1, got "
                           f"{list(np.atleast_1d(values))}")
    return values


def _motif_block(name: str, pfm: pd.DataFrame, background: np.ndarray) -> str:
    if not name or re.search(r"\s", name):
        raise DnabertError(f"motif name {name!r}: MEME motif names must be non-empty and without spaces")
    counts = check_pfm(pfm, label=f"motif {name!r}")
    totals = counts.sum(axis=1, keepdims=True)
    probabilities = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), background)
    rows = "\n".join(" ".join(f"{value:.{DIGITS}f}" for value in row) for row in probabilities)
    nsites = int(round(float(totals.max())))
    return (f"MOTIF {name}\nletter-probability matrix: alength= 4 w= {len(counts)} nsites= {nsites} E= 0\n"
            f"{rows}\n")


def meme_text(motifs: Mapping[str, pd.DataFrame], background: Sequence[float] | None = None) -> str:
    """The MEME minimal format text of named PFMs.

    Parameters
    ----------
    motifs: name -> counts DataFrame (w rows, columns A C G T); names become MOTIF identifiers (no spaces).
    background: A C G T letter frequencies, default uniform.

    Returns
    -------
    The file's text; ``nsites`` of each motif is its largest position total.
    """
    values = _background(background)
    header = ("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n"
              + " ".join(f"{base} {value:.{DIGITS}g}" for base, value in zip(BASES, values)) + "\n")
    return "\n".join([header, *(_motif_block(name, pfm, values) for name, pfm in motifs.items())])


def write_meme(motifs: Mapping[str, pd.DataFrame], target: str | Path | TextIO,
               background: Sequence[float] | None = None) -> None:
    """Write ``meme_text(motifs, background)`` to a path or an open text stream."""
    text = meme_text(motifs, background)
    if hasattr(target, "write"):
        target.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
