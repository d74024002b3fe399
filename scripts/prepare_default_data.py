"""Write the train/dev/test splits and the held-out sets of the embedded default models from ../shared/data (not
committed: data/ is ignored).

    python scripts/prepare_default_data.py [--shared ../shared/data] [--out data]

Every split is deduplicated by exact sequence first, so that no test sequence is seen in training, and negatives are
made in more than one way (dnabert_core.negatives), so that a model cannot pass by learning how they were made:
- promoter-300 (gena-promoter-300 positives): folds 1-3 -> train and dev (10%, seeded), fold 4 -> test. Training and
  dev negatives are made from their own positives, one each, the kinds in turn: piece shuffle (GENA's and
  DeePromoter's construction), random substitution, dinucleotide shuffle, GC-matched windows of the training genome
  text (chr22 16.05-19 Mb). GENA's own negatives are used only in the test. Held-out sets (fold-4 positives against
  one kind each): GENA's fold-4 negatives, substitution, dinucleotide shuffle, random and GC-matched windows of
  chr22 19-22 Mb; plus GUE prom_300_all's test set minus every sequence that occurs in our training or dev data.
- tfbs-ctcf (encode690 Gm12878 CTCF): split by chromosome (test chr1 and chr8, dev chr2, the rest train). Negatives:
  ENCODE's shuffled peaks for half the positives, GC-matched 101 bp genome windows for the other half (training
  text for train and dev, chr22 19-22 Mb for test). Held-out: ENCODE's shuffled test negatives; GC-matched windows.
- splice-400: GUE's reconstructed set (dev + test pooled) plus EnsembleSplice's human set (602 bp, cut to GUE's 400 bp
  frame: exon/intron boundary at 200), whose negatives are decoy GT/AG sites (label "neither"). Sequences sharing
  their central 60 bp (the same site in two windows) are one group; groups are split 80/10/10 stratified by class
  and source. Held-out: the GUE part of the test split; the EnsembleSplice part (true sites against decoys).
Genome windows never overlap an occurrence (either strand) of a sequence of any task; promoter windows also avoid
the first and last 32 bp of each (an hg38 promoter whose hg19 place differs inside it has no exact copy in the text,
but its ends do). CTCF and the random promoter windows do not overlap one another either (distinct GC-rich windows
run out in a few Mb, so GC-matched promoter windows may: see dnabert_core.negatives.make_negatives).
Each output CSV has columns id, sequence, label; held-out sets are in <task>/heldout/<name>.csv.
"""
from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

import numpy as np

from dnabert_core.io import Genome
from dnabert_core.negatives import genomic_windows, make_negatives, gc_fraction

SEED = 20211
CTCF_TEST = {"chr1", "chr8"}
CTCF_DEV = {"chr2"}
GENOME = ("hg19-chr22-part", "chr22_part.fa.gz")
TRAIN_TEXT = ("22", 16_050_000, 19_000_000)  # 0-based, half-open: genome text for training and dev negatives
TEST_TEXT = ("22", 19_000_000, 22_000_000)  # genome text for test negatives
EDGE = 32  # bases at each end of a task sequence that promoter windows also avoid (see with_edges)
PROMOTER_KINDS = ("piece_shuffle", "random_substitution", "dinucleotide_shuffle", "genomic")
SPLICE_CENTRE = 30  # bases each side of the exon/intron boundary that identify a site

Row = tuple[str, str, str]  # id, sequence, label


def read_csv(path: Path, sequence: str, label: str) -> list[tuple[str, str]]:
    with path.open() as handle:
        return [(row[sequence].upper(), row[label]) for row in csv.DictReader(handle)]


def drop_conflicts(rows: list[Row]) -> list[Row]:
    """Keep the first copy of each sequence; drop sequences seen with two labels."""
    labels: dict[str, set[str]] = {}
    for _, sequence, label in rows:
        labels.setdefault(sequence, set()).add(label)
    seen, out = set(), []
    for row in rows:
        if len(labels[row[1]]) == 1 and row[1] not in seen:
            seen.add(row[1])
            out.append(row)
    return out


def write(folder: Path, name: str, rows: list[Row]) -> None:
    path = folder / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sequence", "label"])
        writer.writerows(rows)
    print(f"{folder.name}/{name}: {len(rows)} {dict(sorted(Counter(r[2] for r in rows).items()))}")


def genome_text(shared: Path, span: tuple[str, int, int]) -> str:
    with Genome(shared.joinpath(*GENOME)) as genome:
        return genome.fetch(*span)


def with_negatives(positives: list[Row], negatives: list[tuple[str, str]], label: str = "0") -> list[Row]:
    """Each positive followed by its negative, whose id is the positive's plus ``:kind``."""
    out = []
    for (name, sequence, positive_label), (negative, kind) in zip(positives, negatives):
        out += [(name, sequence, positive_label), (f"{name}:{kind}", negative, label)]
    return out


def promoter(shared: Path, out: Path, train_text: str, test_text: str, exclude: list[str]) -> None:
    folds = {f: read_csv(shared / "gena-promoter-300" / f"fold_{f}.csv", "sequence", "promoter_presence")
             for f in (1, 2, 3, 4)}
    rows = [(f"fold{f}_{i}", s, y, f) for f in folds for i, (s, y) in enumerate(folds[f])]
    clean = {r[:3] for r in drop_conflicts([r[:3] for r in rows])}
    test = [r[:3] for r in rows if r[3] == 4 and r[:3] in clean]
    test_sequences = {r[1] for r in test}
    pool = [r[:3] for r in rows if r[3] != 4 and r[:3] in clean and r[1] not in test_sequences]
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(pool))  # over GENA's positives and negatives: the dev positives the encoder's
    n_dev = len(pool) // 10             # pre-training text (promoters.txt) left out
    dev = [pool[i] for i in order[:n_dev] if pool[i][2] == "1"]
    train = [pool[i] for i in order[n_dev:] if pool[i][2] == "1"]
    negatives = make_negatives([r[1] for r in train + dev], PROMOTER_KINDS, rng, train_text, exclude=exclude,
                               distinct=False)
    folder = out / "promoter-300"
    write(folder, "train", with_negatives(train, negatives[: len(train)]))
    write(folder, "dev", with_negatives(dev, negatives[len(train) :]))

    positives = [r for r in test if r[2] == "1"]
    gena = [r[1] for r in test if r[2] == "0"]
    seqs = [r[1] for r in positives]
    made = {kind: make_negatives(seqs, (kind,), rng, test_text, exclude=exclude, distinct=False)
            for kind in ("random_substitution", "dinucleotide_shuffle", "genomic")}
    uniform = genomic_windows(test_text, 300, len(seqs), rng, exclude=[*exclude, *seqs]).sequences
    made["genomic_random"] = [(s, "genomic_random") for s in uniform]
    made["gena"] = [(gena[i % len(gena)], "gena") for i in range(len(seqs))]
    heldout = {"gena": [r for r in test if r[2] == "1"] + [(f"gena_{i}", s, "0") for i, s in enumerate(gena)]}
    for kind in ("random_substitution", "dinucleotide_shuffle", "genomic", "genomic_random"):
        heldout[kind] = with_negatives(positives, made[kind])
    mixed_kinds = ("gena", "random_substitution", "dinucleotide_shuffle", "genomic")
    write(folder, "test", with_negatives(positives, [made[mixed_kinds[i % 4]][i] for i in range(len(positives))]))
    for name, members in heldout.items():
        write(folder / "heldout", name, members)
    seen = {r[1] for r in train + dev} | {s for s, _ in negatives}
    gue = read_csv(shared / "gue" / "prom" / "prom_300_all" / "test.csv", "sequence", "label")
    kept = [(f"gue_{i}", s, y) for i, (s, y) in enumerate(gue) if s not in seen]
    print(f"GUE prom_300_all test: {len(gue)} sequences, {len(gue) - len(kept)} of them in our training/dev data")
    write(folder / "heldout", "gue_prom_300_all", kept)


def ctcf(shared: Path, out: Path, train_text: str, test_text: str, exclude: list[str]) -> None:
    path = shared / "encode690-tfbs" / "wgEncodeAwgTfbsBroadGm12878CtcfUniPk" / "test.data"
    rows = []
    for line in path.read_text().splitlines():
        name, sequence, label = line[1:].split()
        rows.append((name, sequence.upper(), label))
    rows = drop_conflicts(rows)
    chrom = {r[0]: r[0].split(":")[0] for r in rows}
    split = {"train": [r for r in rows if chrom[r[0]] not in CTCF_TEST | CTCF_DEV],
             "dev": [r for r in rows if chrom[r[0]] in CTCF_DEV],
             "test": [r for r in rows if chrom[r[0]] in CTCF_TEST]}
    rng = np.random.default_rng(SEED + 1)
    folder = out / "tfbs-ctcf"
    for name in ("train", "dev", "test"):
        positives = [r for r in split[name] if r[2] == "1"]
        shuffled = [r for r in split[name] if r[2] == "0"]
        rng.shuffle(shuffled)
        text = test_text if name == "test" else train_text
        genomic = genomic_windows(text, 101, len(positives), rng, exclude=exclude,
                                  gc_targets=[gc_fraction(r[1]) for r in positives]).sequences
        halves = [(shuffled[i // 2][1], "encode_shuffled") if i % 2 == 0 and i // 2 < len(shuffled)
                  else (genomic[i], "genomic") for i in range(len(positives))]
        write(folder, name, with_negatives(positives, halves))
        if name == "test":
            write(folder / "heldout", "encode_shuffled", split["test"])
            write(folder / "heldout", "genomic", with_negatives(positives, [(s, "genomic") for s in genomic]))


def read_ensemblesplice(shared: Path) -> list[tuple[str, str, str]]:
    """EnsembleSplice's human set cut to GUE's frame: (name, 400 bp sequence, label 0 acceptor / 1 donor / 2 neither).
    Donor files have GT at 300-301 (boundary at 300), acceptor files AG at 300-301 (boundary at 302)."""
    out = []
    for part in ("Train", "Test"):
        for site, label, offset in (("Acceptor", "0", 102), ("Donor", "1", 100)):
            for sign in ("Positive", "Negative"):
                path = shared / "splice-ensemblesplice" / "homo_sapiens" / part / f"{site}_{part}_{sign}.txt"
                lines = [line.strip().upper() for line in path.read_text().splitlines()]
                sequences = [line for line in lines if line and not line.startswith(">")]
                out += [(f"es_{part}_{site}_{sign}_{i}", s[offset : offset + 400], label if sign == "Positive" else "2")
                        for i, s in enumerate(sequences) if len(s) == 602]
    return out


def splice(shared: Path, out: Path) -> None:
    folder = shared / "gue" / "splice" / "reconstructed"
    pooled = read_csv(folder / "dev.csv", "sequence", "label") + read_csv(folder / "test.csv", "sequence", "label")
    rows = drop_conflicts([(f"gue_{i}", s, y) for i, (s, y) in enumerate(pooled)] + read_ensemblesplice(shared))
    groups: dict[str, list[Row]] = {}  # the same site in two windows is one group
    for row in rows:
        groups.setdefault(row[1][200 - SPLICE_CENTRE : 200 + SPLICE_CENTRE], []).append(row)
    keys = sorted(groups)
    rng = np.random.default_rng(SEED + 2)
    split: dict[str, list[Row]] = {"train": [], "dev": [], "test": []}
    strata: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        first = groups[key][0]
        strata.setdefault((first[0].split("_")[0], first[2]), []).append(key)
    for stratum in sorted(strata):
        members = strata[stratum]
        order = rng.permutation(len(members))
        n = len(members) // 10
        for name, chosen in (("test", order[:n]), ("dev", order[n : 2 * n]), ("train", order[2 * n :])):
            split[name] += [row for i in chosen for row in groups[members[i]]]
    for name, members in split.items():
        write(out / "splice-400", name, members)
    write(out / "splice-400" / "heldout", "gue", [r for r in split["test"] if r[0].startswith("gue_")])
    write(out / "splice-400" / "heldout", "ensemblesplice_decoys", [r for r in split["test"] if r[0].startswith("es_")])


def all_task_sequences(shared: Path) -> list[str]:
    """Every sequence of the promoter, CTCF and splice sources (positives and negatives), to keep out of genome
    windows."""
    out = []
    for path in sorted((shared / "gena-promoter-300").glob("fold_*.csv")):
        out += [s for s, _ in read_csv(path, "sequence", "promoter_presence")]
    out += [line.strip().upper() for line in (shared / "deepromoter-tata" / "hs_pos_TATA.txt").read_text().split()]
    for path in sorted((shared / "gue" / "prom").rglob("*.csv")):
        out += [s for s, _ in read_csv(path, "sequence", "label")]
    for line in (shared / "encode690-tfbs" / "wgEncodeAwgTfbsBroadGm12878CtcfUniPk" / "test.data").read_text().split():
        if len(line) > 50 and not line.startswith(">"):
            out.append(line.upper())
    return out


def with_edges(sequences: list[str], edge: int = EDGE) -> list[str]:
    """``sequences`` and the first and last ``edge`` bases of each one longer than ``edge``: a genome window avoiding
    them all shares no edge of one, so it cannot overlap a sequence's place in part where the sequence differs from
    the genome text inside it (an hg38 promoter against hg19 text: its exact copy is not found there)."""
    return sequences + [part for s in sequences if len(s) > edge for part in (s[:edge], s[-edge:])]


def prepare_all(shared: Path, out: Path) -> None:
    """Every task's splits and held-out sets, from ``shared`` into ``out``."""
    train_text, test_text = genome_text(shared, TRAIN_TEXT), genome_text(shared, TEST_TEXT)
    exclude = all_task_sequences(shared)
    promoter(shared, out, train_text, test_text, with_edges(exclude))
    ctcf(shared, out, train_text, test_text, exclude)
    splice(shared, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--shared", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "data")
    args = parser.parse_args()
    prepare_all(args.shared, args.out)


if __name__ == "__main__":
    main()
